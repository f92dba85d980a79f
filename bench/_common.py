"""Helpers shared by the bench scripts: locating data, writing JSON + Markdown results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

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


def results_name(bench: str, setting: str) -> str:
    """The stem of a training bench's result files: ``<bench>`` for its default ``cpu`` setting,
    ``<bench>_<setting>`` for the others."""
    return bench if setting == "cpu" else f"{bench}_{setting}"


def work_folder(name: str) -> Path:
    """``bench/work/<name>/``, created: a bench's checkpoints, stores and summary (not committed)."""
    path = ROOT / "bench" / "work" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_summary(path: Path, results_name: str) -> dict[str, Any]:
    """A bench's summary of finished work: its work-folder file, or, where the work folder is gone
    (a fresh checkout: ``bench/work`` is not committed), the sections of its committed results
    JSON, written back to ``path`` so that a resumed bench adds to what landed instead of
    reporting over it with only the runs it redid."""
    if not path.exists():
        committed = RESULTS / f"{results_name}.json"
        if committed.exists():
            data = json.loads(committed.read_text())
            data.pop("machine", None)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=1, default=float))
    return json.loads(path.read_text()) if path.exists() else {}


def merge_summary(path: Path, section: str, key: str, value: Any, setting: dict[str, Any]) -> dict[str, Any]:
    """Merge one result into a bench's summary JSON on disk (several bench processes may write
    it) and return the whole summary."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current.setdefault(section, {})[key] = value
    current["setting"] = setting
    path.write_text(json.dumps(current, indent=1, default=float))
    return current


#: The training images of the benches that train supernets (``--data``; default: CIFAR-10's
#: JPEG zip in the benchmark data).
_TRAINING_DATA: dict[str, Path] = {}


def data_path() -> Path:
    """The training images the supernet benches use."""
    return _TRAINING_DATA.get("path") or benchmarks_dir() / "images" / "cifar10_jpeg.zip"


def training_bench_parser(description: str, settings: dict[str, Any], methods: tuple[str, ...],
                          phases: tuple[str, ...]) -> argparse.ArgumentParser:
    """The command line the supernet benches share: ``--setting``, ``--phase``, ``--methods``,
    ``--device``, ``--data``, ``--threads`` (add others to the returned parser)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--setting", choices=sorted(settings), default="cpu")
    parser.add_argument("--phase", choices=("all", *phases), default="all")
    parser.add_argument("--methods", default=",".join(methods))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, help="training images (default: images/cifar10_jpeg.zip of the benchmark data)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one core per bench process)")
    return parser


def start_training_bench(args: argparse.Namespace) -> list[str]:
    """Apply the shared options (torch threads, benchmark data, training images); the methods."""
    import torch

    torch.set_num_threads(args.threads)
    benchmarks_dir()
    if args.data:
        _TRAINING_DATA["path"] = args.data.resolve()
    return [m for m in args.methods.split(",") if m]


def run_resumably(config: dict[str, Any]) -> tuple[int, float | None]:
    """Run ``config`` in its store, resuming the last unfinished run; (run id, seconds or None
    when it had finished before)."""
    from nasplug.core.runs import run
    from nasplug.core.store import Store

    store = Path(config["store"]["path"])
    resume = False
    if store.exists():
        with Store(store) as s:
            last = s.latest_run()
            if last is not None and last.status == "finished":
                return last.id, None
            resume = last is not None
    started = time.perf_counter()
    result = run(config, resume=resume)
    return result.id, time.perf_counter() - started


def seeds_with_checkpoint(checkpoint: Path, seeds: int, one_seed: Callable[[int, Path], dict[str, Any]],
                          run: bool = True, show: Callable[[dict[str, Any]], str] = str) -> list[dict[str, Any]]:
    """Every finished row (each with a ``seed``), by seed: the ones in ``checkpoint`` (JSON lines)
    read back; when ``run``, seeds ``0..seeds-1`` not there yet computed by ``one_seed(seed, tmp)``
    and appended as each finishes, so a restarted bench skips them (``show`` prints a line each)."""
    import tempfile

    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    done = {r["seed"]: r for r in map(json.loads, checkpoint.read_text().splitlines())} if checkpoint.exists() else {}
    if run:
        with tempfile.TemporaryDirectory() as tmp:
            for seed in range(seeds):
                if seed in done:
                    continue
                row = one_seed(seed, Path(tmp))
                done[seed] = row
                with checkpoint.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(seed, show(row), flush=True)
    return [done[s] for s in sorted(done)]
