"""Where a ``oneshot`` run keeps its supernet checkpoint: next to its store."""

from __future__ import annotations

import os
from pathlib import Path


def checkpoint_path(store_path: str | os.PathLike, run_id: int) -> Path:
    """The checkpoint of run ``run_id`` of the store at ``store_path``."""
    store_path = Path(store_path)
    return store_path.parent / f"{store_path.stem}.run{run_id}.oneshot.pt"
