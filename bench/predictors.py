"""Neural and tabular predictors on NAS-Bench-201 from random labels (DARE Table 1 / Table 8
protocol), plus the speed and memory of the GCN.

Protocol: for each dataset, budget K and seed, a ``predict`` run (runner + SQLite store, sampler
``random``, ``rounds = 0``) labels K cells drawn uniformly at random and scores the predictor on
all 15,625 - K remaining cells: Kendall tau, Spearman and MSE. Every predictor of a (dataset, K,
seed) sees the same K cells. MSE is reported with accuracies as fractions (accuracy / 100), the
scale of DARE's MSE column. Targets: CIFAR-10 ``cifar10_valid_val`` (200-epoch validation
accuracy of the cifar10-valid split, what a search observes; DARE does not say which accuracy its
Table 1 uses); our table has no 200-epoch validation accuracy for CIFAR-100 / ImageNet16-120, so
those use the 200-epoch test accuracy (``cifar100_test``, ``imagenet16_test``).

Predictors: ``gcn`` (NPNAS GCN on HAAP graphs), ``dare_gcn`` (same + consistency term, design
A), ``mlp`` (adjacency encoding) and ``mlp_path`` (path encoding), all with DARE's protocol (300 epochs, batch 10, Adam 1e-3 /
1e-5, cosine warm restarts); and the ``sklearn`` regressors of DARE's Table 8 on HAAP's flat
matrices (73-d on NB201), 100 estimators where the model is an ensemble.

Performance: (1) the GCN trained on 150 cells for 300 epochs, then predicting all 15,625 cells,
both backends; (2) GCN prediction over pools of NB101 cells (10k, 100k and all 423,624 of the
space, ``space.enumerate()``), each in a fresh process: seconds and the peak extra RSS while
predicting (sampled every 5 ms), to show linear time and bounded memory.

    nice -n 10 .venv/bin/python bench/predictors.py   # default: 1 seed; neural predictors on CIFAR-10 at K <= 150
    nice -n 10 .venv/bin/python bench/predictors.py --seeds 3 --neural-datasets cifar10 cifar100 imagenet16 \
        --big-datasets cifar10 --timing gcn gcn_dense dare_gcn          # the committed numbers (hours on 2 busy cores)
    .venv/bin/python bench/predictors.py --seeds 5 --neural-datasets cifar10 cifar100 imagenet16 --neural-max-budget 1000
    .venv/bin/python bench/predictors.py --render bench/results/predictors.json   # re-draw MD + PNG

One DARE-protocol fit is 300 epochs of batches of 10, i.e. 300 * ceil(K / 10) optimiser steps: about
2-5 ms each on one busy CPU core for the GCN (twice that for DARE-GCN, which runs two views), so
K = 1000 alone costs 30,000 steps per predictor and seed. Hence the small default.

Writes bench/results/predictors.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from _common import RESULTS, benchmarks_dir, write_results

DATASETS = {"cifar10": "cifar10_valid_val", "cifar100": "cifar100_test", "imagenet16": "imagenet16_test"}
NEURAL = {"gcn": {"name": "gcn"}, "dare_gcn": {"name": "dare_gcn"}, "mlp": {"name": "mlp"},
          "mlp_path": {"name": "mlp", "encoder": "path"}}
SKLEARN = {"lr": "linear", "rf": "random_forest", "adaboost": "adaboost", "bagging": "bagging", "extra_trees": "extra_trees"}
LABELS = {"gcn": "GCN (NPNAS, HAAP graphs)", "dare_gcn": "DARE-GCN (consistency A)", "mlp": "MLP (adjacency)", "mlp_path": "MLP (path encoding)",
          "lr": "LR", "rf": "RF", "adaboost": "AdaBoost", "bagging": "Bagging", "extra_trees": "ExtraTrees"}

#: DARE Table 1, NAS-Bench-201 half (KT, MSE). Our copy of the paper lost the method names of that
#: half after E2Epp; HAAP (0.7375 @150) and the runner-up at 78 (0.6941, named NPNAS in our
#: issue) are identified from the text (DARE beats them by 6.49 % and 1.05 %).
PAPER_TABLE1 = [
    ("Peephole", {150: (0.5112, 0.0062), 78: (0.4561, 0.0077)}),
    ("E2Epp", {150: (0.6699, 0.0013), 78: (0.5729, 0.0019)}),
    ("HAAP", {150: (0.7375, 0.0005), 78: (0.6619, 0.0011)}),
    ("NPNAS (name lost in our copy)", {150: (0.7219, 0.0009), 78: (0.6941, 0.0010)}),
    ("(name lost; MLP/LSTM row pair)", {150: (0.6731, 0.0008), 78: (0.6210, 0.0012)}),
    ("(name lost; BOGCN/HOP row pair)", {150: (0.7004, 0.0009), 78: (0.6635, 0.0010)}),
    ("DARE (active learning)", {150: (0.7854, 0.0005), 78: (0.7014, 0.0008)}),
]
#: DARE Table 8: KT of tabular predictors on 424 NAS-Bench-101 samples, random vs DARE-selected.
PAPER_TABLE8 = {"lr": (0.35042, 0.3969), "rf": (0.51668, 0.5674), "adaboost": (0.33342, 0.3917),
                "bagging": (0.46574, 0.4918), "extra_trees": (0.31348, 0.3541)}


def predictor_spec(name: str, epochs: int) -> dict:
    if name in NEURAL:
        return {**NEURAL[name], "epochs": epochs}
    return {"name": "sklearn", "model": SKLEARN[name], "encoder": "haap", "n_estimators": 100}


def one_run(name: str, dataset: str, budget: int, seed: int, epochs: int, db: Path) -> dict:
    from nasplug.core.runs import run
    from nasplug.core.store import Store

    wall, cpu = time.perf_counter(), time.process_time()
    result = run({"kind": "predict", "seed": seed, "space": {"name": "nb201"}, "sampler": {"name": "random"},
                  "predictor": predictor_spec(name, epochs), "store": {"path": str(db)},
                  "predict": {"metric": DATASETS[dataset], "initial": budget, "rounds": 0, "top_k": [10, 50]}})
    with Store(db) as store:
        metrics = store.rounds(result.id)[-1].metrics
    return {"predictor": name, "dataset": dataset, "labels": budget, "seed": seed,
            "kendall_tau": metrics["kendall_tau"], "spearman": metrics["spearman"], "mse": metrics["mse"] / 1e4,
            "precision@10": metrics["precision@10"], "fit_seconds": metrics["fit_seconds"],
            "wall_seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}


# --- performance ------------------------------------------------------------------------------

TIMED = {"gcn": {"name": "gcn"}, "gcn_dense": {"name": "gcn", "backend": "dense"}, "dare_gcn": {"name": "dare_gcn"}}


def time_gcn_on_150(which: list[str]) -> list[dict]:
    """Train each predictor of ``which`` on 150 random NB201 cells (300 epochs), predict all 15,625."""
    from nasplug.core.metrics import kendall_tau
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    archs = list(space.enumerate())
    y = bench.query_many(archs, "cifar10_valid_val")
    chosen = np.random.default_rng(0).choice(len(archs), 150, replace=False)
    rest = np.setdiff1d(np.arange(len(archs)), chosen)
    out = []
    for spec in (TIMED[name] for name in which):
        predictor = registry().create("predictor", spec, space=space)
        w, c = time.perf_counter(), time.process_time()
        predictor.fit([archs[i] for i in chosen], y[chosen], seed=0)
        fit_wall, fit_cpu = time.perf_counter() - w, time.process_time() - c
        w, c = time.perf_counter(), time.process_time()
        pred = predictor.predict(archs)
        out.append({"predictor": spec, "fit_wall_s": fit_wall, "fit_cpu_s": fit_cpu,
                    "predict_wall_s": time.perf_counter() - w, "predict_cpu_s": time.process_time() - c,
                    "steps": 300 * 15, "kendall_tau_rest": kendall_tau(pred[rest], y[rest])})
    return out


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pool_worker(size: int) -> dict:
    """In a fresh process: a GCN fitted on the NB101 table's cells predicts ``size`` NB101 cells."""
    import torch

    from nasplug.core.registry import registry

    torch.set_num_threads(1)
    space = registry().create("space", "nb101")
    bench = space.load_benchmark()
    labelled = list(bench.architectures())
    predictor = registry().create("predictor", {"name": "gcn", "epochs": 5, "batch_size": 50}, space=space)
    predictor.fit(labelled, bench.query_many(labelled, "val_accuracy"), seed=0)
    w = time.perf_counter()
    pool = list(space.enumerate())
    enumerate_s = time.perf_counter() - w
    if size < len(pool):
        keep = np.sort(np.random.default_rng(0).choice(len(pool), size, replace=False))
        pool = [pool[i] for i in keep]
    # NB101 re-validates (and caches) a cell the first time graph() sees it: a space-side cost, timed apart
    before = _rss_bytes()
    w = time.perf_counter()
    for start in range(0, len(pool), 1024):
        [space.graph(a) for a in pool[start:start + 1024]]
    graph_pass_s, graph_pass_mb = time.perf_counter() - w, (_rss_bytes() - before) / 2**20
    before = _rss_bytes()
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_bytes())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    w, c = time.perf_counter(), time.process_time()
    pred = predictor.predict(pool)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    done.set()
    watcher.join()
    peak[0] = max(peak[0], _rss_bytes())
    return {"pool": len(pool), "predict_wall_s": wall, "predict_cpu_s": cpu, "us_per_arch": 1e6 * wall / len(pool),
            "rss_before_mb": before / 2**20, "extra_peak_rss_mb": (peak[0] - before) / 2**20,
            "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "space_graph_first_pass_s": graph_pass_s, "space_graph_first_pass_mb": graph_pass_mb,
            "enumerate_s": enumerate_s, "finite": bool(np.all(np.isfinite(pred))),
            "predict_batch_size": predictor.config.predict_batch_size}


