"""Random search and regularized evolution on NAS-Bench-201 (DARE Table 3 / NAS-Bench-201 rows).

Protocol: the reward is the 12-epoch validation accuracy (``<dataset>_val_12ep``), as in
NAS-Bench-201's own RS/REA baselines; we report the 200-epoch test accuracy of the returned
architecture (mean +- std over seeds), at budgets of 100 and 200 queries. NAS-Bench-201 budgets
by simulated training time (12,000 s) instead; our table has no training-time column, so queries
stand in (about 100-150 queries fit in that time). Writes bench/results/search_baselines.{json,md,png}.

    .venv/bin/python bench/search_baselines.py [--seeds 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import RESULTS, benchmarks_dir, write_results
from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.core.store import Store

DATASETS = {"cifar10": ("cifar10_val_12ep", "cifar10_test"), "cifar100": ("cifar100_val_12ep", "cifar100_test"),
            "imagenet16": ("imagenet16_val_12ep", "imagenet16_test")}
#: DARE (seed 000) Table 3, test accuracy, from NAS-Bench-201's protocol.
PAPER = {"random": {"cifar10": "93.70 +- 0.36", "cifar100": "71.04 +- 1.07", "imagenet16": "44.57 +- 1.25"},
         "rea": {"cifar10": "93.92 +- 0.30", "cifar100": "71.84 +- 0.99", "imagenet16": "45.54 +- 1.03"}}
STRATEGIES = {"random": {"name": "random"}, "rea": {"name": "rea", "population_size": 10, "sample_size": 3}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 200])
    args = parser.parse_args()
    benchmarks_dir()
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    tables = {m: dict(zip([space.canonical(a) for a in bench.architectures()], bench.query_many(bench.architectures(), m)))
              for _, m in DATASETS.values()}
    optimum = {d: max(tables[t].values()) for d, (_, t) in DATASETS.items()}
    rows, curves = {}, {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, (reward, test) in DATASETS.items():
            for strategy, spec in STRATEGIES.items():
                for budget in args.budgets:
                    finals, incumbents = [], []
                    for seed in range(args.seeds):
                        db = Path(tmp) / f"{dataset}-{strategy}-{budget}.db"
                        result = run({"kind": "search", "seed": seed, "space": "nb201", "strategy": spec,
                                      "objective": {"name": "benchmark", "metric": reward},
                                      "search": {"queries": budget, "report": [test]}, "store": {"path": str(db)}})
                        finals.append(result.result["report"][test])
                        if budget == max(args.budgets):
                            with Store(db) as store:
                                evals = [e for e in store.evaluations(result.id) if not e.info.get("repeat")]
                            best, curve = None, []
                            for e in evals:
                                if best is None or e.fitness > best.fitness:
                                    best = e
                                curve.append(tables[test][best.arch])
                            incumbents.append(curve)
                    rows[(dataset, strategy, budget)] = (float(np.mean(finals)), float(np.std(finals)))
                    if incumbents:
                        curves[(dataset, strategy)] = np.mean(np.array(incumbents), axis=0)
    seconds = time.perf_counter() - started

    lines = [f"# Random search and REA on NAS-Bench-201 ({args.seeds} seeds)", "",
             "Reward: 12-epoch validation accuracy; reported: 200-epoch test accuracy (%) of the returned architecture,",
             "mean +- std over seeds. Paper: DARE Table 3 (NAS-Bench-201 protocol, 12,000 s simulated budget).", "",
             "| strategy | queries | CIFAR-10 | CIFAR-100 | ImageNet16-120 |", "|---|---|---|---|---|"]
    for strategy in STRATEGIES:
        for budget in args.budgets:
            cells = [f"{rows[(d, strategy, budget)][0]:.2f} +- {rows[(d, strategy, budget)][1]:.2f}" for d in DATASETS]
            lines.append(f"| {strategy} | {budget} | " + " | ".join(cells) + " |")
        lines.append(f"| {strategy} (paper) | 12,000 s | " + " | ".join(PAPER[strategy][d] for d in DATASETS) + " |")
    lines += ["", "| optimum of the space | | " + " | ".join(f"{optimum[d]:.2f}" for d in DATASETS) + " |", "",
              f"{len(DATASETS) * len(STRATEGIES) * len(args.budgets) * args.seeds} runs through the runner and SQLite store in {seconds:.1f} s."]
    write_results("search_baselines", {
        "seeds": args.seeds, "budgets": args.budgets, "seconds": seconds, "optimum": optimum,
        "results": [{"dataset": d, "strategy": s, "queries": b, "mean": m, "std": sd} for (d, s, b), (m, sd) in rows.items()],
        "paper": PAPER}, "\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, dataset in zip(axes, DATASETS):
        for strategy in STRATEGIES:
            curve = curves[(dataset, strategy)]
            ax.plot(np.arange(1, len(curve) + 1), curve, label=strategy)
        ax.axhline(optimum[dataset], color="grey", ls="--", lw=0.8, label="optimum")
        ax.set_title(f"NB201 {dataset}")
        ax.set_xlabel("queries")
        ax.set_ylabel("test acc. of incumbent (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "search_baselines.png", dpi=110)


if __name__ == "__main__":
    main()
