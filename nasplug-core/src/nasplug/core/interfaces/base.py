"""Common base of every part: a nested ``Config`` and a one-line doc for ``nasplug plugins``."""

from __future__ import annotations

from typing import Any, ClassVar

from nasplug.core.options import NoOptions


class Part:
    """Base of all parts. Subclasses override ``Config`` with a frozen ``attrs`` class."""

    #: The ``attrs`` class holding this part's options (validated, with paper defaults).
    Config: ClassVar[type] = NoOptions
    #: The entry-point group this kind of part is registered in, e.g. ``"nasplug.samplers"``.
    group: ClassVar[str] = ""
    #: Capabilities the part needs from its search space (protocols of
    #: :mod:`nasplug.core.interfaces.capabilities`, e.g. ``(Buildable,)`` for a proxy that builds
    #: networks); checked when the part is built, and used to skip incompatible combinations.
    requires: ClassVar[tuple[type, ...]] = ()

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    def check_space(self, space: Any) -> None:
        """Fail with a one-line error if ``space`` lacks a capability in :attr:`requires`."""
        from nasplug.core.interfaces.capabilities import require
        from nasplug.core.registry import GROUPS

        kind = next((k for k, group in GROUPS.items() if group == self.group), "part")
        for capability in self.requires:
            require(space, capability, f"{kind} {type(self).__name__}")

    @classmethod
    def supports(cls, space: Any) -> bool:
        """Whether ``space`` offers every capability in :attr:`requires`."""
        return all(isinstance(space, capability) for capability in cls.requires)

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
