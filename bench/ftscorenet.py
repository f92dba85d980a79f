"""FT-ScoreNet (shared/seeds/002): prediction on NAS-Bench-201 (paper Table VI, Fig. 5f), the
cross-space table (Tables I-II analogue, with and without v-norm, next to params, FLOPs and
naswot), the ensemble of per-space scorers (Eq. 4), the NSGA-II-DE search in the Zen-NAS
ResNet-like space, held-out Spearman against training length (section ``steps``, not in the
default ``--sections``), and timings.

    nice -n 10 .venv/bin/python bench/ftscorenet.py                 # default: 17 min at load 8, small model
    nice -n 10 .venv/bin/python bench/ftscorenet.py --images 64 --input-size 32 \\
        --nb201-steps 200 --archs-per-step 100 --nb201-eval all   # the paper's Table VI setting

Every learnable part and optimiser setting is the paper's; what the default shrinks to fit a
loaded 2-core CPU is the synthetic input (``--images`` x ``--input-size``, paper 64 x 32), the
number of training steps and the evaluation samples. The settings that produced the committed
numbers are written into the results. Writes bench/results/ftscorenet.{json,md} and
ftscorenet_curve.png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import RESULTS, benchmarks_dir, write_results
from nasplug.core import metrics
from nasplug.core.drive import drive
from nasplug.core.registry import registry
from nasplug.core.seeding import derive_rng, derive_seed
from nasplug.proxies.ftscorenet import FTScoreNet, ModelConfig
from nasplug.proxies.ftscorenet.ensemble import ScoreEnsemble
from nasplug.proxies.ftscorenet.train import LabelledSet, TrainConfig, train

#: Training / test target per space (docs/methods/ftscorenet.md 1.4, as far as our tables go).
TARGETS = {"nb201": "cifar100_test", "nb101": "val_accuracy", "nb_macro": "mean_acc",
           "transnas_micro": "class_object", "darts": "val_accuracy"}
LABELS = {"nb201": "NB201", "nb101": "NB101", "nb_macro": "Macro", "transnas_micro": "TransNAS-micro",
          "darts": "NB301/DARTS"}
#: Measured wall time of the default settings (bench/results/ftscorenet_quick.md).
QUICK_MINUTES = "17 min on this machine at load 8 (bench/results/ftscorenet_quick.md)"
#: Paper Table VI and, for the same train/test space, the diagonal of Tables I (v-norm) and II.
PAPER_TABLE_VI = {"kendall_tau": 0.749, "spearman": 0.904}
PAPER_DIAGONAL = {"nb201": (0.939, 0.926), "nb101": (0.877, 0.854), "nb_macro": (0.979, 0.979), "darts": (0.746, 0.774)}
PAPER_BASELINES = {"nb201": {"params": 0.725, "naswot": 0.824}, "nb101": {"params": 0.431, "naswot": 0.388},
                   "nb_macro": {"params": 0.317, "naswot": 0.900}, "darts": {"params": 0.668, "naswot": 0.647}}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", type=int, default=16, help="synthetic images (paper 64)")
    p.add_argument("--input-size", type=int, default=16, help="side of the synthetic images (paper 32)")
    p.add_argument("--archs-per-step", type=int, default=7, help="architectures per step (7; 0 = all labelled)")
    p.add_argument("--sections", default="nb201,cross,search,timing")
    # Table VI
    p.add_argument("--nb201-train", type=int, default=100)
    p.add_argument("--nb201-steps", type=int, default=30, help="paper: 200 (with 100 archs per step)")
    p.add_argument("--nb201-eval", default="500", help="held-out NB201 architectures scored, or 'all'")
    p.add_argument("--eval-by-graph", action="store_true",
                   help="score one architecture per distinct network (space.graph_key) and give its score to the "
                        "others with the same key (4,930 networks for the 15,625 cells), checked on --graph-check cells")
    p.add_argument("--graph-check", type=int, default=200,
                   help="with --eval-by-graph: cells scored directly to compare with the score they were given")
    p.add_argument("--curve-every", type=int, default=10)
    p.add_argument("--curve-archs", type=int, default=100)
    # cross-space table and ensemble
    p.add_argument("--spaces", default="nb201,nb101,nb_macro,transnas_micro,darts")
    p.add_argument("--transnas-task", default="class_object")
    p.add_argument("--cross-steps", type=int, default=4, help="training steps per space")
    p.add_argument("--cross-test", type=int, default=20, help="held-out architectures per space")
    p.add_argument("--no-iterated", action="store_true", help="skip the scorer trained by iterating over all spaces")
    # training length per space
    p.add_argument("--steps-spaces", default="darts", help="spaces of the 'steps' section (comma list)")
    p.add_argument("--steps-marks", default="30,60,100,150,200,300",
                   help="training steps at which the 'steps' section scores the cross-table test set")
    # search
    p.add_argument("--search-pop", type=int, default=12, help="paper: 512")
    p.add_argument("--search-gens", type=int, default=3, help="paper: 100")
    p.add_argument("--budget", type=float, default=1e6)
    p.add_argument("--name", default="ftscorenet", help="results file stem under bench/results/")
    p.add_argument("--ckpt-dir", default="~/.cache/nasplug/ftscorenet",
                   help="trained cross-table scorers are kept here and reused by later runs with the same settings")
    p.add_argument("--retrain", action="store_true", help="ignore scorers kept in --ckpt-dir")
    p.add_argument("--checkpoint-every", type=int, default=5,
                   help="NAS-Bench-201 training steps between checkpoints in --ckpt-dir (a killed run resumes there)")
    p.add_argument("--resume", action="store_true",
                   help="keep the sections already in bench/results/<name>.json (same settings) and run the others")
    return p.parse_args()


def model_config(args: argparse.Namespace, vnorm: bool = True) -> ModelConfig:
    return ModelConfig(images=args.images, input_size=args.input_size, mlp_width=args.images, vnorm=vnorm)


def ckpt_dir(args: argparse.Namespace) -> Path:
    """Where trained scorers are kept between runs (outside the repository)."""
    path = Path(args.ckpt_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_tag(args: argparse.Namespace, train_name: str, key: str) -> str:
    """A file stem naming every setting a cross-table scorer depends on."""
    spec = repr((args.seed, args.images, args.input_size, args.archs_per_step, args.cross_steps, args.cross_test,
                 args.spaces, args.transnas_task))
    return f"cross-{train_name}-{key}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"


def load_done(args: argparse.Namespace, tag: str) -> dict[str, Any] | None:
    """The stored scores of an already trained scorer, or None."""
    meta, weights = ckpt_dir(args) / f"{tag}.json", ckpt_dir(args) / f"{tag}.pt"
    if args.retrain or not (meta.is_file() and weights.is_file()):
        return None
    return json.loads(meta.read_text())


def correlations(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {"spearman": metrics.spearman(scores, truth), "kendall_tau": metrics.kendall_tau(scores, truth)}


# --- Table VI ---------------------------------------------------------------------------------
def section_nb201(args: argparse.Namespace) -> dict[str, Any]:
    reg = registry()
    space = reg.create("space", "nb201")
    bench = space.load_benchmark()
    rng = derive_rng(args.seed, "nb201-split")
    everything = list(space.enumerate())
    order = rng.permutation(len(everything))
    train_archs = [everything[i] for i in order[:args.nb201_train]]
    rest = [everything[i] for i in order[args.nb201_train:]]
    n_eval = len(rest) if args.nb201_eval == "all" else min(int(args.nb201_eval), len(rest))
    eval_archs = rest[:n_eval]
    curve_archs = rest[:args.curve_archs]
    y_train = bench.query_many(train_archs, "cifar100_test")
    y_curve = bench.query_many(curve_archs, "cifar100_test")
    model = FTScoreNet(model_config(args), seed=derive_seed(args.seed, "nb201-init"))
    spec = repr((args.seed, args.images, args.input_size, args.archs_per_step, args.nb201_train, args.nb201_steps,
                 args.curve_every, args.curve_archs))
    tag = f"nb201-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"
    weights, meta = ckpt_dir(args) / f"{tag}.pt", ckpt_dir(args) / f"{tag}.json"
    if weights.is_file() and meta.is_file() and not args.retrain:  # trained by an earlier, interrupted run
        model.load_state_dict(torch.load(weights, weights_only=True)["state_dict"])
        trained = json.loads(meta.read_text())
        print(f"  reusing {tag}", flush=True)
    else:
        # training checkpoints every few steps, and the curve so far, so a killed run resumes
        progress, curve_file = ckpt_dir(args) / f"{tag}-train.pt", ckpt_dir(args) / f"{tag}-curve.json"
        curve: list[dict[str, float]] = json.loads(curve_file.read_text()) if progress.is_file() and curve_file.is_file() else []

        def record(step: int, m: FTScoreNet) -> None:
            if any(c["step"] == step + 1 for c in curve):  # scored before the run was killed
                return
            if (step + 1) % args.curve_every == 0 or step == 0:
                s = m.score_many(space, curve_archs)
                curve.append({"step": step + 1, "spearman": metrics.spearman(s, y_curve),
                              "kendall_tau": metrics.kendall_tau(s, y_curve)})
                curve_file.write_text(json.dumps(curve))
                print(f"  nb201 step {step + 1}: held-out Spearman {curve[-1]['spearman']:.3f}", flush=True)

        if not curve:
            s0 = model.score_many(space, curve_archs)
            curve.append({"step": 0, "spearman": metrics.spearman(s0, y_curve), "kendall_tau": metrics.kendall_tau(s0, y_curve)})
        history = train(model, [LabelledSet("nb201", space, train_archs, y_train)],
                        TrainConfig(steps=args.nb201_steps, archs_per_step=args.archs_per_step),
                        seed=derive_seed(args.seed, "nb201-train"), callback=record,
                        checkpoint=progress, checkpoint_every=args.checkpoint_every)
        # the training steps' own time (curve scoring excluded), summed over resumed invocations
        trained = {"train_seconds": float(sum(h.seconds for h in history)), "curve": curve,
                   "seconds_per_step": float(np.mean([h.seconds for h in history])) if history else math.nan,
                   "train_soft_spearman": [h.soft_spearman for h in history]}
        model.clear_cache()
        model.save(weights)
        meta.write_text(json.dumps(trained))
    start = time.perf_counter()
    if args.eval_by_graph:
        scored, scores, check = score_by_graph(args, model, space, eval_archs, tag)
    else:
        scored, scores, check = eval_archs, score_chunks(args, model, space, eval_archs, f"{tag}-eval"), None
    score_seconds = (time.perf_counter() - start) / (len(scored) + (check["cells"] if check else 0))
    result = {"train_archs": len(train_archs), "eval_archs": len(eval_archs), "steps": args.nb201_steps,
              **trained, "seconds_per_scored_arch": score_seconds, "scored_networks": len(scored), "datasets": {}}
    if check is not None:
        result["graph_check"] = check
    for metric in ("cifar10_test", "cifar100_test", "imagenet16_test"):
        result["datasets"][metric] = correlations(scores, bench.query_many(eval_archs, metric))
    return result


def score_chunks(args: argparse.Namespace, model: FTScoreNet, space: Any, archs: list, stem: str) -> np.ndarray:
    """Scores of ``archs`` in chunks of 500 kept on disk: a long scoring survives interruption."""
    scores = []
    for i in range(0, len(archs), 500):
        chunk = ckpt_dir(args) / f"{stem}{i}-{len(archs[i:i + 500])}.npy"
        if chunk.is_file() and not args.retrain:
            scores.append(np.load(chunk))
        else:
            scores.append(model.score_many(space, archs[i:i + 500]))
            np.save(chunk, scores[-1])
    return np.concatenate(scores) if scores else np.zeros(0)


def score_by_graph(args: argparse.Namespace, model: FTScoreNet, space: Any, archs: list,
                   tag: str) -> tuple[list, np.ndarray, dict[str, Any]]:
    """Score the first cell of each ``space.graph_key`` among ``archs`` and give every cell its
    key's score. Cells with one key build the same network up to the order of summed terms and
    edges that carry no signal, so they score alike up to rounding; ``--graph-check`` other cells
    are scored directly to measure how alike (rank agreement and the largest difference in units
    of the scores' spread)."""
    keys = [space.graph_key(a) for a in archs]
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    reps = [archs[i] for i in first.values()]
    rep_scores = dict(zip(first, score_chunks(args, model, space, reps, f"{tag}-graph")))
    scores = np.array([rep_scores[k] for k in keys])
    others = [i for i, k in enumerate(keys) if first[k] != i]
    rng = derive_rng(args.seed, "nb201-graph-check")
    picked = sorted(rng.choice(len(others), size=min(args.graph_check, len(others)), replace=False).tolist())
    direct = score_chunks(args, model, space, [archs[others[j]] for j in picked], f"{tag}-graphcheck")
    given = scores[[others[j] for j in picked]]
    check = {"cells": len(picked), "spearman_direct_vs_given": metrics.spearman(direct, given) if len(picked) > 2 else math.nan,
             "max_abs_diff_over_score_std": float(np.max(np.abs(direct - given)) / np.std(scores)) if len(picked) else math.nan}
    return reps, scores, check


# --- cross-space table, ensemble ------------------------------------------------------------
def load_sets(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    reg = registry()
    sets = {}
    for name in [s for s in args.spaces.split(",") if s]:
        try:
            space = reg.create("space", name)
            bench = space.load_benchmark()
        except Exception as exc:  # noqa: BLE001 - a space being written elsewhere is skipped, said so
            print(f"  skipping {name}: {type(exc).__name__}: {exc}")
            continue
        metric = args.transnas_task if name == "transnas_micro" else TARGETS[name]
        archs = list(bench.architectures())
        y = bench.query_many(archs, metric)
        keep = np.flatnonzero(np.isfinite(y))
        order = derive_rng(args.seed, "cross-split", name).permutation(keep)
        n_test = min(args.cross_test, len(order) // 2)
        test_idx, train_idx = order[:n_test], order[n_test:]
        sets[name] = {"space": space, "metric": metric, "train": [archs[i] for i in train_idx], "y_train": y[train_idx],
                      "test": [archs[i] for i in test_idx], "y_test": y[test_idx]}
    return sets


def baseline_scores(sets: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """params, FLOPs and naswot (20 real CIFAR-10 test images, batch 16) on each test set."""
    from nasplug.core.data import load_image_batch
    from nasplug.core.interfaces.proxy import ProxyContext

    reg = registry()
    x, y, classes = load_image_batch(benchmarks_dir() / "images" / "cifar10_test_20.npz", 16, 10)
    out: dict[str, dict[str, float]] = {}
    for name, data in sets.items():
        out[name] = {}
        for proxy_name in ("params", "flops", "naswot"):
            try:
                proxy = reg.create("proxy", proxy_name, space=data["space"])
                ctx = ProxyContext(seed=0, batch=(x, y) if proxy.needs_data else None, num_classes=classes)
                vals = np.array([proxy.fitness(proxy.score(a, ctx)) for a in data["test"]], dtype=float)
                vals = np.where(np.isfinite(vals), vals, np.nanmin(np.where(np.isfinite(vals), vals, np.nan)) - 1)
                out[name][proxy_name] = metrics.spearman(vals, data["y_test"])
            except Exception as exc:  # noqa: BLE001 - a baseline that fails is reported, not fatal
                print(f"  {proxy_name} on {name} failed: {type(exc).__name__}: {exc}")
                out[name][proxy_name] = math.nan
    return out


def section_cross(args: argparse.Namespace) -> dict[str, Any]:
    sets = load_sets(args)
    names = list(sets)
    table: dict[str, dict[str, dict[str, float]]] = {"vnorm": {}, "no_vnorm": {}}
    raw_scores: dict[str, dict[str, list[float]]] = {}
    members: dict[str, FTScoreNet] = {}
    step_seconds: dict[str, float] = {}
    score_seconds: dict[str, list[float]] = {n: [] for n in names}
    cfg = TrainConfig(steps=args.cross_steps, archs_per_step=args.archs_per_step)
    runs = [(vn, n) for vn in (True, False) for n in names]
    if not args.no_iterated and len(names) > 1:
        runs.insert(len(names), (True, "all"))
    for vnorm, train_name in runs:
        key = "vnorm" if vnorm else "no_vnorm"
        tag = run_tag(args, train_name, key)
        done = load_done(args, tag)
        model = FTScoreNet(model_config(args, vnorm), seed=derive_seed(args.seed, "cross-init", train_name))
        if done is not None:
            model.load_state_dict(torch.load(ckpt_dir(args) / f"{tag}.pt", weights_only=True)["state_dict"])
            print(f"  reusing {tag}", flush=True)
        else:
            train_sets = [LabelledSet(n, sets[n]["space"], sets[n]["train"], sets[n]["y_train"])
                          for n in (names if train_name == "all" else [train_name])]
            steps = cfg if train_name != "all" else TrainConfig(steps=cfg.steps * len(names), archs_per_step=cfg.archs_per_step)
            history = train(model, train_sets, steps, seed=derive_seed(args.seed, "cross-train", train_name, key))
            done = {"step_seconds": float(np.mean([h.seconds for h in history])), "scores": {}, "score_seconds": {}}
            for test_name in names:
                start = time.perf_counter()
                s = model.score_many(sets[test_name]["space"], sets[test_name]["test"])
                done["score_seconds"][test_name] = (time.perf_counter() - start) / len(s)
                done["scores"][test_name] = s.tolist()
            model.clear_cache()
            model.save(ckpt_dir(args) / f"{tag}.pt")
            (ckpt_dir(args) / f"{tag}.json").write_text(json.dumps(done))
        if vnorm:
            step_seconds[train_name] = done["step_seconds"]
        row = {}
        for test_name in names:
            score_seconds[test_name].append(done["score_seconds"][test_name])
            row[test_name] = metrics.spearman(done["scores"][test_name], sets[test_name]["y_test"])
            if vnorm and train_name != "all":
                raw_scores.setdefault(train_name, {})[test_name] = done["scores"][test_name]
        table[key][train_name] = row
        if vnorm and train_name != "all":
            members[train_name] = model
        print(f"  trained on {train_name} ({key}): " + ", ".join(f"{t} {v:.3f}" for t, v in row.items()), flush=True)
    cached = ckpt_dir(args) / f"{run_tag(args, 'baselines', 'spearman')}.json"
    if cached.is_file() and not args.retrain:
        baselines = json.loads(cached.read_text())
    else:
        baselines = baseline_scores(sets)
        cached.write_text(json.dumps(baselines))
    ensemble = fit_ensemble(args, sets, members, raw_scores) if len(members) > 1 else {}
    return {"spaces": names, "targets": {n: sets[n]["metric"] for n in names},
            "train_pool": {n: len(sets[n]["train"]) for n in names}, "test_archs": {n: len(sets[n]["test"]) for n in names},
            "table": table, "baselines": baselines, "ensemble": ensemble, "seconds_per_step": step_seconds,
            "seconds_per_scored_arch": {n: float(np.mean(v)) for n, v in score_seconds.items() if v},
            "_members": members, "_sets": sets}


def fit_ensemble(args: argparse.Namespace, sets: dict[str, Any], members: dict[str, FTScoreNet],
                 raw: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Eq. 4 fitted by differential evolution on the first half of each test set, reported on
    the second half (so the reported Spearman is on architectures the weights never saw)."""
    names = list(members)
    spaces = list(sets)
    fit_scores, fit_y, eval_scores, eval_y = [], [], [], []
    for t in spaces:
        s = np.array([raw[m][t] for m in names])
        y = np.asarray(sets[t]["y_test"])
        half = len(y) // 2
        fit_scores.append(s[:, :half]), fit_y.append(y[:half])
        eval_scores.append(s[:, half:]), eval_y.append(y[half:])
    ens = ScoreEnsemble([members[n] for n in names], names)
    fitted = ens.fit(fit_scores, fit_y, own_set=[spaces.index(n) for n in names], seed=args.seed)
    per_space = {t: metrics.spearman(ens.combine(eval_scores[j]), eval_y[j]) for j, t in enumerate(spaces)}
    singles = {n: {t: metrics.spearman(eval_scores[j][i], eval_y[j]) for j, t in enumerate(spaces)}
               for i, n in enumerate(names)}
    return {"members": names, "weights": ens.weights.tolist(), "mu": ens.mu.tolist(), "sigma": ens.sigma.tolist(),
            "fit_mean_spearman": fitted, "heldout_spearman": per_space,
            "heldout_mean": float(np.nanmean(list(per_space.values()))), "members_heldout": singles, "_ensemble": ens}


# --- held-out Spearman against training length ----------------------------------------------
def section_steps(args: argparse.Namespace) -> dict[str, Any]:
    """Train the cross table's v-norm scorer of each space in ``--steps-spaces`` (same split,
    initialisation and batch seed, so its value at ``--cross-steps`` is that table's diagonal)
    for the largest mark and score the test set at every mark: how much of a gap to the paper
    is training length."""
    marks = sorted({int(m) for m in args.steps_marks.split(",") if m.strip()})
    sets = load_sets(argparse.Namespace(**{**vars(args), "spaces": args.steps_spaces}))
    out: dict[str, Any] = {"marks": marks, "spaces": {}}
    for name, data in sets.items():
        model = FTScoreNet(model_config(args, True), seed=derive_seed(args.seed, "cross-init", name))
        curve: dict[int, float] = {}

        def record(step: int, m: FTScoreNet) -> None:
            if step + 1 in marks:
                curve[step + 1] = metrics.spearman(m.score_many(data["space"], data["test"]), data["y_test"])
                m.clear_cache()
                print(f"  {name} step {step + 1}: held-out Spearman {curve[step + 1]:.3f}", flush=True)

        start = time.perf_counter()
        train(model, [LabelledSet(name, data["space"], data["train"], data["y_train"])],
              TrainConfig(steps=marks[-1], archs_per_step=args.archs_per_step),
              seed=derive_seed(args.seed, "cross-train", name, "vnorm"), callback=record)
        out["spaces"][name] = {"test_archs": len(data["test"]), "train_pool": len(data["train"]),
                               "spearman": {str(k): v for k, v in curve.items()}, "seconds": time.perf_counter() - start}
    return out


# --- search ---------------------------------------------------------------------------------
def section_search(args: argparse.Namespace, scorer: Any, scorer_name: str) -> dict[str, Any]:
    """The registered ``nsga2_de`` strategy driven in-process (the core's ``drive``) with the
    in-memory scorer (scores cached per structure, as a search run answers repeats)."""
    space = registry().create("space", {"name": "zen_resnet", "max_params": int(args.budget)})
    strategy = registry().create("strategy", {"name": "nsga2_de", "population": args.search_pop,
                                              "generations": args.search_gens},
                                 space=space, seed=derive_seed(args.seed, "search"))
    start = time.perf_counter()
    drive(strategy, lambda arch: scorer.score(space, arch))
    seconds = time.perf_counter() - start
    result = strategy.results()
    front = [{"arch": r["arch"], "score": r["score"], "size": int(r["model_size"])} for r in result["front"]]
    best = next((r for r in front if r["arch"] == result["best"].get("arch")), {})
    return {"scorer": scorer_name, "population": args.search_pop, "generations": args.search_gens,
            "budget": int(args.budget), "evaluations": result["evaluations"], "seconds": seconds,
            "best": best, "front": front, "history": result["history"],
            "best_layers": space.num_layers(space.parse(best["arch"])) if best else None}


# --- timing at the paper's size ----------------------------------------------------------------
def section_timing(args: argparse.Namespace) -> dict[str, Any]:
    from nasplug.proxies.ftscorenet.train import step_gradients

    space = registry().create("space", "nb201")
    archs = space.sample_many(7, derive_rng(args.seed, "timing"))
    out = {}
    for label, cfg in (("paper (64 x 32)", ModelConfig()), (f"bench ({args.images} x {args.input_size})", model_config(args))):
        model = FTScoreNet(cfg, seed=0)
        model.score(space, archs[0])  # warm-up
        start = time.perf_counter()
        model.score_many(space, archs[1:4])
        per_arch = (time.perf_counter() - start) / 3
        start = time.perf_counter()
        step_gradients(model, space, archs, np.arange(7.0))
        out[label] = {"seconds_per_scored_arch": per_arch, "seconds_per_step_7_archs": time.perf_counter() - start}
    return out


# --- reporting ------------------------------------------------------------------------------
def plot_curve(nb201: dict[str, Any], name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [c["step"] for c in nb201["curve"]]
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    ax.plot(steps, [c["spearman"] for c in nb201["curve"]], marker="o", label="held-out Spearman (CIFAR-100)")
    ax.plot(steps, [c["kendall_tau"] for c in nb201["curve"]], marker="s", label="held-out Kendall tau")
    soft = np.asarray(nb201["train_soft_spearman"], dtype=float)
    if len(soft):
        window = max(1, len(soft) // 10)
        smooth = np.convolve(soft, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(soft) + 1), smooth, color="grey", lw=1, label=f"train soft Spearman ({window}-step mean)")
    ax.axhline(PAPER_TABLE_VI["spearman"], color="k", ls=":", lw=1, label="paper Table VI Spearman (0.904)")
    ax.set_xlabel("training step")
    ax.set_ylabel("correlation")
    ax.set_title("FT-ScoreNet on NAS-Bench-201, 100 labels (cf. paper Fig. 5f)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}_curve.png", dpi=110)
    plt.close(fig)


def fmt(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def graph_note(r: dict[str, Any]) -> str:
    """How the held-out cells were scored when one network per graph key was scored."""
    c = r.get("graph_check")
    if not c:
        return ""
    return (f" One cell per distinct network was scored ({r['scored_networks']:,} networks, `--eval-by-graph`) and its "
            f"score given to the cells with the same graph key; {c['cells']} of those cells scored directly agree "
            f"with the score they were given at Spearman {fmt(c['spearman_direct_vs_given'])}, largest difference "
            f"{fmt(c['max_abs_diff_over_score_std'])} standard deviations of the scores.")


def train_cost_note(r: dict[str, Any]) -> str:
    """The training cost of the NB201 scorer, when it was measured."""
    if not r.get("train_seconds"):
        return ""
    return (f" Training took {r['train_seconds'] / 3600:.2f} CPU-hours ({r['seconds_per_step']:.1f} s per step); "
            f"scoring {r['seconds_per_scored_arch']:.2f} s per network.")


def markdown(args: argparse.Namespace, res: dict[str, Any]) -> str:
    md = ["# FT-ScoreNet", "",
          f"Settings: synthetic input {args.images} x 3 x {args.input_size} x {args.input_size} (paper 64 x 3 x 32 x 32), "
          f"kernel bank 64 x 64 x 7 x 7, L1 width 100, Adam lr 1e-3 betas (0.9, 0.95), soft-rank l2 strength 3.0, "
          f"{args.archs_per_step or 'all'} architectures per step, seed {args.seed}. Command: "
          f"`{res['command']}`. CPU, 1 torch thread, a 2-core machine shared with other benches (1-minute load "
          f"average {res.get('load', '?')} when the last invocation ended). "
          + (f"Produced section by section with `--resume` ({res['invocations']} invocations; runs killed from "
             "outside resumed from the scorers and scores kept in `--ckpt-dir`), so there is no single wall time. "
             if res.get("invocations", 1) > 1 else f"Wall time {res['seconds'] / 60:.1f} min. ")
          + f"The default settings take {QUICK_MINUTES}.", ""]
    if "nb201" in res:
        r = res["nb201"]
        md += ["## Prediction on NAS-Bench-201 (paper Table VI, Fig. 5f)", "",
               f"Trained on {r['train_archs']} random architectures with CIFAR-100 accuracy (the table's 200-epoch "
               f"test accuracy: our data has no CIFAR-100 validation column), {r['steps']} steps; scored on "
               f"{r['eval_archs']:,} other architectures (the paper scores all 15,625, training ones included, after "
               "200 steps of 100 architectures)." + graph_note(r) + train_cost_note(r), "",
               "| test accuracy | Kendall tau | Spearman | paper (Kendall / Spearman) |", "|---|---|---|---|"]
        for metric, c in r["datasets"].items():
            paper = f"{PAPER_TABLE_VI['kendall_tau']} / {PAPER_TABLE_VI['spearman']}" if metric == "cifar100_test" else "–"
            md.append(f"| {metric} | {fmt(c['kendall_tau'])} | {fmt(c['spearman'])} | {paper} |")
        md += ["", "Learning curve (held-out Spearman, CIFAR-100): " +
               ", ".join(f"{c['step']}: {c['spearman']:.3f}" for c in r["curve"]) + f" — `{args.name}_curve.png`.", ""]
    if "cross" in res:
        c = res["cross"]
        names = c["spaces"]
        md += ["## Cross-space Spearman (paper Tables I-II analogue)", "",
               "Row: space tested; column: space the scorer was trained on (`all` = one scorer trained by iterating "
               "over the spaces). Targets: " + ", ".join(f"{LABELS[n]} `{c['targets'][n]}`" for n in names) +
               f". {args.cross_steps} steps per space, tested on " +
               ", ".join(f"{c['test_archs'][n]}" for n in names) + " held-out architectures. Paper values (same "
               "train/test space, v-norm / no v-norm; its baselines) in brackets.", ""]
        for key, title in (("vnorm", "with v-norm (Table I)"), ("no_vnorm", "without v-norm (Table II)")):
            cols = list(c["table"][key])
            md += [f"### {title}", "", "| tested on | " + " | ".join(f"FT {LABELS.get(t, t)}" for t in cols) +
                   " | params | FLOPs | naswot |", "|---" * (len(cols) + 4) + "|"]
            for test in names:
                cells = []
                for t in cols:
                    cell = fmt(c["table"][key][t][test])
                    if t == test and test in PAPER_DIAGONAL:
                        cell += f" [{PAPER_DIAGONAL[test][0 if key == 'vnorm' else 1]}]"
                    cells.append(cell)
                base = c["baselines"].get(test, {})
                paper = PAPER_BASELINES.get(test, {})
                cells += [fmt(base.get("params")) + (f" [{paper['params']}]" if "params" in paper else ""),
                          fmt(base.get("flops")),
                          fmt(base.get("naswot")) + (f" [{paper['naswot']}]" if "naswot" in paper else "")]
                md.append(f"| {LABELS[test]} | " + " | ".join(cells) + " |")
            md.append("")
        e = c.get("ensemble")
        if e:
            md += ["## Ensemble of the per-space scorers (Eq. 4)", "",
                   "Weights fitted by differential evolution on the first half of each test set (mean Spearman "
                   f"{e['fit_mean_spearman']:.3f}); Spearman on the second half:", "",
                   "| space | ensemble | best single member (which) |", "|---|---|---|"]
            for t, v in e["heldout_spearman"].items():
                best = max(e["members_heldout"], key=lambda m: np.nan_to_num(e["members_heldout"][m][t], nan=-2))
                md.append(f"| {LABELS[t]} | {fmt(v)} | {fmt(e['members_heldout'][best][t])} ({LABELS[best]}) |")
            md += [f"| mean | {fmt(e['heldout_mean'])} | |", "",
                   "Weights: " + ", ".join(f"{LABELS[m]} {w:.3f}" for m, w in zip(e["members"], e["weights"])) + ".", ""]
    if "steps" in res:
        st = res["steps"]
        md += ["## Training length (v-norm scorer, same space)", "",
               f"`--sections steps --steps-spaces {args.steps_spaces} --steps-marks {args.steps_marks}`: held-out "
               f"Spearman after each number of steps ({args.archs_per_step} architectures per step), on the cross "
               "table's test set; the cross table's diagonal is the value at its step count.", "",
               "| space | " + " | ".join(f"{m} steps" for m in st["marks"]) + " | paper |", "|---" * (len(st["marks"]) + 2) + "|"]
        for n, r in st["spaces"].items():
            md.append(f"| {LABELS.get(n, n)} | " + " | ".join(fmt(r["spearman"].get(str(m))) for m in st["marks"]) +
                      f" | {PAPER_DIAGONAL.get(n, ('–',))[0]} |")
        md.append("")
    if "search" in res:
        s = res["search"]
        best = s["best"] or {}
        md += ["## NSGA-II-DE in the Zen-NAS ResNet-like space", "",
               f"Scorer: {s['scorer']}. Population {s['population']}, {s['generations']} generations (paper 512 x 100), "
               f"budget {s['budget']:,} parameters (Zen-NAS count), {s['evaluations']} scored architectures, "
               f"{s['seconds']:.0f} s. Front: {len(s['front'])} architectures.", "",
               f"Chosen (highest score with >= 90% of the budget): `{best.get('arch', '–')}` — "
               f"{best.get('size', 0):,} parameters, {s['best_layers']} layers, score {fmt(best.get('score'))}. "
               "The paper's searched networks reach 96.6-96.7% on CIFAR-10 after 1440 epochs; we do not train it.", ""]
    if "timing" in res:
        md += ["## Timing (CPU, 1 thread, machine load as stated above)", "", "| model | s / scored arch | s / step (7 archs) |", "|---|---|---|"]
        for label, t in res["timing"].items():
            md.append(f"| NB201, {label} | {t['seconds_per_scored_arch']:.2f} | {t['seconds_per_step_7_archs']:.1f} |")
        if "cross" in res:
            for n, v in res["cross"]["seconds_per_scored_arch"].items():
                md.append(f"| {LABELS[n]}, bench model | {v:.2f} | {res['cross']['seconds_per_step'].get(n, math.nan):.1f} |")
        md.append("")
    return "\n".join(md)


SECTION_KEYS = {"nb201": ("seed", "images", "input_size", "archs_per_step", "nb201_train", "nb201_steps", "nb201_eval",
                           "curve_every", "curve_archs"),
                 "cross": ("seed", "images", "input_size", "archs_per_step", "spaces", "transnas_task", "cross_steps",
                           "cross_test", "no_iterated"),
                 "search": ("seed", "images", "input_size", "archs_per_step", "spaces", "transnas_task", "cross_steps",
                            "cross_test", "search_pop", "search_gens", "budget"),
                 "timing": ("seed", "images", "input_size"),
                 "steps": ("seed", "images", "input_size", "archs_per_step", "transnas_task", "cross_test",
                           "steps_spaces", "steps_marks")}


def previous_sections(args: argparse.Namespace) -> dict[str, Any]:
    """Sections of an earlier run with the same settings (``--resume``)."""
    path = RESULTS / f"{args.name}.json"
    if not args.resume or not path.is_file():
        return {}
    old = json.loads(path.read_text())
    settings = old.get("settings", {})
    kept = {}
    for section, keys in SECTION_KEYS.items():
        if section in old and all(settings.get(k) == getattr(args, k) for k in keys):
            kept[section] = old[section]
            kept.setdefault("section_settings", {})[section] = {k: settings.get(k) for k in keys}
    if kept:
        kept["seconds"] = float(old.get("seconds", 0.0))
        kept["invocations"] = int(old.get("invocations", 1))
    return kept


def main() -> None:
    import sys

    benchmarks_dir()
    torch.set_num_threads(1)
    args = parse_args()
    sections = set(args.sections.split(","))
    start = time.perf_counter()
    argv, skip = [], False
    for a in sys.argv[1:]:  # the settings, without the bookkeeping flags
        if skip or a == "--resume":
            skip = False
            continue
        skip = a == "--sections"
        if not skip and not a.startswith("--sections="):
            argv.append(a)
    res: dict[str, Any] = {"command": " ".join(["bench/ftscorenet.py", *argv]), "settings": vars(args)}
    kept = previous_sections(args)
    elapsed = kept.pop("seconds", 0.0)
    previous_invocations = kept.pop("invocations", 0)
    res["invocations"] = previous_invocations + 1 if kept else 1
    ran = False
    res.update({k: v for k, v in kept.items() if k != "section_settings"})

    def save() -> None:
        res["load"] = round(os.getloadavg()[0], 1)
        if ran or not kept:
            res["seconds"] = elapsed + time.perf_counter() - start
        else:  # nothing run: only the report is rewritten
            res["seconds"], res["invocations"] = elapsed, previous_invocations
        write_results(args.name, res, markdown(args, res))

    if "nb201" in sections and "nb201" not in res:
        print("Table VI: NB201 prediction", flush=True)
        ran = True
        res["nb201"] = section_nb201(args)
        plot_curve(res["nb201"], args.name)
        save()
    scorer, scorer_name = None, ""
    if ("cross" in sections and "cross" not in res) or ("search" in sections and "search" not in res):
        print("cross-space table (trained scorers are reused from --ckpt-dir)", flush=True)
        ran = True
        cross = section_cross(args)
        members = cross.pop("_members")
        cross.pop("_sets")
        if cross["ensemble"]:
            scorer, scorer_name = cross["ensemble"].pop("_ensemble"), "ensemble of the per-space scorers (Eq. 4)"
        elif members:
            name = next(iter(members))
            scorer, scorer_name = members[name], f"scorer trained on {name}"
        if "cross" in sections:
            res["cross"] = cross
            save()
    if "search" in sections and "search" not in res:
        print("NSGA-II-DE search", flush=True)
        ran = True
        res["search"] = section_search(args, scorer, scorer_name)
        save()
    if "steps" in sections and "steps" not in res:
        print("training length", flush=True)
        ran = True
        res["steps"] = section_steps(args)
        save()
    if "timing" in sections and "timing" not in res:
        print("timing", flush=True)
        ran = True
        res["timing"] = section_timing(args)
    save()


if __name__ == "__main__":
    main()
