"""Weight-sharing NAS on NAS-Bench-201 / CIFAR-10: SPOS and FairNAS supernets (issue 21).

    python bench/oneshot.py                      # every phase of the default (CPU) setting
    python bench/oneshot.py --phase train        # train (or resume) the supernets only
    python bench/oneshot.py --phase rank|search|cost|report
    python bench/oneshot.py --setting tiny       # seconds; what the tests run so this cannot rot
    python bench/oneshot.py --setting paper --device cuda   # the papers' supernet size on a GPU

Phases (each resumable: training runs resume from their last checkpoint, evaluations are cached
in the work folder ``bench/work/oneshot-<setting>/``, which is not committed):

- ``train``: a ``oneshot`` run per method on a class-balanced 5,000 + 5,000 split of CIFAR-10's
  training images (the JPEG zip), recording per epoch the supernet's Kendall tau on
  ``eval_archs`` fixed architectures (the tau-versus-epochs curve);
- ``rank``: Kendall tau and Spearman between inherited-weight validation accuracy (after BN
  recalibration) and ``cifar10_test`` / ``cifar10_valid_val`` over 200 random architectures;
- ``search``: REA and random search over each trained supernet (objective ``supernet``) for
  1,000 proposals; the returned architecture's true ``cifar10_test`` from the table;
- ``cost``: seconds per training epoch against a plain PyTorch loop over the same batches and
  paths, peak memory, seconds per architecture evaluated with inherited weights;
- ``report``: JSON + Markdown + PNG under ``bench/results/`` (``oneshot[_<setting>].*``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS, data_path, load_summary, merge_summary, results_name, run_resumably, start_training_bench,
    training_bench_parser, work_folder, write_results,
)

#: Settings: supernet size, split, epochs, evaluation sizes. ``cpu`` is what one core of the
#: development machine finishes in about an hour per method; ``paper`` is NAS-Bench-201's size.
SETTINGS: dict[str, dict[str, Any]] = {
    "tiny": {"supernet": {"channels": 4, "cells_per_stage": 1}, "split": [200, 100], "epochs": 2,
             "eval_archs": 4, "eval_images": 100, "rank_archs": 6, "rank_images": 100, "search_proposals": 6, "batch_size": 32},
    "cpu": {"supernet": {"channels": 8, "cells_per_stage": 1}, "split": [5000, 5000], "epochs": 30,
            "eval_archs": 20, "eval_images": 500, "rank_archs": 200, "rank_images": 1000, "search_proposals": 1000,
            "batch_size": 64},
    "paper": {"supernet": {"channels": 16, "cells_per_stage": 5}, "split": [25000, 25000], "epochs": 250,
              "eval_archs": 50, "eval_images": 10000, "rank_archs": 200, "rank_images": 10000, "search_proposals": 1000,
              "batch_size": 64},
}
METHODS = ("spos", "fairnas", "spos_x5")
#: Bench rows that run a method with more epochs: ``spos_x5`` is SPOS at FairNAS's compute (FairNAS
#: trains 5 paths per step, SPOS one), so the two are also compared at equal training work.
EPOCH_FACTOR: dict[str, tuple[str, int]] = {"spos_x5": ("spos", 5)}
METRICS = ("cifar10_test", "cifar10_valid_val")


def work_dir(setting: str) -> Path:
    return work_folder(f"oneshot-{setting}")


def oneshot_config(setting: str, method: str, device: str) -> dict[str, Any]:
    s = SETTINGS[setting]
    name, factor = EPOCH_FACTOR.get(method, (method, 1))
    return {"kind": "oneshot", "seed": 0, "name": f"{method}-{setting}", "space": "nb201",
            "store": {"path": str(work_dir(setting) / f"{method}.db")},
            "data": {"path": str(data_path()), "split": s["split"], "device": device},
            "oneshot": {"method": {"name": name, "population": 50, "generations": 20} if setting != "tiny" else
                        {"name": name, "population": 4, "generations": 2, "parents": 2, "mutations": 2, "crossovers": 2},
                        "epochs": s["epochs"] * factor, "batch_size": s["batch_size"], "supernet": s["supernet"],
                        "eval_archs": s["eval_archs"], "eval_images": min(s["eval_images"], s["split"][1]),
                        "rank_metrics": list(METRICS), "derive": False, "threads": 1}}


def train(setting: str, method: str, device: str) -> int:
    config = oneshot_config(setting, method, device)
    run_id, seconds = run_resumably(config)
    if seconds is not None:
        print(f"{method}: trained {config['oneshot']['epochs']} epochs in {seconds:.0f} s", flush=True)
    return run_id


def _evaluator(setting: str, method: str) -> Any:
    from nasplug.core.oneshot.trained import _load

    store = work_dir(setting) / f"{method}.db"
    return _load(str(store.resolve()), 1, SETTINGS[setting]["rank_images"], None)


def _rank_archs(setting: str) -> list[Any]:
    from nasplug.spaces.nb201 import NB201Space

    space, rng, seen, out = NB201Space(), np.random.default_rng(2024), set(), []
    while len(out) < SETTINGS[setting]["rank_archs"]:
        arch = space.sample(rng)
        if space.canonical(arch) not in seen:
            seen.add(space.canonical(arch))
            out.append(arch)
    return out


def rank(setting: str, method: str) -> dict[str, Any]:
    from nasplug.core.metrics import kendall_tau, spearman
    from nasplug.spaces.nb201 import NB201Space

    space, bench = NB201Space(), NB201Space().load_benchmark()
    cache = work_dir(setting) / f"rank-{method}.json"
    done: dict[str, float] = json.loads(cache.read_text()) if cache.exists() else {}
    evaluator = _evaluator(setting, method)
    archs = _rank_archs(setting)
    seconds = []
    for arch in archs:
        key = space.canonical(arch)
        if key in done:
            continue
        t = time.perf_counter()
        done[key] = evaluator.accuracy(arch)
        seconds.append(time.perf_counter() - t)
        if len(done) % 10 == 0:
            cache.write_text(json.dumps(done))
    cache.write_text(json.dumps(done))
    acc = np.array([done[space.canonical(a)] for a in archs])
    out: dict[str, Any] = {"archs": len(archs), "eval_images": evaluator.images,
                           "seconds_per_arch": float(np.mean(seconds)) if seconds else None}
    for metric in METRICS:
        truth = bench.query_many(archs, metric)
        out[metric] = {"kendall_tau": kendall_tau(acc, truth), "spearman": spearman(acc, truth)}
    return out


def search(setting: str, method: str, strategy: str) -> dict[str, Any]:
    from nasplug.core.runs import run
    from nasplug.core.store import Store

    proposals = SETTINGS[setting]["search_proposals"]
    store = work_dir(setting) / f"{method}.db"
    config = {"kind": "search", "seed": 0, "name": f"{strategy}-over-{method}", "space": "nb201",
              "store": {"path": str(store)}, "strategy": strategy,
              "objective": {"name": "supernet", "from_run": 1, "eval_images": SETTINGS[setting]["eval_images"]},
              "search": {"queries": proposals, "max_proposals": proposals, "report": ["cifar10_test", "cifar10_valid_val"]}}
    with Store(store) as s:
        previous = [r for r in s.runs() if r.name == config["name"]]
    if previous and previous[-1].status == "finished":
        result = previous[-1].result
    else:
        result = run(config, resume=bool(previous), run_id=previous[-1].id if previous else None).result
    return {"queries": result["queries"], "proposals": result["proposals"], "best_arch": result["best_arch"],
            "supernet_accuracy": result["best_value"], **{k: v for k, v in result["report"].items()}}


def cost(setting: str, method: str, device: str) -> dict[str, Any]:
    """One epoch of our loop against a plain loop over the same batches and paths."""
    import torch
    from torch.nn import functional as F

    from nasplug.core.datasets import iterate_epoch, training_data
    from nasplug.core.registry import registry
    from nasplug.core.seeding import derive_rng
    from nasplug.spaces.nb201 import NB201Space

    torch.set_num_threads(1)
    s = SETTINGS[setting]
    data = training_data(data_path(), s["split"], 0)
    space = NB201Space()
    m = registry().create("oneshot", EPOCH_FACTOR.get(method, (method, 1))[0], space=space)
    steps = max(4, min(40, s["split"][0] // s["batch_size"]))

    def fresh() -> tuple[Any, Any]:
        torch.manual_seed(0)
        net = space.supernet(**s["supernet"]).to(device)
        return net, torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)

    batches = []
    for step, (x, y) in enumerate(iterate_epoch(data.train, 0, s["batch_size"])):
        if step >= steps:
            break
        batches.append((x, y))
    probe = space.supernet(**s["supernet"])
    paths = [m.paths(probe, derive_rng(0, "oneshot-step", 0, i)) for i in range(steps)]

    net, opt = fresh()
    t = time.perf_counter()
    for (x, y), path_set in zip(batches, paths):  # plain PyTorch: the same batches and paths
        opt.zero_grad(set_to_none=True)
        for p in path_set:
            F.cross_entropy(net(x.to(device), path=p), y.to(device)).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
    plain = time.perf_counter() - t

    net, opt = fresh()
    t = time.perf_counter()
    for step, (x, y) in enumerate(iterate_epoch(data.train, 0, s["batch_size"])):  # ours: loader + method
        if step >= steps:
            break
        m.train_step(net, x.to(device), y.to(device), opt, derive_rng(0, "oneshot-step", 0, step), 5.0)
    ours = time.perf_counter() - t
    return {"steps": steps, "plain_seconds_per_step": plain / steps, "ours_seconds_per_step": ours / steps,
            "overhead": ours / plain - 1.0, "epoch_seconds_estimate": ours / steps * (s["split"][0] // s["batch_size"]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def report(setting: str, payload: dict[str, Any]) -> None:
    from nasplug.core.store import Store

    s = SETTINGS[setting]
    curves = dict(payload.get("curves", {}))  # kept for runs whose store is gone (a fresh checkout)
    for method in METHODS:
        store = work_dir(setting) / f"{method}.db"
        if store.exists():
            with Store(store) as st:
                curves[method] = st.epochs(1)
    payload["curves"] = curves
    lines = [f"# Weight-sharing NAS on NAS-Bench-201 / CIFAR-10 (setting `{setting}`)", "",
             f"Supernet {s['supernet']['channels']} channels, {s['supernet']['cells_per_stage']} cell(s) per stage; "
             f"class-balanced split {s['split'][0]} train + {s['split'][1]} validation images of CIFAR-10's training set "
             f"(JPEG re-encoded); {s['epochs']} epochs (`spos_x5`: {s['epochs'] * EPOCH_FACTOR['spos_x5'][1]}, SPOS at FairNAS's "
             f"training work: one path per step against five) of batch {s['batch_size']}, SGD 0.025 cosine to 0.001, Nesterov "
             f"momentum 0.9, weight decay 5e-4, one torch thread; BN recalibrated on 4 training batches of 256 per "
             f"architecture; ranking on {s['rank_images']} validation images, per-epoch curves and search on {s['eval_images']}.", ""]
    if setting != "paper":
        p = SETTINGS["paper"]
        lines += [f"How this differs from the papers' setting (NAS-Bench-201's supernet; `--setting paper --device cuda`): "
                  f"{p['supernet']['channels']} channels and {p['supernet']['cells_per_stage']} cells per stage, the "
                  f"{p['split'][0]:,} + {p['split'][1]:,} halves, {p['epochs']} epochs, ranking on {p['rank_images']:,} images. "
                  "On one core a paper-size step costs about 9 times one here (4.4 s against 0.5 s for a mixture step, "
                  "measured) on 5 times the images, about 40 times per epoch, so the CPU setting keeps the protocol and "
                  "shrinks the supernet, the data and the epochs.", ""]
    if payload.get("rank"):
        lines += ["## Ranking quality (inherited weights vs. the benchmark)", "",
                  f"{s['rank_archs']} random architectures. FairNAS paper (as the survey quotes it): Kendall tau about 0.4 with "
                  "uniform sampling, about 0.7 with strict fairness.", "",
                  "| method | epochs | tau cifar10_test | Spearman cifar10_test | tau cifar10_valid_val | Spearman cifar10_valid_val | s / arch |",
                  "|---|---|---|---|---|---|---|"]
        for method, r in payload["rank"].items():
            lines.append(f"| {method} | {len(curves.get(method, []))} | {r['cifar10_test']['kendall_tau']:.3f} | "
                         f"{r['cifar10_test']['spearman']:.3f} | {r['cifar10_valid_val']['kendall_tau']:.3f} | "
                         f"{r['cifar10_valid_val']['spearman']:.3f} | {r['seconds_per_arch'] or float('nan'):.2f} |")
        lines.append("")
        tau = {m: r["cifar10_test"]["kendall_tau"] for m, r in payload["rank"].items()}
        if {"spos", "fairnas", "spos_x5"} <= set(tau):
            lines += [f"Equal epochs favour FairNAS ({tau['fairnas']:.3f} against SPOS's {tau['spos']:.3f}), but FairNAS "
                      "trains every op of every edge once per step and SPOS one path: at equal training work per op "
                      f"(`spos_x5`) SPOS reaches {tau['spos_x5']:.3f}, so {tau['fairnas'] - tau['spos_x5']:+.3f} of the gap is "
                      "what strict fairness adds on top of more training (the FairNAS paper: about 0.4 against 0.7).", ""]
    if payload.get("search"):
        lines += ["## Search over the trained supernet", "",
                  f"{s['search_proposals']} proposals each; the returned architecture's true accuracy from the table "
                  "(optimum 94.37 cifar10_test).", "",
                  "| supernet | strategy | queries | supernet accuracy | cifar10_test | regret | cifar10_valid_val |", "|---|---|---|---|---|---|---|"]
        for key, r in payload["search"].items():
            method, strategy = key.split("/")
            lines.append(f"| {method} | {strategy} | {r['queries']} | {r['supernet_accuracy']:.2f} | {r['cifar10_test']:.2f} | "
                         f"{r['cifar10_test_regret']:.2f} | {r['cifar10_valid_val']:.2f} |")
        lines.append("")
    if payload.get("cost"):
        lines += ["## Cost", "", "| method | s / step (ours) | s / step (plain PyTorch) | overhead | epoch (s) | peak RSS (MB) |",
                  "|---|---|---|---|---|---|"]
        for method, c in payload["cost"].items():
            lines.append(f"| {method} | {c['ours_seconds_per_step']:.3f} | {c['plain_seconds_per_step']:.3f} | "
                         f"{100 * c['overhead']:+.1f} % | {c['epoch_seconds_estimate']:.0f} | {c['peak_rss_mb']:.0f} |")
        lines.append("")
    if curves:
        lines += ["## Kendall tau versus epochs", "", f"On the run's {s['eval_archs']} fixed evaluation architectures "
                  f"(cifar10_test), after each epoch: `{results_name('oneshot', setting)}_tau.png`.", ""]
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6, 4))
            for method, rows in curves.items():
                ax.plot([r["epoch"] + 1 for r in rows], [r["kendall_tau_cifar10_test"] for r in rows], marker="o", label=method)
            ax.set_xlabel("epoch")
            ax.set_ylabel("Kendall tau (supernet vs cifar10_test)")
            ax.grid(alpha=0.3)
            ax.legend()
            fig.tight_layout()
            RESULTS.mkdir(parents=True, exist_ok=True)
            fig.savefig(RESULTS / f"{results_name('oneshot', setting)}_tau.png", dpi=120)
        except ImportError:
            pass
    write_results(results_name("oneshot", setting), payload, "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = training_bench_parser(__doc__.splitlines()[0], SETTINGS, METHODS, ("train", "rank", "search", "cost", "report"))
    args = parser.parse_args(argv)
    methods = start_training_bench(args)
    summary_path = work_dir(args.setting) / "summary.json"
    payload: dict[str, Any] = load_summary(summary_path, results_name("oneshot", args.setting))
    payload["setting"] = {"name": args.setting, **SETTINGS[args.setting], "device": args.device}
    def save(section: str, key: str, value: Any) -> None:
        nonlocal payload
        payload = merge_summary(summary_path, section, key, value, payload["setting"])

    for method in methods:
        if args.phase in ("all", "train"):
            train(args.setting, method, args.device)
        if args.phase in ("all", "rank"):
            save("rank", method, rank(args.setting, method))
        if args.phase in ("all", "search"):
            for strategy in ("rea", "random"):
                save("search", f"{method}/{strategy}", search(args.setting, method, strategy))
        if args.phase in ("all", "cost"):
            save("cost", method, cost(args.setting, method, args.device))
    if args.phase in ("all", "report", "rank", "search", "cost"):
        report(args.setting, payload)


if __name__ == "__main__":
    main()
