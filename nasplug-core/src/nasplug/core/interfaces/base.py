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

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
