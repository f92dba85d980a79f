"""Helpers for strategies that work on a space's positional (string-like) form."""

from __future__ import annotations

from typing import Any, Sequence

from nasplug.core.errors import ArchitectureError


def position_choices(space: Any) -> tuple[int, ...]:
    """The space's choices per position as ints (the strategy's ``requires = (Positional,)``
    has already checked that the space has a positional form)."""
    return tuple(int(c) for c in space.position_choices())


def try_build(space: Any, positions: Sequence[int]) -> Any | None:
    """The architecture at ``positions``, or ``None`` where the combination is not a member."""
    try:
        return space.from_positions(tuple(int(p) for p in positions))
    except ArchitectureError:
        return None
