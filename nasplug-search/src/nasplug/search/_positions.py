"""Helpers for strategies that work on a space's positional (string-like) form."""

from __future__ import annotations

from typing import Any, Sequence

from nasplug.core.errors import ArchitectureError
from nasplug.core.interfaces.capabilities import Positional, require


def position_choices(space: Any, strategy: str) -> tuple[int, ...]:
    """The space's choices per position, or a ``ConfigError`` naming the fix."""
    return tuple(int(c) for c in require(space, Positional, f"strategy '{strategy}'").position_choices())


def try_build(space: Any, positions: Sequence[int]) -> Any | None:
    """The architecture at ``positions``, or ``None`` where the combination is not a member."""
    try:
        return space.from_positions(tuple(int(p) for p in positions))
    except ArchitectureError:
        return None