def pool_scaling(sizes: list[int]) -> list[dict]:
    out = []
    for size in sizes:
        proc = subprocess.run([sys.executable, __file__, "--pool-worker", str(size)], capture_output=True, text=True, check=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"pool {size}: {out[-1]}", flush=True)
    return out


# --- report -----------------------------------------------------------------------------------

def _agg(rows: list[dict], key: str) -> tuple[float, float, int]:
    v = np.array([r[key] for r in rows], dtype=float)
    return float(np.mean(v)), float(np.std(v)), len(v)


def markdown(results: list[dict], args: argparse.Namespace, timing: list[dict], pools: list[dict], seconds: float) -> str:
    by = {}
    for r in results:
        by.setdefault((r["dataset"], r["labels"], r["predictor"]), []).append(r)
    names = [n for n in args.predictors]
    lines = ["# Predictors on NAS-Bench-201 from random labels", "",
             f"Settings of these numbers: `--seeds {args.seeds} --budgets {' '.join(map(str, args.budgets))} "
             f"--datasets {' '.join(args.datasets)} --neural-datasets {' '.join(args.neural_datasets)} "
             f"--neural-max-budget {args.neural_max_budget} --big-datasets {' '.join(args.big_datasets)} "
             f"--big-seeds {args.big_seeds} --epochs {args.epochs} --timing {' '.join(args.timing)}` "
             f"(the neural predictors run at budgets above "
             f"{args.neural_max_budget} only on the big datasets, for the first big seeds), nice'd, 1 torch thread, on a "
             f"2-core machine shared with other jobs; {seconds / 60:.1f} min wall in all.", "",
             "Each cell: Kendall tau / MSE (accuracy as a fraction) on all 15,625 - K unlabelled cells, mean +- std over seeds "
             "(n = seeds). Targets: CIFAR-10 `cifar10_valid_val`; CIFAR-100 `cifar100_test`; ImageNet16-120 `imagenet16_test` "
             "(200-epoch accuracies; see the script docstring). Every predictor of a (dataset, K, seed) sees the same K cells.", ""]
    for dataset in args.datasets:
        budgets = sorted({k for (d, k, _) in by if d == dataset})
        lines += [f"## {dataset}", "", "| predictor | " + " | ".join(f"K = {k}" for k in budgets) + " |",
                  "|---|" + "---|" * len(budgets)]
        for name in names:
            cells = []
            for k in budgets:
                rows = by.get((dataset, k, name))
                if not rows:
                    cells.append("")
                    continue
                kt, kt_sd, n = _agg(rows, "kendall_tau")
                mse, mse_sd, _ = _agg(rows, "mse")
                cells.append(f"{kt:.4f} +- {kt_sd:.4f} / {mse:.5f} (n={n})")
            lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
        if dataset == "cifar10":
            for paper_name, values in PAPER_TABLE1:
                cells = [f"{values[k][0]:.4f} / {values[k][1]:.4f}" if k in values else "" for k in budgets]
                lines.append(f"| paper: {paper_name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Paper rows: DARE Table 1 (NAS-Bench-201 half, KT / MSE, dataset not stated; placed under CIFAR-10). "
              "Its Table 1 baselines are those methods' own predictors and training set-ups, not ours; the DARE row "
              "uses actively selected labels, ours are random.", "",
              "## DARE Table 8 (tabular predictors, KT)", "",
              "DARE's Table 8 is on NAS-Bench-101 with 424 samples (random vs DARE-selected). NAS-Bench-101 accuracies are not "
              "in our data with architecture identity, so ours are NB201 CIFAR-10 at the nearest budget (424) on HAAP's 73-d "
              "matrices: the ranking of the regressors is what compares, not the values.", "",
              "| predictor | ours, NB201 C10, K = 424, random | paper, NB101, 424 random | paper, NB101, 424 DARE-selected |",
              "|---|---|---|---|"]
    for name in SKLEARN:
        rows = by.get(("cifar10", 424, name))
        ours = f"{_agg(rows, 'kendall_tau')[0]:.4f} (n={len(rows)})" if rows else "not run"
        lines.append(f"| {LABELS[name]} | {ours} | {PAPER_TABLE8[name][0]:.4f} | {PAPER_TABLE8[name][1]:.4f} |")
    if timing:
        lines += ["", "## Speed: 150 labels, 300 epochs, then all 15,625 NB201 cells", "",
                  "Wall and process CPU seconds, 1 torch thread, machine shared with other jobs (wall > CPU when it is busy).", "",
                  "| predictor | fit wall (s) | fit CPU (s) | ms / step (CPU) | predict 15,625 wall (s) | predict CPU (s) | KT on the rest |",
                  "|---|---|---|---|---|---|---|"]
        for t in timing:
            spec = ", ".join(f"{k}={v}" for k, v in t["predictor"].items() if k != "name")
            label = t["predictor"]["name"] + (f" ({spec})" if spec else "")
            lines.append(f"| {label} | {t['fit_wall_s']:.1f} | {t['fit_cpu_s']:.1f} | {1000 * t['fit_cpu_s'] / t['steps']:.2f} | "
                         f"{t['predict_wall_s']:.2f} | {t['predict_cpu_s']:.2f} | {t['kendall_tau_rest']:.4f} |")
    if pools:
        lines += ["", f"## Prediction over NB101 pools (GCN, batches of {pools[0]['predict_batch_size']:,} cells)", "",
                  "Pools drawn from `space.enumerate()` (all 423,624 NB101 cells), each size in a fresh process. Extra peak RSS = "
                  "highest resident memory while predicting (sampled every 5 ms) minus the resident memory just before; the pool "
                  "list is the caller's and excluded. The NB101 space re-validates and caches a cell the first time its `graph()` "
                  "sees it; that space-side pass is timed apart (the two space-graph columns) so that the predict columns are the "
                  "predictor's own cost (graph building + HAAP form + packing + GCN forward).", "",
                  "| cells | predict wall (s) | predict CPU (s) | us / cell (CPU) | extra peak RSS while predicting (MB) | "
                  "space graph() first pass (s) | its cache growth (MB) | process peak RSS (MB) |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in pools:
            lines.append(f"| {p['pool']:,} | {p['predict_wall_s']:.1f} | {p['predict_cpu_s']:.1f} | {1e6 * p['predict_cpu_s'] / p['pool']:.0f} | "
                         f"{p['extra_peak_rss_mb']:.0f} | {p['space_graph_first_pass_s']:.1f} | {p['space_graph_first_pass_mb']:.0f} | "
                         f"{p['process_peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def plot(results: list[dict], args: argparse.Namespace) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.datasets), figsize=(4.6 * len(args.datasets), 3.9), squeeze=False)
    for ax, dataset in zip(axes[0], args.datasets):
        for name in args.predictors:
            pts = {}
            for r in results:
                if r["dataset"] == dataset and r["predictor"] == name:
                    pts.setdefault(r["labels"], []).append(r["kendall_tau"])
            if not pts:
                continue
            ks = sorted(pts)
            mean = [np.mean(pts[k]) for k in ks]
            std = [np.std(pts[k]) for k in ks]
            ax.errorbar(ks, mean, yerr=std, marker="o", ms=3, capsize=2, lw=1.2 if name in NEURAL else 0.8,
                        ls="-" if name in NEURAL else "--", label=LABELS[name])
        if dataset == "cifar10":
            for paper_name, marker in (("HAAP", "s"), ("NPNAS (name lost in our copy)", "^"), ("DARE (active learning)", "*")):
                values = dict(PAPER_TABLE1)[paper_name]
                ax.scatter(sorted(values), [values[k][0] for k in sorted(values)], marker=marker, color="black", s=30,
                           zorder=5, label=f"paper: {paper_name.split(' (')[0]}")
        ax.set_xscale("log")
        ax.set_title(f"NB201 {dataset} ({DATASETS[dataset]})", fontsize=9)
        ax.set_xlabel("labelled cells K (random)")
        ax.set_ylabel("Kendall tau on the rest")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS / "predictors.png", dpi=110)


def render(path: Path, parser: argparse.ArgumentParser) -> None:
    """Markdown + PNG from a stored results JSON (settings missing from older files take the
    values those runs used: neural predictors on every dataset, the three timed predictors)."""
    payload = json.loads(path.read_text())
    args = parser.parse_args([])
    for key, value in payload["settings"].items():
        setattr(args, key, value)
    if "neural_datasets" not in payload["settings"]:
        args.neural_datasets = list(args.datasets)
    if "timing" not in payload["settings"]:
        args.timing = list(TIMED)
    text = markdown(payload["results"], args, payload["timing_150"], payload["pool_scaling"], payload["seconds"])
    (RESULTS / "predictors.md").write_text(text.rstrip() + "\n")
    plot(payload["results"], args)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds of every (dataset, budget)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[78, 150, 424, 1000])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--neural-datasets", nargs="+", default=["cifar10"], choices=list(DATASETS),
                        help="datasets the neural predictors run on (the sklearn ones run on every dataset)")
    parser.add_argument("--neural-max-budget", type=int, default=150,
                        help="neural predictors skip larger budgets, except on --big-datasets for the first --big-seeds seeds")
    parser.add_argument("--big-datasets", nargs="*", default=[], choices=list(DATASETS))
    parser.add_argument("--big-seeds", type=int, default=1)
    parser.add_argument("--predictors", nargs="+", default=[*NEURAL, *SKLEARN], choices=[*NEURAL, *SKLEARN])
    parser.add_argument("--epochs", type=int, default=300, help="training epochs of the neural predictors")
    parser.add_argument("--pool-sizes", type=int, nargs="*", default=[10_000, 100_000, 423_624])
    parser.add_argument("--timing", nargs="*", default=["gcn"], choices=list(TIMED),
                        help="predictors timed on 150 labels + all 15,625 cells (none: skip)")
    parser.add_argument("--render", type=Path, help="only re-render the Markdown and PNG from a results JSON")
    parser.add_argument("--checkpoint", type=Path,
                        help="JSON-lines file: finished runs are appended to it and skipped when the bench is restarted")
    parser.add_argument("--pool-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render:
        render(args.render, parser)
        return
    benchmarks_dir()
    import torch

    torch.set_num_threads(1)
    if args.pool_worker:
        print(json.dumps(pool_worker(args.pool_worker)))
        return

    started = time.perf_counter()
    results: list[dict] = []
    done: dict[tuple, dict] = {}
    if args.checkpoint and args.checkpoint.exists():
        for line in args.checkpoint.read_text().splitlines():
            row = json.loads(line)
            done[(row["predictor"], row["dataset"], row["labels"], row["seed"])] = row
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            for budget in args.budgets:
                for seed in range(args.seeds):
                    for name in args.predictors:
                        if name in NEURAL and (dataset not in args.neural_datasets or (budget > args.neural_max_budget and not (
                                dataset in args.big_datasets and seed < args.big_seeds))):
                            continue
                        row = done.get((name, dataset, budget, seed))
                        if row is None:
                            row = one_run(name, dataset, budget, seed, args.epochs, Path(tmp) / f"{dataset}-{budget}-{seed}-{name}.db")
                            if args.checkpoint:
                                with args.checkpoint.open("a") as fh:
                                    fh.write(json.dumps(row) + "\n")
                        results.append(row)
                        print(f"{dataset} K={budget} seed={seed} {name}: KT {row['kendall_tau']:.4f} MSE {row['mse']:.5f} "
                              f"fit {row['fit_seconds']:.1f}s", flush=True)
    timing = time_gcn_on_150(args.timing) if args.timing else []
    for t in timing:
        print("timing", t, flush=True)
    pools = pool_scaling(args.pool_sizes) if args.pool_sizes else []
    seconds = time.perf_counter() - started
    settings = {k: v for k, v in vars(args).items() if k not in ("pool_worker", "render", "checkpoint")}
    write_results("predictors", {"settings": settings, "seconds": seconds, "results": results, "timing_150": timing,
                                 "pool_scaling": pools, "paper_table1_nb201": [[n, {str(k): v for k, v in d.items()}] for n, d in PAPER_TABLE1],
                                 "paper_table8_nb101_424": PAPER_TABLE8},
                  markdown(results, args, timing, pools, seconds))
    plot(results, args)


if __name__ == "__main__":
    main()
