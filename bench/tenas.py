"""TE-NAS on NAS-Bench-201: the architecture its training-free pruning returns, its true
CIFAR-10 / CIFAR-100 / ImageNet16-120 test accuracy, and the CPU search time, over seeds, next to
the paper's Table (NB201: 93.9 +- 0.47, 71.24 +- 0.56, 42.38 +- 0.46; 0.5 GPU-hours on a 1080Ti
per dataset search).

The search reads CIFAR-10 training images (``images/cifar10_jpeg.zip``) for every dataset column:
there is no CIFAR-100 or ImageNet16-120 training set here, and the paper searched on each
dataset's own images. Settings:

- ``cpu`` (default): the reference's NB201 settings except the NTK batch, 16 images instead of
  72; with BatchNorm in training mode each of the batch's per-image gradients is a backward pass
  through the whole batch, so the NTK costs grow with the square of the batch (72 images: about
  40 s per condition number on one core of this machine, some 7 hours per search).
- ``paper``: batch 72, as the reference code (resumable per seed, for a machine with the time).

    .venv/bin/python bench/tenas.py [--setting cpu] [--seeds 5]

Finished seeds go to ``bench/work/tenas-<setting>.jsonl``; a restarted bench skips them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import ROOT, benchmarks_dir, machine, seeds_with_checkpoint, write_results
from nasplug.core.registry import registry
from nasplug.core.runs import run

SETTINGS = {"cpu": {"batch_size": 16}, "paper": {"batch_size": 72}}
REPORT = ["cifar10_test", "cifar100_test", "imagenet16_test"]
PAPER = {"cifar10_test": "93.9 +- 0.47", "cifar100_test": "71.24 +- 0.56", "imagenet16_test": "42.38 +- 0.46"}
WORK = ROOT / "bench" / "work"


def one_seed(setting: str, seed: int, tmp: Path) -> dict[str, Any]:
    images = benchmarks_dir() / "images" / "cifar10_jpeg.zip"
    started = time.perf_counter()
    result = run({"kind": "search", "seed": seed, "space": "nb201",
                  "strategy": {"name": "te_nas", "data": {"path": str(images)}, **SETTINGS[setting]},
                  "objective": {"name": "benchmark", "metric": "cifar10_val_12ep"},
                  "search": {"queries": 1, "report": REPORT}, "store": {"path": str(tmp / f"tenas-{seed}.db")}})
    report = result.result["report"]
    return {"seed": seed, "arch": result.result["best_arch"], "seconds": time.perf_counter() - started,
            **{m: report[m] for m in REPORT}, "optimum": {m: report[f"{m}_optimum"] for m in REPORT},
            "pruning": result.result["strategy"]["pruning"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", choices=list(SETTINGS), default="cpu")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--report", action="store_true", help="only write the report from the finished seeds")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    benchmarks_dir()
    rows = seeds_with_checkpoint(WORK / f"tenas-{args.setting}.jsonl", args.seeds, lambda seed, tmp: one_seed(args.setting, seed, tmp),
                                 run=not args.report, show=lambda r: f"{r['arch']} {[round(r[m], 2) for m in REPORT]} {r['seconds']:.0f}s")
    if not rows:
        return
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    column = {m: np.asarray(bench.query_many(bench.architectures(), m), dtype=float) for m in REPORT}
    summary = {m: (float(np.mean([r[m] for r in rows])), float(np.std([r[m] for r in rows]))) for m in REPORT}
    percentile = {m: float(np.mean([(column[m] <= r[m]).mean() * 100 for r in rows])) for m in REPORT}
    seconds = float(np.mean([r["seconds"] for r in rows]))
    optimum = rows[0]["optimum"]
    lines = [f"# TE-NAS on NAS-Bench-201 ({args.setting} setting, {len(rows)} seeds)", "",
             f"Settings: {SETTINGS[args.setting]} (else the reference's: 3 repeats, precision 3, one op per edge per "
             "round, NTK supernet 3 channels x 1 cell per stage, linear regions on a 1-channel single cell over "
             "3 x 1,000 crops of 3 x 3); images: CIFAR-10 training set (JPEG) for every column.", "",
             "| | CIFAR-10 test | CIFAR-100 test | ImageNet16-120 test | CPU search (s) |", "|---|---|---|---|---|",
             f"| TE-NAS (ours, mean +- std) | {' | '.join(f'{summary[m][0]:.2f} +- {summary[m][1]:.2f}' for m in REPORT)} "
             f"| {seconds:.0f} |",
             f"| TE-NAS (paper) | {' | '.join(PAPER[m] for m in REPORT)} | 0.5 GPU-h per dataset (1080Ti) |",
             f"| percentile of the space | {' | '.join(f'{percentile[m]:.1f}' for m in REPORT)} | |",
             f"| optimum of the space | {' | '.join(f'{optimum[m]:.2f}' for m in REPORT)} | |", "",
             "| seed | architecture | CIFAR-10 | CIFAR-100 | ImageNet16-120 | seconds |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | `{r['arch']}` | {' | '.join(f'{r[m]:.2f}' for m in REPORT)} | {r['seconds']:.0f} |"
              for r in rows]
    payload = {"setting": args.setting, "options": SETTINGS[args.setting], "seeds": rows, "summary": summary,
               "percentile": percentile, "mean_seconds": seconds, "paper": PAPER, "machine": machine()}
    write_results(f"tenas_{args.setting}" if args.setting != "cpu" else "tenas", payload, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
