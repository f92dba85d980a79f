"""BANANAS, successive halving and Hyperband on NAS-Bench-201, next to the strategies of
``bench/search.py`` (same protocol: reward = 12-epoch validation accuracy, reported = 200-epoch
test accuracy of the returned architecture, mean +- std over seeds, 100 and 200 queries).

Multi-fidelity cost model (the NB201 table records no training times): a ladder of two
fidelities, the network's parameter count (the table's ``params_<dataset>_m`` column, i.e. the
``params`` zero-cost proxy; cost 0) and the 12-epoch validation accuracy (cost 1 = one query).
The budget is ``search.seconds`` = the number of 12-epoch queries (100 or 200); parameter counts
are free, as a zero-cost proxy's seconds are nothing next to a 12-epoch training run. Successive
halving starts brackets of 27 architectures at the parameter count and trains the best 9;
Hyperband (eta 3) alternates its two brackets (3 -> 1 and 2 at the top).

BANANAS runs with the paper's defaults (ensemble of 5 MLPs on the path encoding, ITS, 10 per
iteration), 10 seeds (about 5 minutes per 200-query run on one core); a run of 200 queries is also the 100-query run (its proposals do not depend on the
budget), so the 100-query figure is the incumbent after 100 queries.

    .venv/bin/python bench/multifidelity.py [--seeds 20] [--bananas-seeds 10] [--datasets cifar10 cifar100 imagenet16]
        [--only bananas,successive_halving,hyperband] [--report]

Finished runs go to ``bench/work/multifidelity.jsonl``; a restarted bench skips them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import RESULTS, ROOT, benchmarks_dir, write_results
from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.core.store import Store

DATASETS = {"cifar10": ("cifar10_val_12ep", "cifar10_test", "params_cifar10_m"),
            "cifar100": ("cifar100_val_12ep", "cifar100_test", "params_cifar100_m"),
            "imagenet16": ("imagenet16_val_12ep", "imagenet16_test", "params_imagenet16_m")}
BUDGETS = (100, 200)
STRATEGIES: dict[str, dict[str, Any]] = {
    "bananas": {"name": "bananas"},
    "successive_halving": {"name": "successive_halving", "n": 27, "eta": 3},
    "hyperband": {"name": "hyperband", "eta": 3},
}
MULTI_FIDELITY = {"successive_halving", "hyperband"}
#: Published NB201 CIFAR-10 / CIFAR-100 / ImageNet16-120 test accuracy, where a paper gives one.
PAPER = {
    "bananas": "BANANAS (White et al., AAAI 2021) reports NAS-Bench-101 (5.923 % test error after 150 queries, "
               "its Table 1); no NB201 figure could be checked from here, so none is quoted",
    "hyperband": "closest published NB201 row: BOHB (Hyperband with a TPE model), 12,000 s budget, DARE Table 4 / "
                 "NAS-Bench-201 Table 5: 93.61 +- 0.52 / 70.85 +- 1.28 / 44.42 +- 1.49",
}
WORK = ROOT / "bench" / "work"
CHECKPOINT = WORK / "multifidelity.jsonl"


def _done() -> dict[str, dict[str, Any]]:
    if not CHECKPOINT.exists():
        return {}
    rows = [json.loads(line) for line in CHECKPOINT.read_text().splitlines() if line.strip()]
    return {row["key"]: row for row in rows}


def config(name: str, dataset: str, budget: int, seed: int, db: Path) -> dict[str, Any]:
    reward, test, params = DATASETS[dataset]
    cfg: dict[str, Any] = {"kind": "search", "seed": seed, "space": "nb201", "strategy": dict(STRATEGIES[name]),
                           "store": {"path": str(db)}}
    if name in MULTI_FIDELITY:
        cfg["objective"] = {"name": "multi_fidelity", "costs": [0.0, 1.0],
                            "fidelities": [{"name": "benchmark", "metric": params}, {"name": "benchmark", "metric": reward}]}
        cfg["search"] = {"queries": 100 * budget, "seconds": float(budget), "report": [test], "max_proposals": 100 * budget}
    else:
        cfg["objective"] = {"name": "benchmark", "metric": reward}
        cfg["search"] = {"queries": budget, "report": [test], "max_proposals": 5 * budget}
    return cfg


def one_run(name: str, dataset: str, budget: int, seed: int, tmp: Path) -> dict[str, Any]:
    db = tmp / f"{dataset}-{name}-{budget}-{seed}.db"
    started = time.perf_counter()
    result = run(config(name, dataset, budget, seed, db))
    with Store(db) as store:
        evals = [(e.arch, e.fitness) for e in store.evaluations(result.id)
                 if not e.info.get("repeat") and e.info.get("fidelity", 1) == 1]
    return {"key": f"{dataset}-{name}-{budget}-{seed}", "dataset": dataset, "strategy": name, "budget": budget,
            "seed": seed, "final": result.result["report"][DATASETS[dataset][1]], "evals": evals,
            "fidelity_queries": result.result.get("fidelity_queries"), "seconds": time.perf_counter() - started}


def collect(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    WORK.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(STRATEGIES)
    # the cheap strategies first, then BANANAS seed by seed across the datasets, so that an
    # interrupted bench has every dataset at the same number of seeds
    jobs = [(d, n, b, s) for d in args.datasets for n in names if n != "bananas" for b in BUDGETS for s in range(args.seeds)]
    if "bananas" in names:  # its proposals do not depend on the budget: only its longest run is made
        jobs += [(d, "bananas", max(BUDGETS), s) for s in range(args.bananas_seeds) for d in args.datasets]
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, name, budget, seed in jobs:
            key = f"{dataset}-{name}-{budget}-{seed}"
            if key in _done():
                continue
            row = one_run(name, dataset, budget, seed, Path(tmp))
            with CHECKPOINT.open("a") as fh:
                fh.write(json.dumps(row, default=float) + "\n")
            print(key, round(row["final"], 2), f"{row['seconds']:.0f}s", flush=True)


def report() -> None:
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    keys = [space.canonical(a) for a in bench.architectures()]
    tables = {t: dict(zip(keys, bench.query_many(bench.architectures(), t))) for _, t, _ in DATASETS.values()}
    done = _done()
    rows: dict[tuple[str, str, int], tuple[float, float, int]] = {}
    seconds: dict[str, float] = {}
    for name in STRATEGIES:
        for dataset, (_, test, _) in DATASETS.items():
            for budget in BUDGETS:
                if name == "bananas":
                    runs = [r for r in done.values() if r["strategy"] == name and r["dataset"] == dataset
                            and r["budget"] == max(BUDGETS)]
                    finals = [_incumbent(r["evals"][:budget], tables[test]) for r in runs]
                else:
                    runs = [r for r in done.values() if r["strategy"] == name and r["dataset"] == dataset and r["budget"] == budget]
                    finals = [r["final"] for r in runs]
                if finals:
                    rows[(name, dataset, budget)] = (float(np.mean(finals)), float(np.std(finals)), len(finals))
                    seconds[f"{dataset}/{name}/{budget}"] = float(np.mean([r["seconds"] for r in runs]))
    existing = json.loads((RESULTS / "search.json").read_text()) if (RESULTS / "search.json").exists() else {}
    lines = ["# BANANAS, successive halving and Hyperband on NAS-Bench-201", "",
             "Reward: 12-epoch validation accuracy; reported: 200-epoch test accuracy (%) of the returned architecture, "
             "mean +- std over seeds (n). Multi-fidelity strategies: parameter count (free) then the 12-epoch reward "
             "(one query each), budget = that many 12-epoch queries. Rows marked `search.py` are the committed "
             "`bench/results/search.md` runs (20 seeds).", "",
             "| strategy | queries | CIFAR-10 | CIFAR-100 | ImageNet16-120 | n |", "|---|---|---|---|---|---|"]
    for name in STRATEGIES:
        for budget in BUDGETS:
            cells = []
            n = 0
            for dataset in DATASETS:
                if (name, dataset, budget) in rows:
                    m, s, n = rows[(name, dataset, budget)]
                    cells.append(f"{m:.2f} +- {s:.2f}")
                else:
                    cells.append("-")
            lines.append(f"| {name} | {budget} | {' | '.join(cells)} | {n} |")
    for name in ("dsm_nas", "rea", "local_search", "random"):
        for budget in BUDGETS:
            cells = []
            for dataset in DATASETS:
                row = next((r for r in existing.get("results", []) if (r["dataset"], r["strategy"], r["queries"])
                            == (dataset, name, budget)), None)
                cells.append(f"{row['mean']:.2f} +- {row['std']:.2f}" if row else "-")
            lines.append(f"| {name} (search.py) | {budget} | {' | '.join(cells)} | 20 |")
    lines += ["", "Published figures:", ""] + [f"- {k}: {v}" for k, v in PAPER.items()]
    lines += ["", "Mean wall seconds per run: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(seconds.items()))]
    payload = {"rows": {f"{d}/{n}/{b}": {"mean": m, "std": s, "n": k} for (n, d, b), (m, s, k) in rows.items()},
               "seconds": seconds, "paper": PAPER, "strategies": STRATEGIES}
    write_results("multifidelity", payload, "\n".join(lines) + "\n")
    print("\n".join(lines))


def _incumbent(evals: list, table: dict[str, float]) -> float:
    best = max(evals, key=lambda e: e[1])
    return float(table[best[0]])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--bananas-seeds", type=int, default=10, help="seeds for BANANAS (5 MLP fits per iteration are slow on a CPU)")
    parser.add_argument("--only", help="comma-separated strategies to run")
    parser.add_argument("--report", action="store_true", help="only write the report from the finished runs")
    args = parser.parse_args()
    benchmarks_dir()
    if not args.report:
        collect(args)
    report()


if __name__ == "__main__":
    main()
