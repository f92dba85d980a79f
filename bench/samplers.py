"""Active-learning samplers on NAS-Bench-201: DARE against CoreSet, BAL, uncertainty and random,
all training the same predictor (DARE's consistency-trained GCN, ``dare_gcn``).

Protocol (DARE section 5.1): 5 random initial labels (the same 5 for every sampler of a seed),
then 10 per round chosen by the sampler; the predictor is retrained from scratch after every round
and Kendall's tau / MSE are measured on every unlabelled architecture of the 15,625. The paper
reports 78 and 150 labels: 78 = 0.5 % of NB201 (15,625 x 0.005 = 78.1) and 150 about 1 %, budgets
that 5 + 10 r never hits, so the schedule caps a round at the checkpoint: 5, 15, ..., 75, 78, 88,
..., 148, 150 (two 3- and 2-label rounds). MSE is on the fraction scale (accuracy / 100) like the
paper's. Between checkpoints the curve is measured on a fixed random subset of ``--curve-size``
architectures (the unlabelled ones of it).

Parts: ``compare`` (the table and the KT-vs-labels PNG), ``ablation`` (Table 6 analogue on the
first dataset), ``distribution`` (section 5.10: share of the selected architectures per accuracy
bin against the space's own distribution, NB201 and NB101), ``speed`` (seconds per DARE round on
the full NB201 pool; selection on 10k / 100k / 423,624 random embeddings with time and traced
peak memory). Runs are cached in ``--cache`` (JSON lines) so a long setting can be resumed.

    .venv/bin/python bench/samplers.py            # default: CIFAR-10, 1 seed, 20 epochs, ablation 1 seed
    .venv/bin/python bench/samplers.py --seeds 5 --datasets cifar10 cifar100 imagenet16 --epochs 300 --members 5

Since issue 23 the samplers choose among the connected cells outside a fixed held-out set of 5,000, one per
network (``graph_key``), and checkpoints report KT on every unlabelled cell and on the held-out set, distinct
networks and the histogram distance of the labelled set; ``samplers_before_issue23.*`` keeps the earlier runs.

Writes bench/results/samplers.{json,md}, samplers_curve.png and samplers_distribution.png (``--out``
renames them).
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import RESULTS, benchmarks_dir, write_results
from nasplug.core import metrics
from nasplug.core.active import ActiveLearning
from nasplug.core.registry import registry
from nasplug.core.seeding import derive_seed

DATASETS = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "imagenet16": "imagenet16_test"}
SAMPLERS = ("dare", "coreset", "bal", "uncertainty", "random")
#: DARE Table 1 (NB201; the paper does not say which of the three datasets) and Table 6 (NB201, K = 150).
PAPER = {"dare": {78: ("0.7014 +- 0.0300", "0.0008 +- 0.0003"), 150: ("0.7854 +- 0.0050", "0.0005 +- 0.0002")}}
PAPER_ABLATION = {"full": ("0.7714", "0.7854"), "w/o FS": ("0.7172", "0.6634"), "w/o SS": ("0.7059", "0.6791"),
                  "w/o TMMS": ("0.5743", "0.6118"), "w/o KGA": ("0.7258", "0.7029")}
ABLATIONS = {"full": {}, "w/o FS": {"first_stage": False}, "w/o SS": {"second_stage": False},
             "w/o TMMS": {"first_stage": False, "second_stage": False}, "w/o KGA": {"distribution": "uniform"},
             "non-uniform forced": {"distribution": "non_uniform"},
             "ranked pick (literal reading)": {"final_pick": "ranked"}}
CHECKPOINTS = (78, 150)


def schedule(initial: int = 5, per_round: int = 10, checkpoints: tuple[int, ...] = CHECKPOINTS) -> list[int]:
    """Cumulative label counts per round, capped so that every checkpoint is hit exactly."""
    counts = [initial]
    while counts[-1] < max(checkpoints):
        nxt = counts[-1] + per_round
        nxt = min([nxt] + [c for c in checkpoints if counts[-1] < c < nxt])
        counts.append(nxt)
    return counts


#: The HAAP / DARE evaluation protocol: a fixed random held-out set of connected cells.
HOLDOUT = 5000


class Data:
    """The NB201 pool, its targets for one dataset, the fixed curve subset, and the protocol's
    split: ``holdout`` (5,000 random connected cells, the same for every run, never labelled) and
    ``candidates`` (what the samplers choose from: the other connected cells, one per network)."""

    def __init__(self, dataset: str, curve_size: int) -> None:
        from nasplug.core.interfaces.space import DISCONNECTED

        self.space = registry().create("space", "nb201")
        bench = self.space.load_benchmark()
        self.pool = list(bench.architectures())
        self.y = bench.query_many(self.pool, DATASETS[dataset])
        self.curve = np.sort(np.random.default_rng(12345).choice(len(self.pool), curve_size, replace=False))
        self.keys = [self.space.graph_key(a) for a in self.pool]
        connected = np.array([k != DISCONNECTED for k in self.keys])
        self.holdout = np.sort(np.random.default_rng(2024).choice(np.flatnonzero(connected), HOLDOUT, replace=False))
        free = connected.copy()
        free[self.holdout] = False
        first: dict[str, int] = {}
        for i in np.flatnonzero(free):
            first.setdefault(self.keys[i], int(i))
        self.candidates = np.array(sorted(first.values()), dtype=np.int64)


def active_learning(data: Data, sampler_spec: dict, predictor_spec: dict, seed: int) -> dict[str, Any]:
    """One run: DARE's protocol with the schedule above, seeds derived as in predict runs."""
    reg = registry()
    space, pool, y = data.space, data.pool, data.y
    sampler = reg.create("sampler", sampler_spec, section="sampler", space=space)
    offered = [pool[i] for i in data.candidates]
    loop = ActiveLearning(space=space, pool=offered, sampler=sampler, seed=seed,
                          new_predictor=lambda: reg.create("predictor", predictor_spec, section="predictor", space=space))
    rounds = []
    for r, target in enumerate(schedule()):
        started, cpu_started = time.perf_counter(), time.process_time()
        chosen = loop.choose(target - len(loop.labelled), random=r == 0)
        select_seconds, select_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        loop.add(chosen, y[data.candidates[chosen]])
        fit_seconds = loop.fit()
        predictor, labelled = loop.predictor, data.candidates[loop.labelled].tolist()
        mask = np.ones(len(pool), dtype=bool)
        mask[labelled] = False
        rest = data.curve[mask[data.curve]]
        row: dict[str, Any] = {"labels": len(labelled), "select_seconds": select_seconds, "select_cpu_seconds": select_cpu,
                               "fit_seconds": fit_seconds,
                               "kt_curve": metrics.kendall_tau(predictor.predict([pool[i] for i in rest]), y[rest])}
        if target in CHECKPOINTS:
            unl = np.flatnonzero(mask)
            pred = predictor.predict([pool[i] for i in unl])
            held = np.asarray(predictor.predict([pool[i] for i in data.holdout]))
            row.update(kendall_tau=metrics.kendall_tau(pred, y[unl]), mse=metrics.mse(pred / 100.0, y[unl] / 100.0),
                       holdout_kendall_tau=metrics.kendall_tau(held, y[data.holdout]),
                       holdout_mse=metrics.mse(held / 100.0, y[data.holdout] / 100.0),
                       distinct_graphs=len({data.keys[i] for i in labelled}),
                       histogram_distance=metrics.histogram_distance(y[labelled], y),
                       **stratified(pred, y[unl], y[labelled], y))
        trace = getattr(sampler, "last_trace", None)
        if trace is not None and r > 0:
            row["trace"] = {"mode": trace.mode, "hopkins": trace.hopkins, "candidates": trace.candidates,
                            "pseudo_labelled": trace.pseudo_labelled, "intersection": trace.intersection, "filled": trace.filled}
        rounds.append(row)
        loop.next_round()
    return {"rounds": rounds, "labelled": labelled}


