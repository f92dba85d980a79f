"""Helpers for strategies that work on a space's positional (string-like) form."""

from __future__ import annotations

from typing import Any, Sequence

from nasplug.core.errors import ArchitectureError, ConfigError


def position_choices(space: Any, strategy: str) -> tuple[int, ...]:
    """The space's choices per position, or a ``ConfigError`` naming the fix."""
    try:
        return tuple(int(c) for c in space.position_choices())
    except NotImplementedError:
        raise ConfigError(f"strategy '{strategy}' needs a space with a positional form (position_choices); "
                          f"'{type(space).__name__}' has none; use rea, random or local_search") from None


def try_build(space: Any, positions: Sequence[int]) -> Any | None:
    """The architecture at ``positions``, or ``None`` where the combination is not a member."""
    try:
        return space.from_positions(tuple(int(p) for p in positions))
    except ArchitectureError:
        return None
