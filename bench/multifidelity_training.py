"""Successive halving on real training: NAS-Bench-201 networks (full size) pre-filtered by a
zero-cost proxy, then trained from scratch on a CIFAR-10 subset for 1, 3 and 9 epochs.

One bracket of ``successive_halving`` (eta 3) over a ``multi_fidelity`` ladder: naswot on the
real network (81 random cells), then training for 1 epoch (the best 27 by naswot), 3 epochs
(best 9) and 9 epochs (best 3), on a class-balanced 2,500 + 1,000 split of CIFAR-10's training
images (``images/cifar10_jpeg.zip``), batch 64, SGD + cosine, crop + flip. Each evaluation is
charged its measured seconds. For every rung: the rank correlation of its values with the
table's 200-epoch ``cifar10_test`` over the architectures it evaluated; the returned
architecture and its true accuracy; the wall time.

    .venv/bin/python bench/multifidelity_training.py [--seed 0] [--n 81]

The run's store is ``bench/work/multifidelity-training-<seed>.db``: a killed bench resumes it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kendalltau, spearmanr

from _common import ROOT, benchmarks_dir, machine, write_results
from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.core.store import Store

WORK = ROOT / "bench" / "work"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=81, help="architectures scored by the proxy (27 are trained)")
    parser.add_argument("--split", type=int, nargs=2, default=[2500, 1000])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    root = benchmarks_dir()
    WORK.mkdir(parents=True, exist_ok=True)
    db = WORK / f"multifidelity-training-{args.seed}.db"
    rungs = []
    size = args.n
    for _ in range(4):
        rungs.append(size)
        size = max(1, size // 3)
    train = {"name": "train", "batch_size": 64, "lr": 0.05}
    config = {"kind": "search", "seed": args.seed, "space": "nb201",
              "strategy": {"name": "successive_halving", "n": args.n, "eta": 3},
              "objective": {"name": "multi_fidelity", "fidelities": [
                  {"name": "proxy", "proxy": "naswot"}, {**train, "epochs": 1}, {**train, "epochs": 3}, {**train, "epochs": 9}]},
              "data": {"path": str(root / "images" / "cifar10_jpeg.zip"), "split": list(args.split), "batch_size": 16},
              "search": {"queries": sum(rungs), "report": ["cifar10_test", "cifar100_test", "imagenet16_test"]},
              "store": {"path": str(db)}}
    started = time.perf_counter()
    result = run(config, resume=db.exists())
    wall = time.perf_counter() - started
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    with Store(db) as store:
        records = [e for e in store.evaluations(result.id) if not e.info.get("repeat")]
        stored_wall = sum(e.wall for e in records)
    rows = []
    for level, name in enumerate(["naswot", "train 1 epoch", "train 3 epochs", "train 9 epochs"]):
        at = [e for e in records if e.info.get("fidelity") == level]
        truth = [float(bench.query(space.parse(e.arch.split("@")[0]), "cifar10_test")) for e in at]
        values = [e.value for e in at]
        tau = kendalltau(values, truth).statistic if len(at) > 2 else float("nan")
        rho = spearmanr(values, truth).statistic if len(at) > 2 else float("nan")
        rows.append({"rung": name, "architectures": len(at), "kendall_tau": float(tau), "spearman": float(rho),
                     "seconds": float(sum(e.wall for e in at)), "best_true": float(max(truth)) if truth else float("nan"),
                     "values": [float(v) for v in values], "truth": truth})
    report = result.result["report"]
    column = np.asarray(bench.query_many(bench.architectures(), "cifar10_test"), dtype=float)
    lines = [f"# Successive halving on real training (seed {args.seed})", "",
             f"NB201 cells (full size), CIFAR-10 training images split {args.split[0]} train / {args.split[1]} validation "
             "(JPEG), eta 3: naswot on 81 random cells, then 1 / 3 / 9 epochs of training for the best 27 / 9 / 3. "
             "Correlations: each rung's values against the table's 200-epoch CIFAR-10 test accuracy of the cells it "
             "evaluated.", "",
             "| rung | cells | Kendall tau | Spearman | best true acc. among them | seconds |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['rung']} | {r['architectures']} | {r['kendall_tau']:.3f} | {r['spearman']:.3f} | {r['best_true']:.2f} "
              f"| {r['seconds']:.0f} |" for r in rows]
    lines += ["", f"Returned: `{result.result['best_arch']}` (best 9-epoch validation accuracy "
              f"{result.result['best_value']:.2f} %), true 200-epoch test accuracy: CIFAR-10 {report['cifar10_test']:.2f} "
              f"(percentile {(column <= report['cifar10_test']).mean() * 100:.1f}, optimum {report['cifar10_test_optimum']:.2f}), "
              f"CIFAR-100 {report['cifar100_test']:.2f}, ImageNet16-120 {report['imagenet16_test']:.2f}.",
              f"Evaluations per rung: {result.result['fidelity_queries']}; simulated (measured) seconds charged: "
              f"{result.result['simulated_seconds']:.0f}; wall time of all evaluations: {stored_wall:.0f} s "
              f"({stored_wall / 60:.1f} min; this invocation {wall:.0f} s)."]
    payload = {"seed": args.seed, "split": args.split, "rungs": rows, "result": result.result, "machine": machine(),
               "config": config}
    write_results("multifidelity_training", payload, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
