"""Zero-cost proxies on NAS-Bench-201 through real ``score`` runs, against published correlations.

Every proxy scores the same seeded random sample of cells (a score run with the same seed draws
the same sample, and a smaller sample is a prefix of a larger one):

- CIFAR-10 pass (``--n`` cells): the 20 CIFAR-10 test images, a 10-class head; the scores are
  correlated with the 200-epoch test accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120;
- CIFAR-100 pass (``--n100`` cells, a prefix of the same sample): the 20 CIFAR-100 test images
  and a 100-class head, correlated with CIFAR-100 and ImageNet16-120 (no ImageNet16 images are
  available; the CIFAR-100 batch stands in). Zen never reads the classifier or the data, so its
  CIFAR-10 scores are reused.

It reports Spearman, Kendall tau and top-10% retrieval next to the published values, the rank
agreement of our synflow / logsynflow / naswot / nregions with the third-party (FreeREA) scores of
the same cells, our synflow under FreeREA's protocol (Kaiming fan-out init, mean of 3 inits),
NASLib's (NAS-Bench-Suite-Zero) stored scores on its own subset, the ensembles (exact rank vote
over the sample, and the ``vote`` / ``weighted`` plugins' own score runs on ``--ensemble-n``
cells), optionally all 15,625 cells for synflow and logsynflow, and seconds per architecture.

    .venv/bin/python bench/zero_cost.py            # defaults: --n 40 --n100 20 --ensemble-n 10
    .venv/bin/python bench/zero_cost.py --n 1000 --n100 300 --ensemble-n 200   # committed run

Runs are stored under ``--cache`` (outside the repository) and resumed, so a long run can be
interrupted and continued; ``--report-only`` writes the tables from the finished runs only.
Writes bench/results/zero_cost.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import benchmarks_dir, write_results
from nasplug.core import metrics
from nasplug.core.config import RunConfig
from nasplug.core.runs import run
from nasplug.core.store import Store

#: In order of cost, so that a long run finishes the cheap proxies first.
PROXIES = ["params", "synflow", "logsynflow", "nregions", "naswot", "jacov", "grad_norm", "snip", "fisher", "ntk",
           "zen", "grasp"]
ALL_METRICS = ["cifar10_test", "cifar100_test", "imagenet16_test"]
#: Published Spearman with CIFAR-10 test accuracy on NAS-Bench-201 (all cells).
PUBLISHED_C10 = {"synflow": 0.737, "jacov": 0.731, "snip": 0.596, "grad_norm": 0.594, "grasp": 0.514,
                 "fisher": 0.36, "naswot": 0.79, "logsynflow": 0.826, "params": 0.753}
PUBLISHED_SOURCE = {"synflow": "Abdelfattah 2021", "jacov": "Abdelfattah 2021", "snip": "Abdelfattah 2021",
                    "grad_norm": "Abdelfattah 2021", "grasp": "Abdelfattah 2021", "fisher": "Abdelfattah 2021",
                    "naswot": "FreeREA cache", "logsynflow": "FreeREA cache", "params": "FreeREA cache"}
PASSES = {
    "cifar10": {"images": "cifar10_test_20.npz", "classes": 10, "metrics": ALL_METRICS,
                "reference": "cifar10"},
    "cifar100": {"images": "cifar100_test_20.npz", "classes": 100, "metrics": ["cifar100_test", "imagenet16_test"],
                 "reference": "cifar100"},
}
CLASSIFIER_FREE = {"zen"}
REFERENCE_COLUMNS = {"synflow": "synflow", "logsynflow": "logsynflow", "naswot": "naswot", "nregions": "nregions"}
SUITE_ZERO = {"synflow": "synflow", "snip": "snip", "grad_norm": "grad_norm", "grasp": "grasp", "fisher": "fisher",
              "jacov": "jacov", "naswot": "nwot", "params": "params"}
VOTE = ["synflow", "jacov", "snip"]
#: Other spaces: the benchmark metrics scored against, and the stored third-party proxy columns.
OTHER_SPACES = {
    "nb101": {"metrics": ["val_accuracy"], "skip": {"zen"},  # batch 64 through the 128..512-channel net: ~20 s/cell
              "stored": {p: p for p in ("params", "synflow", "snip", "grad_norm", "grasp", "fisher", "jacov")}},
    "transnas_micro": {"metrics": ["class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic",
                                   "normal", "autoencoder"],
                       "stored": {"zen": "class_scene_zen"}},
}
OTHER_PROXIES = ["params", "synflow", "logsynflow", "naswot", "jacov", "grad_norm", "snip", "zen"]


REPORT_ONLY = False


def score_run(cache: Path, tag: str, proxy: Any, archs: Any, data: dict[str, Any] | None, metric_names: list[str],
              seed: int, space: str = "nb201") -> tuple[dict[str, Any], list[Any]] | None:
    """A (resumed) score run; its result and its evaluation records (``None`` with
    ``--report-only`` when the run has not finished)."""
    path = cache / f"{tag}.db"
    cfg: dict[str, Any] = {"kind": "score", "seed": seed, "space": space, "proxy": proxy,
                           "score": {"archs": archs, "metrics": metric_names}, "store": {"path": str(path)}}
    if data:
        cfg["data"] = data
    latest = None
    if path.exists():
        with Store(path) as store:
            latest = store.latest_run()
    resumable = latest is not None and latest.config_hash == RunConfig.from_dict(cfg).config_hash
    if REPORT_ONLY and not (resumable and latest.status == "finished"):
        return None
    start = time.perf_counter()
    result = run(cfg, resume=resumable)
    with Store(path) as store:
        records = store.evaluations(result.id)
    print(f"  {tag}: {len(records)} archs, {time.perf_counter() - start:.0f} s", flush=True)
    return result.result, records


MEMORY_SCRIPT = """
import os, sys, threading, time, numpy as np, torch
torch.set_num_threads(1)
from nasplug.core.registry import registry
from nasplug.core.data import load_image_batch
from nasplug.core.interfaces.proxy import ProxyContext
page = os.sysconf("SC_PAGE_SIZE") / 2**20
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page
space = registry().create("space", "nb201")
x, y, k = load_image_batch(sys.argv[2], 20, 10)
ctx = ProxyContext(seed=0, batch=(x, y), num_classes=10)
archs = space.sample_many(3, np.random.default_rng(0))
proxy = registry().create("proxy", sys.argv[1], space=space)
proxy.score(archs[0], ctx)  # warm-up: lazy imports and allocator pools
before, peak, done = rss(), [0.0], [False]
def poll():
    while not done[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
t = threading.Thread(target=poll); t.start()
for a in archs:
    proxy.score(a, ctx)
done[0] = True; t.join()
print(before, max(peak[0], rss()))
"""


def peak_memory(proxies: list[str], images: Path) -> dict[str, dict[str, float]]:
    """Resident memory (MB) of a fresh process before scoring and at its peak while scoring 3
    cells with the CIFAR-10 batch of 20, per proxy (polled every 2 ms from /proc)."""
    import subprocess
    import sys

    out = {}
    for name in proxies:
        done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, name, str(images)], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode == 0:
            before, peak = map(float, done.stdout.split()[-2:])
            out[name] = {"before": before, "peak": peak}
    return out


def correlations(fitness: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman / Kendall / top-10% with non-finite fitness ranked last (as score runs do)."""
    ranked = np.where(np.isfinite(fitness), fitness, -np.inf)
    floor = np.min(ranked[np.isfinite(ranked)]) - 1 if np.any(np.isfinite(ranked)) else 0.0
    ranked = np.where(np.isfinite(ranked), ranked, floor)
    return {"spearman": metrics.spearman(ranked, truth), "kendall_tau": metrics.kendall_tau(ranked, truth),
            "top10%": metrics.top_percent_retrieval(ranked, truth, 10.0)}


def read_reference(root: Path, dataset: str) -> dict[str, dict[str, float]]:
    with gzip.open(root / "nb201" / f"reference_proxies_{dataset}.csv.gz", "rt") as fh:
        return {row["arch_str"]: {k: float(v) if v else math.nan for k, v in row.items() if k not in ("index", "arch_str")}
                for row in csv.DictReader(fh)}


def suite_zero(root: Path, bench: Any) -> dict[str, Any]:
    """NASLib's proxies on its NB201 subset: Spearman with our benchmark's test accuracy."""
    out: dict[str, Any] = {}
    with open(root / "nb201" / "suite_zero_subset.csv") as fh:
        rows = list(csv.DictReader(fh))
    for dataset, metric in (("cifar10", "cifar10_test"), ("cifar100", "cifar100_test"), ("ImageNet16-120", "imagenet16_test")):
        subset = [r for r in rows if r["dataset"] == dataset]
        if not subset:
            continue
        truth = bench.query_many([r["arch_str"] for r in subset], metric)
        out[metric] = {"archs": len(subset)}
        for ours, col in SUITE_ZERO.items():
            values = np.array([float(r[col]) if r[col] else math.nan for r in subset])
            ok = np.isfinite(values)
            out[metric][ours] = metrics.spearman(values[ok], truth[ok])
    return out


def other_spaces(names: list[str], args: Any, cache: Path, root: Path) -> dict[str, Any]:
    """Proxies on NB101 / TransNAS-Bench-101 micro cells that their benchmarks label, CIFAR-10 batch."""
    from nasplug.core.registry import registry
    from nasplug.core.seeding import derive_rng

    data = {"path": str(root / "images" / PASSES["cifar10"]["images"]), "batch_size": 20, "num_classes": 10}
    result_all: dict[str, Any] = {}
    for name in names:
        spec = OTHER_SPACES[name]
        space = registry().create("space", name)
        bench = space.load_benchmark(str(root))
        pool = [space.canonical(a) for a in bench.architectures()]
        order = derive_rng(args.seed, "bench-cells", name).permutation(len(pool))
        archs = [pool[i] for i in order[:args.n_other]]
        print(f"[{name}] {len(archs)} cells", flush=True)
        rows: dict[str, Any] = {}
        for proxy in [p for p in args.other_proxies.split(",") if p and p not in spec.get("skip", ())]:
            done = score_run(cache, f"{name}-{proxy}-n{len(archs)}-s{args.seed}", proxy, archs, data, spec["metrics"],
                             args.seed, space=name)
            if done is None:
                continue
            result, records = done
            row = {k: result[k] for k in ("archs", "non_finite", "seconds_per_arch", "correlations")}
            column = spec["stored"].get(proxy)
            if column:
                ours = np.array([r.value for r in records])
                theirs = bench.query_many([r.arch for r in records], column)
                ok = np.isfinite(ours) & np.isfinite(theirs)
                if ok.sum() > 2:
                    first = bench.query_many([r.arch for r in records], spec["metrics"][0])
                    row["spearman_with_stored"] = {
                        "column": column, "spearman": metrics.spearman(ours[ok], theirs[ok]),
                        "stored_vs_" + spec["metrics"][0]: metrics.spearman(theirs[ok], first[ok])}
            rows[proxy] = row
        result_all[name] = {"archs": len(archs), "metrics": spec["metrics"], "proxies": rows}
    return result_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="random NB201 cells per proxy, CIFAR-10 pass")
    parser.add_argument("--n100", type=int, default=20, help="cells of the CIFAR-100 pass (a prefix of the sample)")
    parser.add_argument("--ensemble-n", type=int, default=10, help="cells scored by the vote/weighted plugins")
    parser.add_argument("--report-only", action="store_true", help="only read finished runs from --cache")
    parser.add_argument("--skip-memory", action="store_true", help="do not measure peak memory per proxy")
    parser.add_argument("--passes-only", action="store_true",
                        help="only the NB201 passes (no FreeREA protocol, ensembles or memory): to split a long run "
                             "over processes, each with its own --proxies")
    parser.add_argument("--proxies", default=",".join(PROXIES))
    parser.add_argument("--passes", default="cifar10,cifar100")
    parser.add_argument("--all-cells", action="store_true", help="also score all 15,625 cells with synflow and logsynflow")
    parser.add_argument("--spaces", default="nb201", help="nb201[,nb101,transnas_micro]: other spaces are "
                        "scored on --n-other benchmarked cells with --other-proxies")
    parser.add_argument("--n-other", type=int, default=10)
    parser.add_argument("--other-proxies", default=",".join(OTHER_PROXIES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=os.environ.get("NASPLUG_BENCH_CACHE", "/tmp/nasplug-bench-zero_cost"))
    args = parser.parse_args()
    global REPORT_ONLY
    REPORT_ONLY = args.report_only

    root = benchmarks_dir()
    torch.set_num_threads(1)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    proxies = [p for p in args.proxies.split(",") if p]
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    bench = space.load_benchmark(str(root))
    started = time.time()
    out: dict[str, Any] = {"settings": vars(args), "passes": {}, "published_cifar10": PUBLISHED_C10}
    archs_of_pass: dict[str, list[str]] = {}
    fitness_of: dict[str, dict[str, np.ndarray]] = {}
    for pass_name in [p for p in args.passes.split(",") if p]:
        spec = PASSES[pass_name]
        n = args.n if pass_name == "cifar10" else min(args.n100, args.n)
        data = {"path": str(root / "images" / spec["images"]), "batch_size": 20, "num_classes": spec["classes"]}
        print(f"[{pass_name}] {n} cells", flush=True)
        rows: dict[str, Any] = {}
        fitness_of[pass_name] = {}
        reference = read_reference(root, spec["reference"])
        for proxy in proxies:
            if pass_name != "cifar10" and proxy in CLASSIFIER_FREE and proxy in fitness_of.get("cifar10", {}):
                fit = fitness_of["cifar10"][proxy][:n]
                truth = {m: bench.query_many(archs_of_pass["cifar10"][:n], m) for m in spec["metrics"]}
                rows[proxy] = {"reused_from": "cifar10", "seconds_per_arch": out["passes"]["cifar10"]["proxies"][proxy]["seconds_per_arch"],
                               "correlations": {m: correlations(fit, t) for m, t in truth.items()}}
                fitness_of[pass_name][proxy] = fit
                continue
            t0 = time.perf_counter()
            done = score_run(cache, f"{pass_name}-{proxy}-n{n}-s{args.seed}", proxy, n, data, spec["metrics"], args.seed)
            if done is None:
                continue
            result, records = done
            archs = [r.arch for r in records]
            archs_of_pass.setdefault(pass_name, archs)
            assert archs == archs_of_pass[pass_name], "every proxy must score the same sample"
            fit = np.array([r.fitness for r in records])
            fitness_of[pass_name][proxy] = fit
            row = {k: result[k] for k in ("archs", "non_finite", "seconds_per_arch", "correlations")}
            row["wall_s"] = time.perf_counter() - t0
            if proxy in REFERENCE_COLUMNS:
                theirs = np.array([reference[a][REFERENCE_COLUMNS[proxy]] for a in archs])
                ours = np.array([r.value for r in records])
                ok = np.isfinite(theirs) & np.isfinite(ours)
                if ok.sum() > 2:
                    row["spearman_with_reference"] = metrics.spearman(ours[ok], theirs[ok])
            rows[proxy] = row
        out["passes"][pass_name] = {"archs": n, "data": data, "proxies": rows}

    # synflow / logsynflow under FreeREA's protocol (same cells): should match the reference closely
    if args.passes_only:
        args.skip_memory = True
    elif "cifar10" in archs_of_pass:
        archs = archs_of_pass["cifar10"]
        reference = read_reference(root, "cifar10")
        data = {"path": str(root / "images" / PASSES["cifar10"]["images"]), "batch_size": 20, "num_classes": 10}
        protocol = {}
        for name, spec in (("synflow", {"name": "synflow", "init": "kaiming_normal_fan_out", "repeats": 3}),
                           ("logsynflow", {"name": "logsynflow", "repeats": 3})):
            done = score_run(cache, f"freerea-{name}-n{args.n}-s{args.seed}", spec, args.n, data, ["cifar10_test"], args.seed)
            if done is None:
                continue
            result, records = done
            ours = np.array([r.value for r in records])
            theirs = np.array([reference[r.arch][name] for r in records])
            ok = np.isfinite(ours) & np.isfinite(theirs)
            positive = ok & (theirs > 0)
            protocol[name] = {"options": spec, "spearman_with_reference": metrics.spearman(ours[ok], theirs[ok]),
                              "median_ratio_ours_over_theirs": float(np.median(ours[positive] / theirs[positive])),
                              "zero_ours": int(np.sum(ours == 0)), "zero_theirs": int(np.sum(theirs == 0)),
                              "correlations": result["correlations"]}
            # the same cells with other random weights: how far apart two draws of this protocol are
            again = score_run(cache, f"freerea-{name}-n{args.n}-s{args.seed}-reseeded", spec, [r.arch for r in records], data,
                              ["cifar10_test"], args.seed + 1)
            if again is not None:
                other = np.array([r.value for r in again[1]])
                both = np.isfinite(ours) & np.isfinite(other)
                protocol[name]["spearman_ours_two_seeds"] = metrics.spearman(ours[both], other[both])
                protocol[name]["spearman_reseeded_with_reference"] = metrics.spearman(other[ok & both], theirs[ok & both])
        out["freerea_protocol"] = protocol

        # ensembles: exact rank vote over the sample, and the two plugins' own score runs
        c10 = fitness_of["cifar10"]
        truth = bench.query_many(archs, "cifar10_test")
        ens: dict[str, Any] = {}
        if all(p in c10 for p in VOTE):
            from nasplug.proxies.ensemble import batch_rank_vote

            vote = batch_rank_vote(np.stack([c10[p] for p in VOTE], axis=1))
            ens["batch_vote"] = {"members": VOTE, "archs": len(archs), "correlations": correlations(vote, truth)}
        for name, spec in (("vote", {"name": "vote", "proxies": VOTE}),
                           ("weighted", {"name": "weighted", "proxies": VOTE, "labelled": 20, "metric": "cifar10_valid_val"})):
            done = score_run(cache, f"ensemble-{name}-n{args.ensemble_n}-s{args.seed}", spec, args.ensemble_n, data,
                             ["cifar10_test"], args.seed)
            if done is None:
                continue
            result, records = done
            ens[name] = {"options": spec, "archs": result["archs"], "seconds_per_arch": result["seconds_per_arch"],
                         "correlations": result["correlations"]}
            sub = [archs.index(r.arch) for r in records if r.arch in archs]
            if len(sub) == len(records) and "batch_vote" in ens and len(records) > 2:
                ens[name]["batch_vote_same_cells"] = correlations(vote[sub], truth[sub])
        out["ensembles"] = ens

    if args.all_cells:
        data = {"num_classes": 10}
        full = {}
        reference = read_reference(root, "cifar10")
        for name in ("synflow", "logsynflow"):
            done = score_run(cache, f"all-{name}-s{args.seed}", name, "all", data, ALL_METRICS, args.seed)
            if done is None:
                continue
            result, records = done
            ours = np.array([r.value for r in records])
            theirs = np.array([reference[r.arch][name] for r in records])
            ok = np.isfinite(ours) & np.isfinite(theirs)
            full[name] = {k: result[k] for k in ("archs", "non_finite", "seconds_per_arch", "correlations")}
            full[name]["spearman_with_reference"] = metrics.spearman(ours[ok], theirs[ok])
        out["all_cells"] = full

    others = [sp for sp in args.spaces.split(",") if sp and sp != "nb201"]
    if others:
        out["other_spaces"] = other_spaces(others, args, cache, root)
    out["suite_zero"] = suite_zero(root, bench)
    previous = Path(__file__).resolve().parent / "results" / "zero_cost.json"
    if args.report_only and previous.exists():
        out["peak_rss_mb_per_proxy"] = json.loads(previous.read_text()).get("peak_rss_mb_per_proxy", {})
    if not (args.skip_memory or out.get("peak_rss_mb_per_proxy")):
        out["peak_rss_mb_per_proxy"] = peak_memory(proxies, root / "images" / PASSES["cifar10"]["images"])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["wall_s"] = time.time() - started
    out["load_average"] = os.getloadavg()
    write_results("zero_cost", out, markdown(out))


def _fmt(c: dict[str, float] | None) -> str:
    if not c:
        return "-"
    return f"{c['spearman']:.3f} / {c['kendall_tau']:.3f} / {c['top10%']:.2f}"


def markdown(out: dict[str, Any]) -> str:
    s = out["settings"]
    passes = out["passes"]
    n10 = passes.get("cifar10", {}).get("archs", 0)
    n100 = passes.get("cifar100", {}).get("archs", 0)
    md = ["# Zero-cost proxies on NAS-Bench-201 (score runs)", "",
          f"Settings: `--n {s['n']} --n100 {s['n100']} --ensemble-n {s['ensemble_n']} --seed {s['seed']}"
          + (" --all-cells" if s["all_cells"] else "") + "`: the same random sample of cells for every proxy, "
          f"20 test images per pass, one torch thread on 2 shared CPU cores (load average at the end "
          f"{out['load_average'][0]:.1f}; s / arch is wall time per cell in the CIFAR-10 pass, so it includes "
          "the other users of the machine).", "",
          "Cells: Spearman / Kendall tau / top-10% retrieval with the 200-epoch test accuracy, non-finite scores "
          f"ranked last. The CIFAR-10 pass ({n10} cells) scores with CIFAR-10 images and a 10-class head; the "
          f"CIFAR-100 pass ({n100} cells, a prefix of the same sample) with CIFAR-100 images and a 100-class head, "
          "which also stands in for ImageNet16-120. `published`: Spearman with CIFAR-10 over all 15,625 cells.", "",
          "| proxy | C10 (C10 pass) | C100 (C10 pass) | IN16 (C10 pass) | C100 (C100 pass) | IN16 (C100 pass) "
          "| published C10 | non-finite | s / arch |",
          "|---|---|---|---|---|---|---|---|---|"]
    names = list(dict.fromkeys(p for pr in passes.values() for p in pr["proxies"]))
    for name in names:
        c10 = passes.get("cifar10", {}).get("proxies", {}).get(name, {})
        c100 = passes.get("cifar100", {}).get("proxies", {}).get(name, {})
        pub = PUBLISHED_C10.get(name)
        a, b = c10.get("correlations", {}), c100.get("correlations", {})
        cells = [_fmt(a.get("cifar10_test")), _fmt(a.get("cifar100_test")), _fmt(a.get("imagenet16_test")),
                 _fmt(b.get("cifar100_test")), _fmt(b.get("imagenet16_test")),
                 f"{pub} ({PUBLISHED_SOURCE[name]})" if pub else "-",
                 str(c10.get("non_finite", "-")),
                 f"{c10['seconds_per_arch']:.2f}" if "seconds_per_arch" in c10 else "-"]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    md += ["", "## Agreement with the third-party (FreeREA) scores of the same cells", "",
           "Spearman between our score and `reference_proxies_<dataset>.csv.gz`.", "",
           "| proxy | CIFAR-10 pass | CIFAR-100 pass |", "|---|---|---|"]
    for name in REFERENCE_COLUMNS:
        vals = [passes.get(p, {}).get("proxies", {}).get(name, {}).get("spearman_with_reference") for p in ("cifar10", "cifar100")]
        if any(v is not None for v in vals):
            md.append(f"| {name} | " + " | ".join(f"{v:.3f}" if v is not None else "-" for v in vals) + " |")
    if "freerea_protocol" in out:
        md += ["", "Under FreeREA's protocol (Kaiming-normal fan-out init, mean of 3 inits), CIFAR-10 pass; "
               "`ours vs ours` scores the same cells again with other random weights (seed + 1), the agreement "
               "that random initialisation alone allows:", "",
               "| proxy | Spearman with FreeREA | ours vs ours | reseeded vs FreeREA | median ours / theirs | zero scores (ours, theirs) "
               "| Spearman with C10 acc |", "|---|---|---|---|---|---|---|"]
        for name, r in out["freerea_protocol"].items():
            two = r.get("spearman_ours_two_seeds")
            re_ref = r.get("spearman_reseeded_with_reference")
            md.append(f"| {name} | {r['spearman_with_reference']:.4f} | {f'{two:.4f}' if two is not None else '-'} | "
                      f"{f'{re_ref:.4f}' if re_ref is not None else '-'} | {r['median_ratio_ours_over_theirs']:.3g} | "
                      f"{r.get('zero_ours', '-')}, {r.get('zero_theirs', '-')} | {r['correlations']['cifar10_test']['spearman']:.3f} |")
    if "ensembles" in out:
        md += ["", "## Ensembles (CIFAR-10 pass; members synflow, jacov, snip)", "",
               "| ensemble | cells | CIFAR-10 | same cells, exact batch vote | s / arch |", "|---|---|---|---|---|"]
        for name, r in out["ensembles"].items():
            if name == "batch_vote":
                md.append(f"| exact rank vote over the sample | {r['archs']} | {_fmt(r['correlations'])} | - | - |")
            else:
                md.append(f"| {name} plugin | {r['archs']} | {_fmt(r['correlations'].get('cifar10_test'))} | "
                          f"{_fmt(r.get('batch_vote_same_cells'))} | {r['seconds_per_arch']:.2f} |")
    if "all_cells" in out:
        md += ["", "## All 15,625 cells (data-free)", "",
               "| proxy | CIFAR-10 | CIFAR-100 | ImageNet16-120 | Spearman with FreeREA | s / arch |", "|---|---|---|---|---|---|"]
        for name, r in out["all_cells"].items():
            c = r["correlations"]
            md.append(f"| {name} | {_fmt(c['cifar10_test'])} | {_fmt(c['cifar100_test'])} | {_fmt(c['imagenet16_test'])} | "
                      f"{r['spearman_with_reference']:.3f} | {r['seconds_per_arch']:.3f} |")
    for space_name, r in out.get("other_spaces", {}).items():
        mets = r["metrics"]
        md += ["", f"## {space_name}: {r['archs']} benchmarked cells (CIFAR-10 batch of 20, 10-class head)", "",
               "Spearman with each benchmark metric; `stored`: Spearman between our score and the third-party "
               "(NAS-Bench-Suite-Zero) value stored in the benchmark for the same cells, and that stored value's own "
               "Spearman with the first metric.", "",
               "| proxy | " + " | ".join(mets) + " | stored | s / arch |", "|---|" + "---|" * (len(mets) + 2)]
        for proxy, row in r["proxies"].items():
            cells = [f"{row['correlations'][m]['spearman']:.3f}" for m in mets]
            stored = row.get("spearman_with_stored")
            theirs = stored.get("stored_vs_" + mets[0]) if stored else None
            cells.append(f"{stored['spearman']:.3f} ({stored['column']}; theirs vs {mets[0]}: {theirs:.3f})"
                         if stored and theirs is not None else f"{stored['spearman']:.3f} ({stored['column']})" if stored else "-")
            md.append(f"| {proxy} | " + " | ".join(cells) + f" | {row['seconds_per_arch']:.2f} |")
    sz = out.get("suite_zero", {})
    if sz:
        md += ["", "## NAS-Bench-Suite-Zero (NASLib) scores of its own subset, for comparison", "",
               "Spearman of NASLib's stored proxy values with the same test accuracies (their batch, their init).", "",
               "| metric | cells | " + " | ".join(SUITE_ZERO) + " |", "|---|---|" + "---|" * len(SUITE_ZERO)]
        for metric, r in sz.items():
            md.append(f"| {metric} | {r['archs']} | " + " | ".join(f"{r[k]:.3f}" for k in SUITE_ZERO) + " |")
    mem = out.get("peak_rss_mb_per_proxy") or {}
    if mem:
        md += ["", "## Memory", "",
               "Resident memory of a fresh process scoring 3 cells with the CIFAR-10 batch of 20 (after one warm-up "
               "cell): before scoring and the peak while scoring.", "",
               "| proxy | before (MB) | peak (MB) | peak - before (MB) |", "|---|---|---|---|"]
        for name, m in mem.items():
            md.append(f"| {name} | {m['before']:.0f} | {m['peak']:.0f} | {m['peak'] - m['before']:.0f} |")
    md += ["", f"Peak resident memory of the bench process: {out['peak_rss_mb']:.0f} MB."]
    return "\n".join(md)


if __name__ == "__main__":
    main()
