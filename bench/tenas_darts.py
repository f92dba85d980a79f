"""TE-NAS on the DARTS space: the genotype its training-free pruning returns, the size of that
genotype's CIFAR-10 evaluation network (36 channels, 20 cells: DARTS' protocol) and the CPU search
time, next to the paper (Chen et al., ICLR 2021, Table 4: 2.63 +- 0.064 % test error, 3.8 M
parameters, 0.05 GPU-days on a 1080Ti).

The error needs the 600-epoch evaluation training of DARTS' protocol, out of reach of this
machine; NAS-Bench-301's table holds only its sampled genotypes, so the found one has no label
here. What the bench checks is what can be checked: the pruning runs end to end through the
runner on CIFAR-10 images with the reference's DARTS settings, the genotype is valid, and its
size is in the range of the paper's (DARTS-V2, counted by the same code, is the yardstick: 3.3 M
in its paper).

Settings: ``cpu`` (default): 1 repeat per measurement instead of 3 (on one core each NTK
condition number of the 2-cell network on 14 images takes about 3 s, so the reference's 3 repeats
cost some 2.5 hours per search); ``paper``: the reference's settings (batch 14, 3 repeats, 3 ops
per edge per round, 3 x 1,000 crops).

    .venv/bin/python bench/tenas_darts.py [--setting cpu] [--seeds 1]

Finished seeds go to ``bench/work/tenas-darts-<setting>.jsonl``; a restarted bench skips them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import ROOT, benchmarks_dir, seeds_with_checkpoint, write_results
from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.spaces.darts.supernet import DartsSupernet

SETTINGS: dict[str, dict[str, Any]] = {"cpu": {"repeat": 1}, "paper": {}}
PAPER = {"error": "2.63 +- 0.064", "params_m": 3.8, "cost": "0.05 GPU-days (1080Ti)"}
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
WORK = ROOT / "bench" / "work"


def evaluation_params(space: Any, arch: Any) -> float:
    """Millions of parameters of the CIFAR-10 evaluation network (36 channels, 20 cells)."""
    net = space.to_module(space.parse(arch) if isinstance(arch, str) else arch, channels=36, layers=20)
    return sum(p.numel() for p in net.parameters()) / 1e6


def one_seed(setting: str, seed: int, tmp: Path) -> dict[str, Any]:
    images = benchmarks_dir() / "images" / "cifar10_jpeg.zip"
    started = time.perf_counter()
    result = run({"kind": "search", "seed": seed, "space": "darts",
                  "strategy": {"name": "te_nas", "data": {"path": str(images)}, **SETTINGS[setting]},
                  "objective": {"name": "proxy", "proxy": "params"},
                  "search": {"queries": 1}, "store": {"path": str(tmp / f"tenas-darts-{seed}.db")}})
    seconds = time.perf_counter() - started
    space = registry().create("space", "darts")
    arch = result.result["best_arch"]
    normal = [op for op, _ in space.parse(arch).normal]
    return {"seed": seed, "arch": arch, "seconds": seconds, "params_m": evaluation_params(space, arch),
            "parameter_free_normal": sum(op in DartsSupernet.PARAMETER_FREE for op in normal),
            "pruning": result.result["strategy"]["pruning"], "settings": result.result["strategy"]["settings"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", choices=list(SETTINGS), default="cpu")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="only write the report from the finished seeds")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    benchmarks_dir()
    rows = seeds_with_checkpoint(WORK / f"tenas-darts-{args.setting}.jsonl", args.seeds, lambda seed, tmp: one_seed(args.setting, seed, tmp),
                                 run=not args.report, show=lambda r: f"{r['arch']} {r['params_m']:.2f} M {r['seconds']:.0f}s")
    if not rows:
        return
    space = registry().create("space", "darts")
    yardstick = evaluation_params(space, DARTS_V2)
    settings = rows[0]["settings"]
    lines = [f"# TE-NAS on the DARTS space ({args.setting} setting, {len(rows)} seed{'s' if len(rows) > 1 else ''})", "",
             f"Settings: {settings}, repeat {SETTINGS[args.setting].get('repeat', 3)} (else the reference's); images: "
             "the CIFAR-10 training set (JPEG). Parameters: the genotype's CIFAR-10 evaluation network (36 channels, "
             f"20 cells, no auxiliary head), counted by `to_module`; DARTS-V2 by the same code: {yardstick:.2f} M "
             "(3.3 M in its paper).", "",
             "| | test error (%) | params (M) | parameter-free ops in the normal cell | search cost |", "|---|---|---|---|---|",
             f"| TE-NAS (paper) | {PAPER['error']} | {PAPER['params_m']} | | {PAPER['cost']} |"]
    lines += [f"| TE-NAS (ours, seed {r['seed']}) | not trained here | {r['params_m']:.2f} | {r['parameter_free_normal']} of 8 "
              f"| {r['seconds'] / 3600:.2f} CPU-hours (1 core) |" for r in rows]
    lines += ["", "| seed | genotype |", "|---|---|"] + [f"| {r['seed']} | `{r['arch']}` |" for r in rows]
    payload = {"setting": args.setting, "options": SETTINGS[args.setting], "seeds": rows, "paper": PAPER,
               "darts_v2_params_m": yardstick}
    write_results(f"tenas_darts_{args.setting}", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
