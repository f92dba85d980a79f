"""NAS-Bench-201 space facts: parameter counts of our networks against the benchmark's columns for
every one of the 15,625 cells, and the speed of the space's operations on 2 CPU cores.

    .venv/bin/python bench/nb201_space.py

Writes bench/results/nb201_space.{json,md}.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from _common import benchmarks_dir, write_results
from nasplug.core.registry import registry

DATASETS = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    benchmarks_dir()
    torch.set_num_threads(1)
    space = registry().create("space", "nb201")
    from nasplug.spaces.nb201 import benchmark as bench_module

    bench_module.clear_cache()
    t0 = time.perf_counter()
    bench = space.load_benchmark()
    load_seconds = time.perf_counter() - t0
    archs = list(space.enumerate())
    table_ids = {space.canonical(a) for a in bench.architectures()}
    ids_match = table_ids == {space.canonical(a) for a in archs}

    # Every cell built for CIFAR-10; the other datasets differ only in the classifier (64 x classes + classes).
    matches = {d: 0 for d in DATASETS}
    worst = {d: 0.0 for d in DATASETS}
    t0 = time.perf_counter()
    for arch in archs:
        n10 = sum(p.numel() for p in space.to_module(arch, num_classes=10).parameters())
        for dataset, classes in DATASETS.items():
            ours = (n10 + 65 * (classes - 10)) / 1e6
            theirs = bench.query(arch, f"params_{dataset}_m")
            worst[dataset] = max(worst[dataset], abs(ours - theirs))
            matches[dataset] += abs(ours - theirs) < 5e-7
    build_all_seconds = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    direct = {d: 0 for d in DATASETS}
    sample = [space.sample(rng) for _ in range(200)]
    for dataset, classes in DATASETS.items():
        for arch in sample:
            n = sum(p.numel() for p in space.to_module(arch, num_classes=classes).parameters()) / 1e6
            direct[dataset] += abs(n - bench.query(arch, f"params_{dataset}_m")) < 5e-7

    rng = np.random.default_rng(1)
    a = space.sample(rng)
    x = torch.randn(20, 3, 32, 32)
    module = space.to_module(a).eval()
    with torch.no_grad():
        forward = timed(lambda: module(x), 20)
    speeds = {
        "sample (archs/s)": 1 / timed(lambda: space.sample(rng), 20000),
        "mutate (archs/s)": 1 / timed(lambda: space.mutate(a, rng), 20000),
        "neighbours (calls/s)": 1 / timed(lambda: space.neighbours(a), 5000),
        "canonical + parse (archs/s)": 1 / timed(lambda: space.parse(space.canonical(a)), 20000),
        "to_graph (archs/s)": 1 / timed(lambda: space.to_graph(a), 2000),
        "to_module build (ms)": 1000 * timed(lambda: space.to_module(a), 50),
        "forward, batch 20 at 32x32, 1 thread (ms)": 1000 * forward,
    }
    md = ["# NAS-Bench-201 space", "",
          f"Canonical ids equal the table's 15,625 `arch_str` values: **{ids_match}**; benchmark load (table + latency file): {load_seconds:.2f} s.", "",
          "| dataset | params equal to `params_<dataset>_m`, all 15,625 cells | built directly, 200 random cells | largest difference (M) |",
          "|---|---|---|---|"]
    md += [f"| {d} | {matches[d]} / {len(archs)} | {direct[d]} / 200 | {worst[d]:.1e} |" for d in DATASETS]
    md += ["", f"Building all 15,625 networks took {build_all_seconds:.0f} s.", "", "| operation | speed |", "|---|---|"]
    md += [f"| {k} | {v:,.1f} |" for k, v in speeds.items()]
    write_results("nb201_space", {"ids_match_table": ids_match, "load_seconds": load_seconds, "params_match_all": matches,
                                  "params_match_direct_200": direct, "max_abs_difference_m": worst,
                                  "build_all_seconds": build_all_seconds, "speeds": speeds}, "\n".join(md))


if __name__ == "__main__":
    main()