class Cache:
    """Finished runs by key, in a JSON-lines file (so that a long bench can be stopped and resumed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.runs: dict[str, Any] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                self.runs[entry["key"]] = entry["run"]

    def update(self, key: str, run: Any) -> None:
        """Store a changed run (the later line wins when the file is read)."""
        self.runs[key] = run
        self._append(key, run)

    def _append(self, key: str, run: Any) -> None:
        """One unbuffered write per line, so that benches sharing the cache never interleave lines."""
        with self.path.open("ab", buffering=0) as f:
            f.write((json.dumps({"key": key, "run": run}, default=float) + "\n").encode())

    def compact(self) -> None:
        """Rewrite the file with one line per run (changed runs were appended)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps({"key": k, "run": r}, default=float) + "\n" for k, r in self.runs.items()))
        tmp.replace(self.path)

    def get(self, key: str, compute: Any) -> Any:
        if key not in self.runs:
            self.runs[key] = compute()
            self._append(key, self.runs[key])
        return self.runs[key]


def _mean_std(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(np.mean(v)), float(np.std(v))


def _fmt(values: list[float], digits: int = 4) -> str:
    m, s = _mean_std(values)
    return f"{m:.{digits}f} +- {s:.{digits}f}"


def _checkpoint(run: dict, labels: int) -> dict:
    return next(r for r in run["rounds"] if r["labels"] == labels)


#: The stratified metrics a checkpoint keeps (see :func:`stratified`).
STRATA = ("kt_top_half", "kt_without_tail", "mse_without_tail", "tail_share")


def stratified(pred: np.ndarray, truth: np.ndarray, labelled_y: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Where a checkpoint's ranking is good or bad: KT among the unlabelled architectures
    (predictions ``pred``, accuracies ``truth``) at or above the space's median accuracy, KT and
    MSE without the collapsed tail (accuracy below half the median: the untrainable cells), and
    the tail's share of the labelled set. Predictions are rounded to 3 decimals first, as the
    runs cached with their predictions kept them."""
    pred = np.round(np.asarray(pred, dtype=float), 3)
    median = float(np.median(y))
    top, keep = truth >= median, truth >= 0.5 * median
    return {"kt_top_half": metrics.kendall_tau(pred[top], truth[top]),
            "kt_without_tail": metrics.kendall_tau(pred[keep], truth[keep]),
            "mse_without_tail": metrics.mse(pred[keep] / 100.0, truth[keep] / 100.0),
            "tail_share": float(np.mean(labelled_y < 0.5 * median))}


def _stale(row: dict) -> bool:
    """A checkpoint row cached before the stratified metrics were kept (or still holding predictions)."""
    return row["labels"] in CHECKPOINTS and ("predictions" in row or not all(k in row for k in STRATA))


def backfill(run: dict, data: "Data", predictor_spec: dict, seed: int) -> bool:
    """Give the checkpoints of a run cached before the stratified metrics were kept those metrics:
    from its stored predictions (which are then dropped: 120 kB per checkpoint), or else by
    refitting the checkpoint's predictor (same labelled set, same derived fit seed, hence the same
    network). Returns whether anything changed."""
    changed = False
    for r, row in enumerate(run["rounds"]):
        if not _stale(row):
            continue
        labelled = run["labelled"][:row["labels"]]
        mask = np.ones(len(data.pool), dtype=bool)
        mask[labelled] = False
        if "predictions" in row:
            pred = np.asarray(row.pop("predictions"))
        else:
            predictor = registry().create("predictor", predictor_spec, section="predictor", space=data.space)
            predictor.fit([data.pool[i] for i in labelled], data.y[labelled], seed=derive_seed(seed, "fit", r))
            pred = np.asarray(predictor.predict([data.pool[i] for i in np.flatnonzero(mask)]))
            kt = metrics.kendall_tau(pred, data.y[mask])
            if abs(kt - row["kendall_tau"]) > 1e-6:
                print(f"  warning: refitted predictor gives KT {kt:.6f}, the run stored {row['kendall_tau']:.6f}")
        row.update(stratified(pred, data.y[mask], data.y[labelled], data.y))
        changed = True
    return changed


def before_issue_23(dataset: str, y: np.ndarray) -> dict[str, dict[str, str]]:
    """Distinct networks and histogram distance of the labelled sets of the runs committed before
    issue 23 (``bench/results/samplers_before_issue23.json``), next to their KT."""
    path = RESULTS / "samplers_before_issue23.json"
    if not path.exists():
        return {}
    space = registry().create("space", "nb201")
    pool = list(space.load_benchmark().architectures())
    out = {}
    for key, rs in json.loads(path.read_text())["runs"].items():
        d, name = key.split("/")
        if d != dataset or not rs:
            continue
        labelled = [np.asarray(r["labelled"][:150]) for r in rs]
        out[name] = {"seeds": str(len(rs)), "kt78": _fmt([_checkpoint(r, 78)["kendall_tau"] for r in rs]),
                     "kt150": _fmt([_checkpoint(r, 150)["kendall_tau"] for r in rs]),
                     "distinct": _fmt([len({space.graph_key(pool[i]) for i in lab}) for lab in labelled], 1),
                     "hist": _fmt([metrics.histogram_distance(y[lab], y) for lab in labelled], 3)}
    return out


# --- distribution (section 5.10) ---------------------------------------------------------------

COARSE = np.round(np.arange(0.0, 1.01, 0.1), 2)
FINE = np.round(np.arange(0.85, 0.951, 0.01), 2)


def shares(acc: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``acc`` (fractions) in each bin [e_i, e_i+1) (the last bin closed); values outside
    the edges count in neither bin but in the total."""
    counts = np.histogram(acc, bins=edges)[0]
    return counts / max(len(acc), 1)


def nb101_accuracies(root: Path) -> np.ndarray:
    with gzip.open(root / "nb101" / "test_accuracy_108ep_unkeyed.csv.gz", "rt") as f:
        header = f.readline().strip().split(",")
        col = header.index("accuracy")
        return np.array([float(line.split(",")[col]) for line in f if line.strip()])


# --- speed ---------------------------------------------------------------------------------------

def scale_run(size: int, dim: int, labelled: int, preset: str) -> dict[str, float]:
    """One DARE selection on ``size`` random embeddings: seconds and traced peak memory."""
    from nasplug.samplers.dare.sampler import DAREConfig
    from nasplug.samplers.dare.selection import select

    rng = np.random.default_rng(size)
    emb = rng.normal(size=(size, dim)).astype(np.float32)
    lab = rng.choice(size, labelled, replace=False)

    def refine(pseudo: np.ndarray) -> np.ndarray:  # stands in for retraining: a perturbed embedding
        return emb + np.float32(0.1) * rng.standard_normal(emb.shape, dtype=np.float32)

    times = []
    for repeat in range(2):  # the faster of two: the machine is shared
        if repeat:
            tracemalloc.start()
        started = time.perf_counter()
        _, trace = select(emb, lab, 10, DAREConfig(preset=preset).settings(), np.random.default_rng(0), refine=refine)
        times.append(time.perf_counter() - started)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    seconds = min(times)
    return {"pool": size, "dim": dim, "labelled": labelled, "seconds": seconds, "peak_mb": peak / 2**20,
            "peak_over_Nd": peak / (size * dim * 4), "mode": trace.mode, "candidates": trace.candidates}


# --- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds of the comparison on the first dataset")
    parser.add_argument("--seed-from", type=int, default=0, help="skip the seeds below this one (to split seeds over processes)")
    parser.add_argument("--seeds-other", type=int, default=None, help="seeds on the other datasets (default: --seeds)")
    parser.add_argument("--datasets", nargs="+", default=["cifar10"], choices=list(DATASETS))
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    parser.add_argument("--epochs", type=int, default=20, help="GCN training epochs (paper: 300)")
    parser.add_argument("--members", type=int, default=3, help="ensemble size of uncertainty and BAL (docs/methods/bal.md 5)")
    parser.add_argument("--max-pseudo", type=int, default=100, help="cap on DARE's pseudo-labelled set (paper: none)")
    parser.add_argument("--ablation-seeds", type=int, default=1, help="seeds of the Table 6 ablation (0 skips it)")
    parser.add_argument("--ablations", nargs="+", default=list(ABLATIONS), choices=list(ABLATIONS),
                        help="ablation variants to run (default: all)")
    parser.add_argument("--curve-size", type=int, default=2000)
    parser.add_argument("--scale-sizes", type=int, nargs="*", default=[10_000, 100_000, 423_624])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nasplug_bench_samplers.jsonl"))
    parser.add_argument("--out", default="samplers", help="name of the result files under bench/results")
    parser.add_argument("--cached-only", action="store_true",
                        help="report only the runs already in --cache (each row says how many seeds it has)")
    parser.add_argument("--runs-only", action="store_true", help="run the comparison and ablation, skip the report")
    args = parser.parse_args()
    root = benchmarks_dir()
    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # single-threaded BLAS: multi-threaded BLAS on a loaded 2-core machine only spins
    cache = Cache(args.cache)
    predictor = {"name": "dare_gcn", "backend": "dense", "epochs": args.epochs, "batch_size": 10}
    specs = {"dare": {"name": "dare", "max_pseudo_labels": args.max_pseudo}, "coreset": {"name": "coreset"},
             "bal": {"name": "bal", "members": args.members}, "uncertainty": {"name": "uncertainty", "members": args.members},
             "random": {"name": "random"}}
    started = time.perf_counter()

    def run_key(dataset: str, name: str, spec: dict, seed: int) -> str:
        # "haap": runs since issue 23 (one label per network, 5,000 cells held out, DARE's new defaults)
        return json.dumps([dataset, name, spec, predictor, seed, "haap"], sort_keys=True)

    def get(dataset: str, name: str, spec: dict, seed: int, data: list) -> dict | None:
        key = run_key(dataset, name, spec, seed)
        if args.cached_only and key not in cache.runs:
            return None
        def compute() -> dict:
            if not data:
                data.append(Data(dataset, args.curve_size))
            t0 = time.perf_counter()
            out = active_learning(data[0], spec, predictor, seed)
            print(f"  {dataset} {name} seed {seed}: KT@150 {_checkpoint(out, 150)['kendall_tau']:.4f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
            return out
        return cache.get(key, compute)

    runs: dict[tuple[str, str], list[dict]] = {}
    keys: dict[int, tuple[str, int]] = {}  # id(run) -> (cache key, seed)
    for dataset in args.datasets:
        data: list = []
        n_seeds = args.seeds if dataset == args.datasets[0] or args.seeds_other is None else args.seeds_other
        for seed in range(args.seed_from, n_seeds):
            for name in args.samplers:
                run = get(dataset, name, specs[name], seed, data)
                if run is not None:
                    runs.setdefault((dataset, name), []).append(run)
                    keys[id(run)] = (run_key(dataset, name, specs[name], seed), seed)
    ablation: dict[str, list[dict]] = {}
    if args.ablation_seeds:
        dataset = args.datasets[0]
        data = []
        for seed in range(args.ablation_seeds):
            for variant, options in ABLATIONS.items():
                if variant not in args.ablations:
                    continue
                spec = {**specs["dare"], **options}
                run = get(dataset, "dare", spec, seed, data)
                if run is not None:
                    ablation.setdefault(variant, []).append(run)
                    keys[id(run)] = (run_key(dataset, "dare", spec, seed), seed)
    compare_seconds = time.perf_counter() - started
    if args.runs_only:
        return
    loaded: dict[str, Data] = {}
    changed = False
    every_run = [(d, r) for (d, _), rs in runs.items() for r in rs] + [(args.datasets[0], r) for rs in ablation.values() for r in rs]
    for dataset, run in every_run:
        if not any(_stale(row) for row in run["rounds"]):
            continue
        if dataset not in loaded:
            loaded[dataset] = Data(dataset, args.curve_size)
        key, seed = keys[id(run)]
        changed = backfill(run, loaded[dataset], predictor, seed) or changed
        cache.runs[key] = run
    if changed:
        cache.compact()
    args.samplers = [name for name in args.samplers if any(runs.get((d, name)) for d in args.datasets)]
    args.datasets = [d for d in args.datasets if any(runs.get((d, name)) for name in args.samplers)]

    # speed
    scale = [scale_run(n, 144, 15, "nb101") for n in args.scale_sizes]
    scale_small = [scale_run(n, 144, 15, "nb201") for n in args.scale_sizes]
    dare_rounds = [r for (d, s), rs in runs.items() if s == "dare" for run in rs for r in run["rounds"][1:]]

    # distribution
    base = Data("cifar10", 10)
    nb201 = base.y / 100.0
    nb101 = nb101_accuracies(root)
    selected = {name: np.concatenate([nb201[run["labelled"]] for run in runs.get(("cifar10", name), [])])
                for name in args.samplers if runs.get(("cifar10", name))}
    dist = {"coarse_edges": COARSE.tolist(), "fine_edges": FINE.tolist(),
            "nb201_cifar10": {"coarse": shares(nb201, COARSE).tolist(), "fine": shares(nb201, FINE).tolist()},
            "nb101": {"coarse": shares(nb101, COARSE).tolist(), "fine": shares(nb101, FINE).tolist(),
                      "above_0.8": float(np.mean(nb101 > 0.8)), "in_0.85_0.95": float(np.mean((nb101 >= 0.85) & (nb101 < 0.95)))},
            "selected_cifar10": {name: {"coarse": shares(acc, COARSE).tolist(), "fine": shares(acc, FINE).tolist(), "n": len(acc)}
                                 for name, acc in selected.items()}}
    fine_edges_nb201 = np.round(np.arange(0.80, 0.951, 0.01), 2)

    def tv(a: np.ndarray) -> float:
        """Total-variation distance between the selected and the space's accuracy histograms
        (1-point bins over [0.80, 0.95), one bin below, one above)."""
        edges = np.concatenate([[-0.01], fine_edges_nb201, [1.01]])
        return 0.5 * float(np.abs(shares(a, edges) - shares(nb201, edges)).sum())

    # --- report ---
    other = "" if args.seeds_other is None else f" --seeds-other {args.seeds_other}"
    lines = [f"# Active-learning samplers on NAS-Bench-201 ({args.epochs} GCN epochs)", "",
             f"Settings that produced these numbers: `bench/samplers.py --seeds {args.seeds}{other} --datasets {' '.join(args.datasets)} "
             f"--epochs {args.epochs} --members {args.members} --max-pseudo {args.max_pseudo} --ablation-seeds {args.ablation_seeds}`.",
             f"Predictor for every sampler: `dare_gcn` (design A, lambda 0.3, dense backend), Adam 1e-3, cosine warm restarts, "
             f"batch 10, **{args.epochs} epochs** (paper: 300{'' if args.epochs >= 300 else '; reduced to fit 2 shared CPU cores'}). Ensemble size of uncertainty/BAL: "
             f"{args.members} (docs/methods/bal.md 5). DARE: NB201 preset (m = n = m* = 1000, z = 500, T = 10, [alpha, beta] = [0.4, 0.5]), "
             f"n* = 10, pseudo-labelled set capped at {args.max_pseudo} (paper: no cap), distribution decided per round (Hopkins rule).",
             "Schedule: 5 random initial labels (shared by all samplers of a seed), 10 per round, rounds capped to hit 78 and 150. "
             "KT / MSE on all unlabelled NB201 architectures (test accuracy after 200 epochs; MSE on the fraction scale).", ""]
    strata_150: dict[str, list[dict[str, float]]] = {}
    for dataset in args.datasets:
        lines += [f"## {dataset} (mean +- std over seeds)", "", "| sampler | seeds | KT @ 78 | MSE @ 78 | KT @ 150 | MSE @ 150 |", "|---|---|---|---|---|---|"]
        for name in args.samplers:
            rs = runs.get((dataset, name), [])
            if not rs:
                continue
            cells = []
            for labels in CHECKPOINTS:
                cells += [_fmt([_checkpoint(r, labels)["kendall_tau"] for r in rs]), _fmt([_checkpoint(r, labels)["mse"] * 1e4 for r in rs], 2)]
            lines.append(f"| {name} | {len(rs)} | {cells[0]} | {cells[1]} e-4 | {cells[2]} | {cells[3]} e-4 |")
        if dataset == "cifar10":
            lines.append(f"| DARE (paper, Table 1) | - | {PAPER['dare'][78][0]} | {PAPER['dare'][78][1]} | {PAPER['dare'][150][0]} | {PAPER['dare'][150][1]} |")
        else:
            lines += ["", f"The DARE paper's NB201 predictor results (Table 1) are on CIFAR-10 only; there is no published {dataset} row."]
        y = loaded.setdefault(dataset, Data(dataset, 10)).y
        median = float(np.median(y))
        lines += ["", f"Where the rankings differ, at 150 labels: KT among the unlabelled architectures at or above the median "
                      f"accuracy ({median:.1f} %), KT and MSE without the collapsed tail (accuracy below {median / 2:.1f} %, "
                      f"{np.mean(y < median / 2) * 100:.1f} % of the space), and the tail's share of the 150 labelled.", "",
                  "| sampler | KT all | KT top half | KT without tail | MSE without tail | tail share of labelled |", "|---|---|---|---|---|---|"]
        for name in args.samplers:
            rs = runs.get((dataset, name), [])
            if not rs:
                continue
            st = [{k: _checkpoint(run, 150)[k] for k in STRATA} for run in rs]
            strata_150[f"{dataset}/{name}"] = st
            lines.append(f"| {name} | {_fmt([_checkpoint(r, 150)['kendall_tau'] for r in rs])} | "
                         f"{_fmt([x['kt_top_half'] for x in st])} | {_fmt([x['kt_without_tail'] for x in st])} | "
                         f"{_fmt([x['mse_without_tail'] * 1e4 for x in st], 2)} e-4 | {_fmt([x['tail_share'] for x in st], 3)} |")
        lines += ["", "Both evaluation protocols and the Fig. 5 check. *All unlabelled*: KT on every NB201 architecture "
                      f"not labelled (ours); *held out*: KT on {HOLDOUT:,} random connected cells never offered to a sampler "
                      "(the HAAP / DARE papers' protocol; the 341 disconnected cells are out of the pool). Distinct = networks "
                      "(graph keys) among the 150 labels; histogram distance = total variation between the labelled accuracies' "
                      "histogram and the space's (20 bins; 0 = mirrors the space).", "",
                  "| sampler | KT @ 78 all / held out | KT @ 150 all / held out | MSE @ 150 held out | distinct of 150 | histogram distance |",
                  "|---|---|---|---|---|---|"]
        for name in args.samplers:
            rs = [r for r in runs.get((dataset, name), []) if "holdout_kendall_tau" in _checkpoint(r, 150)]
            if not rs:
                continue
            c78, c150 = [_checkpoint(r, 78) for r in rs], [_checkpoint(r, 150) for r in rs]
            lines.append(f"| {name} | {_fmt([c['kendall_tau'] for c in c78])} / {_fmt([c['holdout_kendall_tau'] for c in c78])} | "
                         f"{_fmt([c['kendall_tau'] for c in c150])} / {_fmt([c['holdout_kendall_tau'] for c in c150])} | "
                         f"{_fmt([c['holdout_mse'] * 1e4 for c in c150], 2)} e-4 | {_fmt([c['distinct_graphs'] for c in c150], 1)} | "
                         f"{_fmt([c['histogram_distance'] for c in c150], 3)} |")
        before = before_issue_23(dataset, y)
        if before:
            lines += ["", "Before issue 23 (committed runs of `samplers_before_issue23.json`: every cell offered, duplicates "
                          "allowed, DARE's ranked pick and fresh retraining; the same measures on their labelled sets):", "",
                      "| sampler | seeds | KT @ 78 | KT @ 150 | distinct of 150 | histogram distance |", "|---|---|---|---|---|---|"]
            for name, row in before.items():
                lines.append(f"| {name} | {row['seeds']} | {row['kt78']} | {row['kt150']} | {row['distinct']} | {row['hist']} |")
        modes = [r["trace"]["mode"] for run in runs.get((dataset, "dare"), []) for r in run["rounds"] if "trace" in r]
        hop = [r["trace"]["hopkins"] for run in runs.get((dataset, "dare"), []) for r in run["rounds"] if "trace" in r and r["trace"]["hopkins"] is not None]
        if modes:
            lines += ["", f"DARE's per-round decision: {modes.count('non_uniform')} of {len(modes)} rounds non-uniform "
                          f"(Hopkins {np.min(hop):.2f}-{np.max(hop):.2f}, threshold 0.75)."]
        lines.append("")
    if ablation:
        lines += [f"## DARE ablation (Table 6 analogue, {args.datasets[0]})", "",
                  "| variant | seeds | KT @ 78 | KT @ 150 | paper NB201 uniform / non-uniform (K = 150) |", "|---|---|---|---|---|"]
        for variant, rs in ablation.items():
            paper = PAPER_ABLATION.get(variant, ("-", "-"))
            lines.append(f"| {variant} | {len(rs)} | {_fmt([_checkpoint(r, 78)['kendall_tau'] for r in rs])} | "
                         f"{_fmt([_checkpoint(r, 150)['kendall_tau'] for r in rs])} | {paper[0]} / {paper[1]} |")
        lines += ["", "w/o FS: neighbourhoods from the whole pool, no first-stage intersections; w/o SS: the first stage's "
                      "farthest sets decide, no pseudo-labelling; w/o TMMS: plain max-min cosine distance; w/o KGA: "
                      "uniform handling forced. The paper's Uniform / Non-Uniform columns are two data settings we cannot "
                      "reconstruct; 'non-uniform forced' and 'ranked pick (literal reading)' (the batch is the top k of the "
                      "final candidates by distance, as the paper's text reads, instead of nasplug's greedy max-min pick "
                      "among them; DARE's `final_pick = \"ranked\"`) are ours.", ""]
    lines += ["## Distribution of the selected architectures (section 5.10, CIFAR-10, 150 labels, all seeds)", "",
              "Share of architectures per test-accuracy bin: the space's own distribution against each sampler's selection. "
              "TV = total-variation distance between the two histograms (1-point bins over [80, 95) %, one bin below, one above; "
              "0 = the selection mirrors the space).", ""]
    header = ["bin"] + ["NB101 space", "NB201 space"] + list(selected)
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    coarse = {"NB101 space": shares(nb101, COARSE), "NB201 space": shares(nb201, COARSE), **{n: shares(a, COARSE) for n, a in selected.items()}}
    for i in range(len(COARSE) - 1):
        lines.append(f"| {COARSE[i]:.1f}-{COARSE[i + 1]:.1f} | " + " | ".join(f"{coarse[c][i]:.3f}" for c in header[1:]) + " |")
    fine = {"NB101 space": shares(nb101, FINE), "NB201 space": shares(nb201, FINE), **{n: shares(a, FINE) for n, a in selected.items()}}
    for i in range(len(FINE) - 1):
        lines.append(f"| {FINE[i]:.2f}-{FINE[i + 1]:.2f} | " + " | ".join(f"{fine[c][i]:.3f}" for c in header[1:]) + " |")
    lines.append("| TV to NB201 | - | 0 | " + " | ".join(f"{tv(a):.3f}" for a in selected.values()) + " |")
    lines += ["", f"NB101 (all 423,624, test accuracy after 108 epochs): {dist['nb101']['above_0.8'] * 100:.2f} % above 0.8 and "
                  f"{dist['nb101']['in_0.85_0.95'] * 100:.2f} % within [0.85, 0.95) (paper Fig. 4: nearly 99 % above 0.8, mostly "
                  "within [0.85, 0.95]). NB101 selections are not possible here: the NB101 accuracy table we have carries no "
                  "architecture identities.", ""]
    lines += ["## Speed and scale", ""]
    if dare_rounds:
        sel = [r["select_seconds"] for r in dare_rounds]
        cpu = [r["select_cpu_seconds"] for r in dare_rounds if "select_cpu_seconds" in r]
        n_candidates = len(Data(args.datasets[0], args.curve_size).candidates)
        lines.append(f"DARE selection round on NB201's {n_candidates:,} candidate cells (connected, not held out, one per "
                     f"network; embeds the pool twice, retrains the GCN on labelled + pseudo-labelled, {args.epochs} epochs): "
                     f"{np.median(sel):.1f} s median wall time, {np.percentile(sel, 90):.1f} s at the 90th percentile over "
                     f"{len(sel)} rounds (wall time: a round during which the job was paused for a test run counts the pause; "
                     + (f"CPU time median {np.median(cpu):.1f} s over the {len(cpu)} rounds that recorded it" if cpu
                        else "these runs predate the CPU-time record")
                     + f"); the predictor fit per round takes {np.median([r['fit_seconds'] for r in dare_rounds]):.1f} s "
                     "(median) for comparison.")
        lines.append("")
    lines += ["DARE selection alone (distances, neighbourhoods, key point; the retraining replaced by a perturbed "
              "embedding) on random 144-d embeddings, 15 labelled, one selection of 10; peak = traced (numpy) peak memory "
              "during the selection, embeddings excluded:", "",
              "| pool N | preset | seconds | seconds / 100k | peak MB | peak / (N d 4 bytes) | candidates |", "|---|---|---|---|---|---|---|"]
    for row in scale + scale_small:
        preset = "nb101" if row in scale else "nb201"
        lines.append(f"| {row['pool']:,} | {preset} | {row['seconds']:.2f} | {row['seconds'] / row['pool'] * 1e5:.2f} | "
                     f"{row['peak_mb']:.0f} | {row['peak_over_Nd']:.2f} | {row['candidates']:,} |")
    lines += ["", f"Comparison and ablation runs took {compare_seconds:.0f} s (cached runs count as 0)."]

    write_results(args.out, {
        "settings": vars(args) | {"cache": str(args.cache)}, "predictor": predictor, "specs": specs, "schedule": schedule(),
        "runs": {f"{d}/{s}": rs for (d, s), rs in runs.items()},
        "stratified_150": strata_150, "ablation": ablation,
        "scale": scale + scale_small,
        "distribution": dist, "paper": {"table1": PAPER, "table6": PAPER_ABLATION}}, "\n".join(lines))
    _plots(runs, args, coarse, fine, header)


def _plots(runs: dict, args: Any, coarse: dict, fine: dict, header: list[str]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.datasets), figsize=(4.6 * len(args.datasets), 3.8), squeeze=False)
    for ax, dataset in zip(axes[0], args.datasets):
        for name in args.samplers:
            rs = runs.get((dataset, name), [])
            if not rs:
                continue
            labels = [r["labels"] for r in rs[0]["rounds"]]
            kt = np.array([[r["kt_curve"] for r in run["rounds"]] for run in rs])
            m, s = kt.mean(axis=0), kt.std(axis=0)
            ax.plot(labels, m, label=name, lw=2 if name == "dare" else 1.2)
            ax.fill_between(labels, m - s, m + s, alpha=0.15)
        ax.axhline(0.7854, color="grey", ls="--", lw=0.8)
        ax.text(150, 0.7854, "DARE paper @150", fontsize=7, ha="right", va="bottom", color="grey")
        ax.set_title(f"NB201 {dataset} ({args.epochs} epochs; seeds per sampler in the table)")
        ax.set_xlabel("labelled architectures")
        ax.set_ylabel("Kendall tau (unlabelled subset)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{args.out}_curve.png", dpi=110)

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, table, edges, title in ((axes[0], coarse, COARSE, "coarse bins"), (axes[1], fine, FINE, "[0.85, 0.95) in 0.01 bins")):
        width = 0.8 / len(header[1:])
        x = np.arange(len(edges) - 1)
        for j, col in enumerate(header[1:]):
            ax.bar(x + j * width, table[col], width=width, label=col)
        ax.set_xticks(x + 0.4 - width / 2, [f"{e:.2f}" for e in edges[:-1]], rotation=45, fontsize=7)
        ax.set_ylabel("share")
        ax.set_title(f"test-accuracy distribution: {title}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{args.out}_distribution.png", dpi=110)


if __name__ == "__main__":
    main()
