"""Helpers shared by the bench scripts: locating data, writing JSON + Markdown results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def benchmarks_dir() -> Path:
    """``$NASPLUG_BENCHMARKS`` or ``../shared/benchmarks``; exported so loaders find it."""
    root = os.environ.get("NASPLUG_BENCHMARKS") or str(ROOT.parent / "shared" / "benchmarks")
    if not Path(root).is_dir():
        raise SystemExit(f"benchmark data not found at {root}; set NASPLUG_BENCHMARKS")
    os.environ["NASPLUG_BENCHMARKS"] = root
    return Path(root)


def machine() -> dict[str, Any]:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}


def write_results(name: str, payload: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    print(markdown)


def merge_summary(path: Path, section: str, key: str, value: Any, setting: dict[str, Any]) -> dict[str, Any]:
    """Merge one result into a bench's summary JSON on disk (several bench processes may write
    it) and return the whole summary."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current.setdefault(section, {})[key] = value
    current["setting"] = setting
    path.write_text(json.dumps(current, indent=1, default=float))
    return current
