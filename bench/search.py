"""Search strategies on NAS-Bench-201 (DSM-NAS Table / DARE Table 4 protocol), other spaces,
DSM-NAS ablations, an accuracy-latency Pareto front and the controller's speed.

Protocol: the reward is the 12-epoch validation accuracy (``<dataset>_val_12ep``), as in
NAS-Bench-201's own baselines and DSM-NAS's code; we report the 200-epoch test accuracy of the
returned architecture (the best by reward), mean +- std over seeds, at budgets of 100 and 200
queries. Every query counts, DSM-NAS's K initial centres included; repeated proposals are free but
capped at 5 x the budget per run (a policy that keeps re-proposing known architectures stops). DSM-NAS+ starts its centres
from the final centres of a DSM-NAS run on CIFAR-10 with the same seed (the source run is not
charged), as the paper transfers subspaces across datasets.

    .venv/bin/python bench/search.py [--seeds 20] [--budgets 100 200] [--guided-seeds 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import RESULTS, benchmarks_dir, write_results
from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.core.store import Store

DATASETS = {"cifar10": ("cifar10_val_12ep", "cifar10_test"), "cifar100": ("cifar100_val_12ep", "cifar100_test"),
            "imagenet16": ("imagenet16_val_12ep", "imagenet16_test")}
#: Test accuracy (%) in the papers: DSM-NAS (seed 004 / its README) and DARE Table 4.
PAPER = {
    "dsm_nas": {"cifar10": "94.23 +- 0.22", "cifar100": "72.76 +- 0.80", "imagenet16": "46.13 +- 0.67"},
    "dsm_nas_plus": {"cifar10": "-", "cifar100": "73.12 +- 0.61", "imagenet16": "46.66 +- 0.52"},
    "reinforce": {"cifar10": "93.85 +- 0.37", "cifar100": "71.71 +- 1.09", "imagenet16": "45.24 +- 1.18"},
    "rea": {"cifar10": "93.92 +- 0.30", "cifar100": "71.84 +- 0.99", "imagenet16": "45.54 +- 1.03"},
    "random": {"cifar10": "93.70 +- 0.36", "cifar100": "71.04 +- 1.07", "imagenet16": "44.57 +- 1.25"},
    "local_search": {"cifar10": "-", "cifar100": "-", "imagenet16": "-"},
    "predictor_guided": {"cifar10": "94.06 (DARE)", "cifar100": "72.53 (DARE)", "imagenet16": "46.47 (DARE)"},
}
STRATEGIES: dict[str, dict[str, Any]] = {
    "dsm_nas": {"name": "dsm_nas"},
    "dsm_nas_plus": {"name": "dsm_nas"},
    "reinforce": {"name": "reinforce"},
    "rea": {"name": "rea", "population_size": 10, "sample_size": 3},
    "random": {"name": "random"},
    "local_search": {"name": "local_search"},
}
#: Parts besides the NB201 strategy table that ``--only`` can name.
PARTS = ("ablation", "pareto", "other_spaces")
ABLATIONS = {
    "DSM-NAS (paper preset)": {},
    "code preset (K=3, lr 9.4e-3, entropy 5.05e-4)": {"preset": "code"},
    "w/o subspace update": {"update_subspaces": False},
    "w/o subspace graph": {"use_graph": False},
    "w/o edge features": {"use_edges": False},
    "absolute reward": {"reward": "absolute"},
    "greedy subspace": {"greedy_subspace": True},
    "emulated in-place bug": {"inplace_drift": True},
}


#: JSON-lines file of finished runs (``--checkpoint``), keyed by the run's store name: a restarted
#: bench, or a second process sharing the file, skips them.
CHECKPOINT: Path | None = None
_DONE: dict[str, dict[str, Any]] = {}
#: Keys of the runs this invocation used (computed or read from the checkpoint).
_USED: set[str] = set()


#: Bytes of ``CHECKPOINT`` already read: later loads parse only what was appended since.
_READ = 0


def _load_checkpoint() -> None:
    global _READ
    if CHECKPOINT and CHECKPOINT.exists():
        with CHECKPOINT.open("rb") as fh:
            fh.seek(_READ)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line another process is still writing waits
        _READ += len(complete)
        for line in complete.decode().splitlines():
            if line.strip():
                row = json.loads(line)
                _DONE[row["key"]] = row


def search(space_name: str, spec: dict, reward: str, test: str, budget: int, seed: int, db: Path,
           extra_objective: dict | None = None) -> dict[str, Any]:
    key = db.name
    _USED.add(key)
    if key not in _DONE:
        _load_checkpoint()  # another process may have finished it meanwhile
    if key in _DONE:
        return _DONE[key]
    t0 = time.perf_counter()
    out = _search(space_name, spec, reward, test, budget, seed, db, extra_objective)
    row = {"key": key, "final": out["final"], "seconds": time.perf_counter() - t0, "evals": [[e.arch, e.fitness] for e in out["evals"]],
           "result": {"strategy": out["result"].get("strategy", {})}}
    _DONE[key] = row
    if CHECKPOINT:
        with CHECKPOINT.open("a") as fh:
            fh.write(json.dumps(row, default=float) + "\n")
    return row


def _search(space_name: str, spec: dict, reward: str, test: str, budget: int, seed: int, db: Path,
            extra_objective: dict | None = None) -> dict[str, Any]:
    result = run({"kind": "search", "seed": seed, "space": space_name, "strategy": spec,
                  "objective": {"name": "benchmark", "metric": reward, **(extra_objective or {})},
                  "search": {"queries": budget, "report": [test], "max_proposals": 5 * budget}, "store": {"path": str(db)}})
    with Store(db) as store:
        evals = [e for e in store.evaluations(result.id) if not e.info.get("repeat")]
    return {"final": result.result["report"][test], "evals": evals, "result": result.result}


def incumbent_curve(evals: list, table: dict[str, float]) -> list[float]:
    """Test accuracy of the best-by-reward architecture after each query; ``evals`` are
    (arch, fitness) pairs."""
    best, curve = None, []
    for arch, fitness in evals:
        if best is None or fitness > best[1]:
            best = (arch, fitness)
        curve.append(table[best[0]])
    return curve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--guided-seeds", type=int, default=5, help="seeds for predictor-guided search (GCN training is slow)")
    parser.add_argument("--guided-sampler", default="dare")
    parser.add_argument("--guided-predictor", default="dare_gcn")
    parser.add_argument("--guided-epochs", type=int, default=300)
    parser.add_argument("--guided-max-pseudo", type=int, default=100,
                        help="cap on DARE's pseudo-labelled set in predictor-guided search (paper: none; 0 = none)")
    parser.add_argument("--ablation-seeds", type=int, default=20)
    parser.add_argument("--skip-guided", action="store_true")
    parser.add_argument("--other-seeds", type=int, default=20, help="seeds on TransNAS micro and NAS-Bench-Macro (0 skips)")
    parser.add_argument("--checkpoint", type=Path, help="JSON-lines file of finished runs, reused when the bench restarts "
                        "(several processes may share it, e.g. one with --only predictor_guided)")
    parser.add_argument("--only", help="comma-separated strategies and/or parts (ablation, pareto, other_spaces): "
                        "run only these and write no report "
                        "(to fill a shared --checkpoint in parallel)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # OpenMP threads only spin on a shared 2-core machine
    global CHECKPOINT
    CHECKPOINT = args.checkpoint
    _load_checkpoint()
    benchmarks_dir()
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    keys = [space.canonical(a) for a in bench.architectures()]
    tables = {m: dict(zip(keys, bench.query_many(bench.architectures(), m))) for _, m in DATASETS.values()}
    optimum = {d: max(tables[t].values()) for d, (_, t) in DATASETS.items()}
    strategies = dict(STRATEGIES)
    if not args.skip_guided:
        predictor: dict[str, Any] = {"name": args.guided_predictor}
        if args.guided_predictor in ("gcn", "dare_gcn", "mlp"):
            predictor["epochs"] = args.guided_epochs
            predictor["backend"] = "dense"  # same arithmetic as the torch_geometric backend, faster on CPU
        sampler: Any = args.guided_sampler
        if args.guided_sampler == "dare" and args.guided_max_pseudo:
            sampler = {"name": "dare", "max_pseudo_labels": args.guided_max_pseudo}
        strategies["predictor_guided"] = {"name": "predictor_guided", "sampler": sampler, "predictor": predictor}
    only = set(args.only.split(",")) if args.only else None
    if only and not only <= set(strategies) | set(PARTS):
        parser.error(f"--only: unknown names {sorted(only - set(strategies) - set(PARTS))}; "
                     f"choose from {sorted(strategies)} or the parts {list(PARTS)}")
    rows: dict[tuple, tuple[float, float, int]] = {}
    curves: dict[tuple, np.ndarray] = {}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        centres: dict[tuple[int, int], list[str]] = {}
        for dataset, (reward, test) in DATASETS.items():
            for name, spec in strategies.items():
                if only and name not in only and not (name == "dsm_nas" and "dsm_nas_plus" in only):
                    continue
                seeds = args.guided_seeds if name == "predictor_guided" else args.seeds
                for budget in args.budgets:
                    finals, incumbents, spent = [], [], []
                    for seed in range(seeds):
                        db = Path(tmp) / f"{dataset}-{name}-{budget}-{seed}.db"
                        s = dict(spec)
                        if name == "dsm_nas_plus":
                            if dataset == "cifar10":
                                continue
                            s["initial_centres"] = centres[(seed, budget)]
                        if name == "predictor_guided" and budget != max(args.budgets):
                            # Its proposals do not depend on the budget: the longest run's first
                            # ``budget`` queries are this run (the incumbent's test accuracy then).
                            longest = search("nb201", s, reward, test, max(args.budgets), seed,
                                             Path(tmp) / f"{dataset}-{name}-{max(args.budgets)}-{seed}.db")
                            finals.append(incumbent_curve(longest["evals"][:budget], tables[test])[-1])
                            continue
                        out = search("nb201", s, reward, test, budget, seed, db)
                        spent.append(out.get("seconds", np.nan))
                        if name == "dsm_nas" and dataset == "cifar10":
                            centres[(seed, budget)] = [c["arch"] for c in out["result"]["strategy"]["centres"]]
                        finals.append(out["final"])
                        if budget == max(args.budgets):
                            incumbents.append(incumbent_curve(out["evals"], tables[test]))
                    if finals:
                        rows[(dataset, name, budget)] = (float(np.mean(finals)), float(np.std(finals)), len(finals))
                        if spent:
                            timings[f"{dataset}/{name}/{budget}"] = float(np.nanmean(spent))
                    if incumbents:
                        curves[(dataset, name)] = np.mean(np.array(incumbents), axis=0)
                    print(dataset, name, budget, rows.get((dataset, name, budget)), flush=True)
        ablation: dict[tuple[str, str], tuple[float, float]] = {}
        for dataset in ("cifar10", "cifar100", "imagenet16") if not only or "ablation" in only else ():
            reward, test = DATASETS[dataset]
            for label, options in ABLATIONS.items():
                finals = [search("nb201", {"name": "dsm_nas", **options}, reward, test, 100, seed,
                                 Path(tmp) / f"abl-{dataset}-{len(ablation)}-{seed}.db")["final"]
                          for seed in range(args.ablation_seeds)]
                ablation[(dataset, label)] = (float(np.mean(finals)), float(np.std(finals)))

        pareto = pareto_front(space, bench, Path(tmp)) if not only or "pareto" in only else {}
        others = other_spaces(args.other_seeds, Path(tmp)) if args.other_seeds and (not only or "other_spaces" in only) else {}
        if only:
            return

    controller = controller_timing(space, bench)
    seconds = time.perf_counter() - started
    write_report(args, rows, curves, optimum, ablation, pareto, controller, timings, seconds, strategies, others)


#: Other spaces: (space, reward, reported metric). TransNAS micro's table holds one metric per
#: task (higher is better for all seven; room_layout is a negated loss), so the reward is the
#: reported metric; NAS-Bench-Macro searches on one training run (``test_acc_0``) and reports the
#: mean of its three runs.
OTHER = [("transnas_micro", task, task) for task in ("class_scene", "class_object", "jigsaw", "room_layout",
                                                     "segmentsemantic", "normal", "autoencoder")]
OTHER += [("nb_macro", "test_acc_0", "mean_acc")]
OTHER_STRATEGIES = ("dsm_nas", "reinforce", "rea", "random", "local_search")


def other_spaces(seeds: int, tmp: Path, budget: int = 100) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for space_name, reward, test in OTHER:
        space = registry().create("space", space_name)
        bench = space.load_benchmark()
        column = np.asarray(bench.query_many(bench.architectures(), test), dtype=float)
        row = {"optimum": float(np.nanmax(column))}
        for name in OTHER_STRATEGIES:
            finals = [search(space_name, dict(STRATEGIES[name]), reward, test, budget, seed,
                             tmp / f"{space_name}-{reward}-{name}-{seed}.db")["final"] for seed in range(seeds)]
            row[name] = (float(np.mean(finals)), float(np.std(finals)))
        out[f"{space_name}/{test}"] = row
        print(space_name, test, row, flush=True)
    return out


def pareto_front(space: Any, bench: Any, tmp: Path, device: str = "latency_pixel3", budget: int = 300) -> dict[str, Any]:
    """NSGA-II on CIFAR-10 12-epoch validation accuracy vs measured latency, against the true
    front of the whole table; hypervolume (pymoo) of both, with reference (min acc, max latency)."""
    from pymoo.indicators.hv import HV
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    out = search("nb201", {"name": "nsga2", "secondary": device, "population": 30}, "cifar10_val_12ep", "cifar10_test",
                 budget, 0, tmp / "nsga2.db", {"extra_metrics": [device]})
    found = out["result"]["strategy"]["front"]
    archs = bench.architectures()
    acc = np.asarray(bench.query_many(archs, "cifar10_val_12ep"), dtype=float)
    lat = np.asarray(bench.query_many(archs, device), dtype=float)
    F = np.stack([-acc, lat], 1)
    ok = np.all(np.isfinite(F), 1)
    true_idx = NonDominatedSorting().do(F[ok], only_non_dominated_front=True)
    true = F[ok][true_idx]
    ref = np.array([-np.nanmin(acc) + 1e-9, np.nanmax(lat) + 1e-9])
    hv = HV(ref_point=ref)
    found_F = np.array([[-f["value"], f[device]] for f in found])
    return {"device": device, "budget": budget, "found": found, "found_hv": float(hv(found_F)), "true_hv": float(hv(true)),
            "true_front": sorted([[-a, b] for a, b in true.tolist()], key=lambda p: p[1])}


def controller_timing(space: Any, bench: Any, iterations: int = 200) -> dict[str, float]:
    """Seconds per DSM-NAS iteration spent in the strategy itself (ask + tell: graph build,
    controller sampling, REINFORCE update), on NB201 with lookups excluded."""
    import torch

    from nasplug.core.interfaces.strategy import Told
    from nasplug.core.options import build_config
    from nasplug.search.dsm_nas import DSMNAS

    out = {}
    for label, options in (("paper (K=4, M=4)", {}), ("mobilenet preset (K=10, M=3)", {"preset": "mobilenet"})):
        strategy = DSMNAS(build_config(DSMNAS.Config, options, "strategy"), space=space, seed=0)
        first = strategy.ask(strategy.k)
        strategy.tell([Told(a, bench.query(a, "cifar10_val_12ep"), bench.query(a, "cifar10_val_12ep")) for a in first])
        spent = 0.0
        for _ in range(iterations):
            t0 = time.perf_counter()
            (child,) = strategy.ask(1)
            t1 = time.perf_counter()
            value = bench.query(child, "cifar10_val_12ep")
            t2 = time.perf_counter()
            strategy.tell([Told(child, value, value)])
            spent += (t1 - t0) + (time.perf_counter() - t2)
        out[label] = spent / iterations
    out["torch_threads"] = torch.get_num_threads()
    return out


def write_report(args, rows, curves, optimum, ablation, pareto, controller, timings, seconds, strategies, others) -> None:
    lines = [f"# Search strategies on NAS-Bench-201 ({args.seeds} seeds; predictor-guided {args.guided_seeds})", "",
             "Reward: 12-epoch validation accuracy; reported: 200-epoch test accuracy (%) of the returned architecture,",
             "mean +- std over seeds. Paper: DSM-NAS (TCSVT 2024) and DARE Table 4 (NB201 protocol: 12,000 s simulated",
             "budget for the baselines; DSM-NAS: 25,000 s or 200 iterations).", "",
             "| strategy | queries | CIFAR-10 | CIFAR-100 | ImageNet16-120 |", "|---|---|---|---|---|"]
    for name in strategies:
        for budget in args.budgets:
            cells = []
            for d in DATASETS:
                r = rows.get((d, name, budget))
                cells.append(f"{r[0]:.2f} +- {r[1]:.2f}" if r else "-")
            lines.append(f"| {name} | {budget} | " + " | ".join(cells) + " |")
        lines.append(f"| {name} (paper) | | " + " | ".join(PAPER[name][d] for d in DATASETS) + " |")
    lines += ["", "| optimum of the space | | " + " | ".join(f"{optimum[d]:.2f}" for d in DATASETS) + " |", ""]
    if "predictor_guided" in strategies:
        lines += [f"Predictor-guided search: {strategies['predictor_guided']}; 5 initial + 10 per round x 8 rounds = 85 labels, "
                  "then the predictor's top-ranked architectures until the budget ends.", ""]
    if others:
        lines += [f"## TransNAS-Bench-101 micro and NAS-Bench-Macro (100 queries, {args.other_seeds} seeds)", "",
                  "TransNAS: reward = reported = the task's metric; NAS-Bench-Macro: reward = one run's test accuracy",
                  "(`test_acc_0`), reported = mean of the three runs (`mean_acc`).", "",
                  "| space / metric | optimum | " + " | ".join(OTHER_STRATEGIES) + " |", "|---|---|" + "---|" * len(OTHER_STRATEGIES)]
        for key, row in others.items():
            lines.append(f"| {key} | {row['optimum']:.3f} | " + " | ".join(f"{row[n][0]:.3f} +- {row[n][1]:.3f}" for n in OTHER_STRATEGIES) + " |")
        lines.append("")
    lines += [f"## DSM-NAS ablations (100 queries, {args.ablation_seeds} seeds, test accuracy %)", "",
              "| variant | CIFAR-10 | CIFAR-100 | ImageNet16-120 |", "|---|---|---|---|"]
    for label in ABLATIONS:
        lines.append(f"| {label} | " + " | ".join(f"{ablation[(d, label)][0]:.2f} +- {ablation[(d, label)][1]:.2f}"
                                                  for d in DATASETS) + " |")
    lines += ["", f"## Pareto front: CIFAR-10 12-epoch validation accuracy vs {pareto['device']} latency (NSGA-II, {pareto['budget']} queries)", "",
              f"Hypervolume of the found front {pareto['found_hv']:.2f} vs the true front of all 15,625 cells {pareto['true_hv']:.2f} "
              f"({100 * pareto['found_hv'] / pareto['true_hv']:.1f}%); {len(pareto['found'])} points found, true front has {len(pareto['true_front'])}.", "",
              "## DSM-NAS controller time per iteration (2 CPU cores)", ""]
    for label, value in controller.items():
        if label != "torch_threads":
            lines.append(f"- {label}: {1000 * value:.1f} ms")
    compute = sum(_DONE[k].get("seconds", 0.0) for k in _USED if k in _DONE)
    lines += ["", f"Compute time of all runs {compute / 60:.1f} min (sum of per-run wall times; runs may have shared the "
              f"machine with other jobs; this invocation {seconds / 60:.1f} min, finished runs read from --checkpoint); "
              "mean seconds per run: " +
              ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k.endswith(f"/{max(args.budgets)}") and k.startswith("cifar10/"))]
    write_results("search", {"seeds": args.seeds, "guided_seeds": args.guided_seeds, "budgets": args.budgets,
                             "strategies": strategies, "optimum": optimum, "seconds": seconds,
                             "results": [{"dataset": d, "strategy": s, "queries": b, "mean": m, "std": sd, "runs": n}
                                         for (d, s, b), (m, sd, n) in rows.items()],
                             "ablation": [{"dataset": d, "variant": v, "mean": m, "std": sd} for (d, v), (m, sd) in ablation.items()],
                             "pareto": pareto, "controller_seconds": controller, "paper": PAPER,
                             "other_spaces": others}, "\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
    for ax, dataset in zip(axes, DATASETS):
        for name in strategies:
            if (dataset, name) in curves:
                curve = curves[(dataset, name)]
                ax.plot(np.arange(1, len(curve) + 1), curve, label=name)
        ax.axhline(optimum[dataset], color="grey", ls="--", lw=0.8, label="optimum")
        ax.set_title(f"NB201 {dataset}: best-so-far")
        ax.set_xlabel("queries")
        ax.set_ylabel("test acc. of incumbent (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[3]
    true = np.array(pareto["true_front"])
    ax.plot(true[:, 1], true[:, 0], "k.-", lw=0.8, label="true front")
    found = np.array([[f[pareto["device"]], f["value"]] for f in pareto["found"]])
    ax.plot(found[:, 0], found[:, 1], "o", color="tab:red", label="NSGA-II front")
    ax.set_xlabel(f"{pareto['device']} (ms)")
    ax.set_ylabel("CIFAR-10 12-epoch val. acc. (%)")
    ax.set_title("accuracy vs latency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "search.png", dpi=110)


if __name__ == "__main__":
    main()
