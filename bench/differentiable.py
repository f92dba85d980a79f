"""Differentiable NAS on NAS-Bench-201 / CIFAR-10: DARTS and its family, and the collapse (issue 22).

    python bench/differentiable.py                          # every phase of the default (CPU) setting
    python bench/differentiable.py --phase search           # run (or resume) the searches only
    python bench/differentiable.py --phase darts_space|cost|report
    python bench/differentiable.py --methods darts,gdas --seeds 0,1,2
    python bench/differentiable.py --setting tiny           # seconds; what the tests run so this cannot rot
    python bench/differentiable.py --setting paper --device cuda   # the GPU path: NAS-Bench-201's size and halves

Phases (each resumable: a search resumes from its last checkpoint; finished runs are skipped; the
work folder ``bench/work/differentiable-<setting>/`` is not committed):

- ``search``: a ``oneshot`` run per method and seed on a class-balanced 5,000 + 5,000 split of
  CIFAR-10's training images (weights on the first half, architecture on the second, as
  NAS-Bench-201's cifar10-valid halves), storing per epoch the op distribution per edge, the
  share of parameter-free ops in the derived cell, its true NAS-Bench-201 accuracies, the
  supernet's and the derived cell's validation accuracy (the discretisation gap) and the
  Hessian's dominant eigenvalue every 5 epochs;
- ``darts_space``: each method searched for a few epochs on a small DARTS-space supernet; the
  derived genotype (normal + reduce), its parameter count, and its synflow / naswot scores ranked
  against the 725 NB301 cells of the benchmark data, with the DARTS paper's genotype as reference;
- ``cost``: seconds per search step of each method relative to DARTS first order on the same
  supernet and to a plain PyTorch loop of the same forward/backward work;
- ``report``: JSON + Markdown + PNG under ``bench/results/`` (``differentiable[_<setting>].*``).
"""

from __future__ import annotations

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

#: Settings. ``cpu``: one cell per stage at 8 channels, the 5,000 + 5,000 split and NAS-Bench-201's
#: 50 epochs of batch 64 (about 20-60 minutes per method and seed on one core); ``cpu_paper_size``:
#: NAS-Bench-201's supernet (16 channels, 5 cells per stage) on the same split, for the headline
#: methods (about 5 hours each on one core); ``paper``: that supernet on the 25,000 + 25,000 halves.
SETTINGS: dict[str, dict[str, Any]] = {
    "tiny": {"supernet": {"channels": 4, "cells_per_stage": 1}, "split": [200, 100], "epochs": 2, "batch_size": 32,
             "eval_images": 100, "hessian_images": 16, "darts_space": {"channels": 4, "layers": 3}, "darts_epochs": 1,
             "darts_split": [64, 64], "cost_steps": 2, "proxy_cells": 12},
    "cpu": {"supernet": {"channels": 8, "cells_per_stage": 1}, "split": [5000, 5000], "epochs": 50, "batch_size": 64,
            "eval_images": 1000, "hessian_images": 64, "darts_space": {"channels": 8, "layers": 5}, "darts_epochs": 4,
            "darts_split": [1000, 1000], "cost_steps": 10, "proxy_cells": 725},
    "cpu_paper_size": {"supernet": {"channels": 16, "cells_per_stage": 5}, "split": [5000, 5000], "epochs": 50,
                       "batch_size": 64, "eval_images": 1000, "hessian_images": 64,
                       "darts_space": {"channels": 8, "layers": 5}, "darts_epochs": 4, "darts_split": [1000, 1000],
                       "cost_steps": 5, "proxy_cells": 725},
    "paper": {"supernet": {"channels": 16, "cells_per_stage": 5}, "split": [25000, 25000], "epochs": 50, "batch_size": 64,
              "eval_images": 10000, "hessian_images": 256, "darts_space": {"channels": 16, "layers": 8}, "darts_epochs": 50,
              "darts_split": [25000, 25000], "cost_steps": 20, "proxy_cells": 725},
}
#: The methods, headline ones first; ``darts2`` is DARTS second order (DARTS-V2).
METHODS = ("darts", "gdas", "gdas_50ep", "darts_minus", "fair_darts", "darts2", "drnas", "drnas_kl_50ep", "pc_darts",
           "sdarts_rs", "sdarts_rs_const_50ep", "gaea", "gaea_bilevel_50ep", "p_darts", "sdarts_adv", "gdas_25k")
#: Search epochs where a method's NB201 reference differs from the setting's (NAS-Bench-201's 50):
#: NAS-Bench-201's GDAS config (``configs/nas-benchmark/algos/GDAS.config``) searches 240 epochs,
#: its tau annealed from 10 to 0.1 over them (one sampled op per edge trains each op's weights about
#: a fifth as often as DARTS' mixture); DrNAS's NAS-Bench-201 script (``201-space/train_search.py``)
#: and SDARTS' (``nasbench201/train_search.py``) 100. Applies to the ``cpu`` and paper settings (not
#: ``tiny``).
REFERENCE_EPOCHS = {"gdas": 240, "drnas": 100, "sdarts_rs": 100, "sdarts_adv": 100, "gaea": 25}
#: Method options of a method's NAS-Bench-201 reference runs where they differ from the plugin's
#: defaults (which follow the method's DARTS-space reference): GAEA's NAS-Bench-201 command
#: (``gaea_release`` README, the published "GAEA DARTS (ERM)" row) searches without ``none``
#: (``exclude_zero``) at a single level, for 25 epochs of a 50-epoch cosine schedule with weight
#: decay 3e-4 (``configs/cnn/mode/search_nasbench201.yaml``).
NB201_OPTIONS: dict[str, dict[str, Any]] = {"gaea": {"exclude_none": True, "single_level": True}}
NB201_RUN_OPTIONS: dict[str, dict[str, Any]] = {"gaea": {"schedule_epochs": 50, "weight_decay": 3e-4}}
#: Bench rows that rerun a method under another budget or options: ``gdas_50ep`` is GDAS at DARTS'
#: 50 epochs; ``drnas_kl_50ep`` DrNAS at 50 epochs with the KL anchor (our default before the
#: reference's l2 was adopted); ``sdarts_rs_const_50ep`` SDARTS-RS at 50 epochs with a constant
#: epsilon 0.03 and no clip onto the simplex (our default before the authors' schedule was adopted);
#: ``gaea_bilevel_50ep`` GAEA with its DARTS-space options (bilevel, ``none`` searched) for 50 epochs.
VARIANTS: dict[str, tuple[str, int, dict[str, Any]]] = {
    "gdas_50ep": ("gdas", 50, {}), "drnas_kl_50ep": ("drnas", 50, {"reg_type": "kl"}),
    "sdarts_rs_const_50ep": ("sdarts_rs", 50, {"epsilon_end": 0.03, "clip": False}),
    "gdas_25k": ("gdas", 240, {}),
    "gaea_bilevel_50ep": ("gaea", 50, {})}
#: Variants that also change the data: ``gdas_25k`` searches GDAS on 25,000 + 25,000 images
#: (NAS-Bench-201's cifar10-valid halves) at the setting's supernet, to tell whether GDAS' collapse
#: on the small split comes from too few weight updates per sampled op (about 94,000 steps in
#: NAS-Bench-201's run against 19,000 on the 5,000-image split).
VARIANT_SPLITS: dict[str, list[int]] = {"gdas_25k": [25000, 25000]}
METRICS = ("cifar10_test", "cifar100_test", "imagenet16_test")
#: Published NAS-Bench-201 results (CIFAR-10 / CIFAR-100 / ImageNet16-120 test accuracy, mean over
#: the papers' seeds) with their sources: where one of our seed papers quotes a method, that quote
#: (the papers nasplug reproduces); otherwise the method's own paper, said so.
PUBLISHED: dict[str, tuple[str, str]] = {
    "darts": ("54.30 / 15.61 / 16.32", "NAS-Bench-201's DARTS-V1, as quoted by the DARE paper, Table 4 and the DSM-NAS paper, Table II"),
    "darts2": ("54.30 / 15.61 / 16.32", "NAS-Bench-201's DARTS-V2, as quoted by the DARE paper, Table 4"),
    "gdas": ("93.61 / 70.70 / 41.71", "as quoted by the DSM-NAS paper, Table II; the DARE paper, Table 4 quotes "
             "NAS-Bench-201's 93.51 / 70.61 / 41.84"),
    "drnas": ("94.36 / 73.51 / 46.34", "DrNAS (Chen et al. 2021), Table 3 (not quoted by our seed papers)"),
    "pc_darts": ("93.41 / 67.48 / 41.31", "as quoted by the DSM-NAS paper, Table II (PC-DARTS itself reports no NB201 run)"),
    "darts_minus": ("93.80 / 73.02 / 46.41", "as quoted by the DSM-NAS paper, Table II"),
    "gdas_50ep": ("(NAS-Bench-201 runs GDAS for 240 epochs)", "GDAS at DARTS' 50 epochs: the budget check"),
    "gdas_25k": ("(NAS-Bench-201: 25,000 + 25,000 images)", "GDAS on 25,000 + 25,000 images: the data check"),
    "drnas_kl_50ep": ("(DrNAS's script: l2 anchor, 100 epochs)", "DrNAS with the KL anchor at 50 epochs"),
    "sdarts_rs": ("(not reported on NB201)", "SDARTS reports the DARTS space only"),
    "sdarts_adv": ("(not reported on NB201)", "SDARTS reports the DARTS space only"),
    "sdarts_rs_const_50ep": ("(SDARTS' script: epsilon 0.03 -> 0.3, clipped, 100 epochs)",
                             "SDARTS-RS with a constant epsilon 0.03, unclipped, 50 epochs"),
    "gaea": ("94.10 / 73.43 / 46.36", "GAEA (Li et al. 2021), Table 2, GAEA DARTS (ERM) (not quoted by our seed papers)"),
    "gaea_bilevel_50ep": ("(GAEA's NB201 runs: single level, no none, 25 epochs)",
                          "GAEA bilevel with none searched, 50 epochs"),
    "fair_darts": ("(not reported on NB201)", "Fair DARTS reports the DARTS space only"),
    "p_darts": ("(not reported on NB201)", "P-DARTS reports the DARTS space only"),
}

def work_dir(setting: str) -> Path:
    return work_folder(f"differentiable-{setting}")


def search_epochs(method: str, setting: str) -> int:
    if setting == "tiny":
        return SETTINGS[setting]["epochs"]
    if method in VARIANTS:
        return VARIANTS[method][1]
    return REFERENCE_EPOCHS.get(method, SETTINGS[setting]["epochs"])


def method_spec(method: str, setting: str, nb201: bool = True) -> dict[str, Any]:
    s = SETTINGS[setting]
    method, _, options = VARIANTS.get(method, (method, 0, NB201_OPTIONS.get(method, {}) if nb201 else {}))
    spec: dict[str, Any] = {"name": "darts", "order": 2} if method == "darts2" else {"name": method}
    spec.update(options)
    spec["hessian_images"] = s["hessian_images"]
    if method == "p_darts" and setting == "tiny":
        spec.update(depths=[1, 1], skip_dropout=[0.0, 0.4])
    return spec


def search_config(setting: str, method: str, seed: int, device: str) -> dict[str, Any]:
    s = SETTINGS[setting]
    split = s["split"] if setting == "tiny" else VARIANT_SPLITS.get(method, s["split"])
    return {"kind": "oneshot", "seed": seed, "name": f"{method}-{setting}-s{seed}", "space": "nb201",
            "store": {"path": str(work_dir(setting) / f"{method}-s{seed}.db")},
            "data": {"path": str(data_path()), "split": split, "device": device},
            "oneshot": {"method": method_spec(method, setting), "epochs": search_epochs(method, setting),
                        "batch_size": s["batch_size"], "supernet": s["supernet"], "eval_archs": 0, "eval_images": min(s["eval_images"], split[1]),
                        "report": list(METRICS), "threads": 1,
                        **({} if method in VARIANTS else NB201_RUN_OPTIONS.get(method, {}))}}


def search(setting: str, method: str, seed: int, device: str) -> dict[str, Any]:
    """One search; its per-epoch diagnostics and final derived architecture."""
    from nasplug.core.store import Store

    config = search_config(setting, method, seed, device)
    run_id, seconds = run_resumably(config)
    if seconds is not None:
        print(f"{method} seed {seed}: searched {config['oneshot']['epochs']} epochs in {seconds:.0f} s", flush=True)
    with Store(config["store"]["path"]) as s:
        record, epochs = s.run(run_id), s.epochs(run_id)
    result = record.result or {}
    derived = result.get("derived", {})
    last = epochs[-1] if epochs else {}
    hessians = [e["hessian_eigenvalue"] for e in epochs if "hessian_eigenvalue" in e]
    return {"method": method, "seed": seed, "arch": derived.get("arch"),
            **{m: derived.get(m) for m in METRICS},
            "parameter_free": last.get("derived_parameter_free"),
            "hessian_final": hessians[-1] if hessians else None,
            "supernet_valid_accuracy": last.get("supernet_valid_accuracy"),
            "derived_valid_accuracy": last.get("derived_valid_accuracy"),
            "discretisation_gap": last.get("discretisation_gap"),
            "search_seconds": float(sum(e.get("seconds", 0.0) for e in epochs)),
            "epoch_seconds": float(np.mean([e["train_seconds"] for e in epochs])) if epochs else None,
            "curve": [{"epoch": e["epoch"], "parameter_free_share": e.get("derived_parameter_free_share"),
                       "cifar10_test": e.get("derived_cifar10_test"), "hessian": e.get("hessian_eigenvalue"),
                       "gap": e.get("discretisation_gap"), "arch": e.get("derived_arch")} for e in epochs]}


# --- the DARTS space ----------------------------------------------------------------------------
#: DARTS' published cell (DARTS-V2, Liu et al. 2019, Figure 4), as the reference genotype.
DARTS_V2 = {"normal": [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                       ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
            "reduce": [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                       ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]}
PROXIES = ("synflow", "naswot")
#: DARTS' CIFAR-10 evaluation network (36 channels, 20 cells; no auxiliary head), for parameter counts.
EVAL_NETWORK = {"channels": 36, "layers": 20}


def darts_space_search(setting: str, method: str, device: str) -> dict[str, Any]:
    """A short search on a small DARTS-space supernet; the derived genotype and its size."""
    from nasplug.core.registry import registry
    from nasplug.core.store import Store

    s = SETTINGS[setting]
    config = {"kind": "oneshot", "seed": 0, "name": f"{method}-darts-{setting}", "space": "darts",
              "store": {"path": str(work_dir(setting) / f"darts-space-{method}.db")},
              "data": {"path": str(data_path()), "split": s["darts_split"], "device": device},
              "oneshot": {"method": {**method_spec(method, setting, nb201=False), "hessian_every": 0}, "epochs": s["darts_epochs"],
                          "batch_size": s["batch_size"],
                          "supernet": {**s["darts_space"], **({"channels": 2 * s["darts_space"]["channels"]} if method == "pc_darts" and setting == "tiny" else {})},
                          "eval_archs": 0, "eval_images": min(500, s["darts_split"][1]), "threads": 1}}
    run_id, seconds = run_resumably(config)
    with Store(config["store"]["path"]) as st:
        record, epochs = st.run(run_id), st.epochs(run_id)
    space = registry().create("space", "darts")
    arch = space.parse(record.result["derived"]["arch"])
    return {"arch": space.canonical(arch), "normal": [list(g) for g in arch.normal], "reduce": [list(g) for g in arch.reduce],
            "parameter_free_normal": sum(op in ("skip_connect", "avg_pool_3x3", "max_pool_3x3") for op, _ in arch.normal),
            "params_m": _params_m({"normal": arch.normal, "reduce": arch.reduce}),
            "search_seconds": float(sum(e.get("seconds", 0.0) for e in epochs))}


def _params_m(genotype: dict[str, Any]) -> float:
    from nasplug.core.registry import registry
    from nasplug.spaces.darts.genotype import make_arch

    space = registry().create("space", "darts")
    arch = make_arch([tuple(g) for g in genotype["normal"]], [tuple(g) for g in genotype["reduce"]])
    return sum(p.numel() for p in space.to_module(arch, **EVAL_NETWORK).parameters()) / 1e6


def darts_space_proxies(setting: str, genotypes: dict[str, Any]) -> dict[str, Any]:
    """synflow and naswot of each derived genotype (and DARTS' own), as a percentile among the
    same scores of the first ``proxy_cells`` NB301 cells of the benchmark data (same networks,
    same image batch, same seed)."""
    from nasplug.core.datasets import training_data
    from nasplug.core.interfaces.proxy import ProxyContext
    from nasplug.core.registry import registry
    from nasplug.spaces.darts.genotype import make_arch

    s = SETTINGS[setting]
    space = registry().create("space", "darts")
    cells = space.load_benchmark().architectures()[: s["proxy_cells"]]
    data = training_data(data_path(), [64, 10], 0, augment=False)
    x, y = data.train.batch(range(64))
    ctx = ProxyContext(seed=0, batch=(x, y), num_classes=len(data.classes))
    targets = {name: space.parse(g["arch"]) for name, g in genotypes.items()}
    targets["DARTS paper (V2)"] = make_arch([tuple(g) for g in DARTS_V2["normal"]], [tuple(g) for g in DARTS_V2["reduce"]])
    out: dict[str, Any] = {name: {} for name in targets}
    for proxy_name in PROXIES:
        proxy = registry().create("proxy", proxy_name, space=space)
        reference = np.array([proxy.score(c, ctx) for c in cells], dtype=float)
        for name, arch in targets.items():
            value = float(proxy.score(arch, ctx))
            out[name][proxy_name] = value
            out[name][f"{proxy_name}_percentile"] = round(100.0 * float(np.mean(reference < value)), 1)
    out["_reference_cells"] = len(cells)
    return out


# --- cost ---------------------------------------------------------------------------------------
def cost(setting: str, methods: list[str], device: str) -> dict[str, Any]:
    """Seconds per search step on the setting's NB201 supernet: each method's ``train_step``, and
    a plain PyTorch loop doing DARTS first order's work (an Adam step on alpha from a validation
    batch, an SGD step on the weights from a training batch) written out by hand."""
    import torch
    from torch.nn import functional as F

    from nasplug.core.datasets import training_data
    from nasplug.core.options import build_config
    from nasplug.core.registry import registry

    s = SETTINGS[setting]
    space = registry().create("space", "nb201")
    data = training_data(data_path(), [4 * s["batch_size"], 4 * s["batch_size"]], 0, augment=False)
    b = s["batch_size"]
    x, y = data.train.batch(range(b))
    xv, yv = data.valid.batch(range(b))
    steps = s["cost_steps"]

    def timed(step: Any) -> float:
        step(-1)  # warm-up
        started = time.perf_counter()
        for k in range(steps):
            step(k)
        return (time.perf_counter() - started) / steps

    out: dict[str, Any] = {}
    torch.manual_seed(0)
    net = space.supernet(**s["supernet"])
    alpha = torch.nn.Parameter(1e-3 * torch.randn(6, 5))
    adam = torch.optim.Adam([alpha], lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    sgd = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def plain(_k: int) -> None:
        adam.zero_grad()
        F.cross_entropy(net(xv, weights=torch.softmax(alpha, -1)), yv).backward(inputs=[alpha])
        adam.step()
        sgd.zero_grad()
        F.cross_entropy(net(x, weights=torch.softmax(alpha, -1).detach()), y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        sgd.step()

    plain_seconds = timed(plain)
    for method in methods:
        spec = method_spec(method, setting)
        cls = registry().load("oneshot", spec.pop("name"))
        torch.manual_seed(0)
        m = cls(build_config(cls.Config, spec, "oneshot.method"), space=space)
        net = space.supernet(**{**s["supernet"], **m.supernet_options()})
        m.check_supernet(net)
        m.stages(s["epochs"])
        m.setup(net, "cpu")
        m.start_epoch(0, s["epochs"])
        opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)
        seconds = timed(lambda k: m.train_step(net, x, y, opt, np.random.default_rng(k + 1), 5.0, valid=(xv, yv)))
        out[method] = {"seconds_per_step": seconds, "vs_plain": seconds / plain_seconds}
    base = out.get("darts", {}).get("seconds_per_step")
    for r in out.values():
        r["vs_darts"] = r["seconds_per_step"] / base if base else float("nan")
    out["_plain_seconds_per_step"] = plain_seconds
    return out


# --- report -------------------------------------------------------------------------------------
def _mean_std(values: list[Any]) -> str:
    v = [float(x) for x in values if x is not None and np.isfinite(float(x))]
    if not v:
        return "-"
    return f"{np.mean(v):.2f}" + (f" ± {np.std(v):.2f}" if len(v) > 1 else "")


def report(setting: str, payload: dict[str, Any]) -> None:
    s = SETTINGS[setting]
    runs = payload.get("search", {})
    lines = [f"# Differentiable NAS on NAS-Bench-201 / CIFAR-10 ({setting} setting)", "",
             f"Supernet {s['supernet']} (NAS-Bench-201's: 16 channels, 5 cells per stage), {s['epochs']} epochs "
             f"({', '.join(f'{m} {e}' for m, e in REFERENCE_EPOCHS.items())}, as their NAS-Bench-201 reference code runs them) of batch "
             f"{s['batch_size']}, split {s['split'][0]} + {s['split'][1]} of CIFAR-10's training images (weights / "
             "architecture), one torch thread. Derived cell looked up in the NAS-Bench-201 table (200-epoch test accuracy). "
             f"Methods run so far: {len({r['method'] for r in runs.values()})} of {len(METHODS)}; the bench resumes the rest "
             "(`--phase search`). Published figures: as our seed papers quote them (DARE Table 4, DSM-NAS Table II) where "
             "they do; DrNAS and GAEA from their own papers (sources in the last column).",
             "", "## Derived architectures", "",
             "| method | seeds | CIFAR-10 | CIFAR-100 | ImageNet16-120 | param-free ops (of 6) | Hessian eig. (end) | "
             "gap (supernet − derived, %) | search min | published (C10 / C100 / IN16) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    by_method: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(runs):
        by_method.setdefault(runs[key]["method"], []).append(runs[key])
    for method in [m for m in METHODS if m in by_method]:
        rows = by_method[method]
        published, source = PUBLISHED.get(method, ("-", ""))
        lines.append(f"| {method} | {len(rows)} | {_mean_std([r['cifar10_test'] for r in rows])} | "
                     f"{_mean_std([r['cifar100_test'] for r in rows])} | {_mean_std([r['imagenet16_test'] for r in rows])} | "
                     f"{_mean_std([r['parameter_free'] for r in rows])} | {_mean_std([r['hessian_final'] for r in rows])} | "
                     f"{_mean_std([r['discretisation_gap'] for r in rows])} | "
                     f"{_mean_std([r['search_seconds'] / 60 for r in rows])} | {published} ({source}) |")
    if by_method:
        lines += ["", "## The collapse, epoch by epoch", "", _collapse_table(by_method)]
    lines += ["", "Derived cells:", ""]
    for key in sorted(runs):
        lines.append(f"- {key}: `{runs[key]['arch']}`")
    if payload.get("darts_space"):
        lines += ["", "## DARTS space", "", _darts_space_table(payload["darts_space"])]
    if payload.get("cost"):
        lines += ["", "## Cost", "", _cost_table(payload["cost"])]
    _plot(setting, by_method)
    write_results(results_name("differentiable", setting), payload, "\n".join(lines))


def _plot(setting: str, by_method: dict[str, list[dict[str, Any]]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    if not by_method:
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for i, method in enumerate(m for m in METHODS if m in by_method):
        colour = f"C{i % 10}"
        for k, r in enumerate(by_method[method]):
            epochs = [c["epoch"] + 1 for c in r["curve"]]
            label = method if k == 0 else None
            axes[0].plot(epochs, [c["parameter_free_share"] for c in r["curve"]], color=colour, alpha=0.8, label=label)
            axes[1].plot(epochs, [c["cifar10_test"] for c in r["curve"]], color=colour, alpha=0.8, label=label)
            h = [(c["epoch"] + 1, c["hessian"]) for c in r["curve"] if c["hessian"] is not None]
            if h:
                axes[2].plot(*zip(*h), marker="o", ms=3, color=colour, alpha=0.8, label=label)
    for ax, title in zip(axes, ("share of parameter-free ops in the derived cell", "derived cell's CIFAR-10 test accuracy (table)",
                                "dominant Hessian eigenvalue (validation loss, alpha)")):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Differentiable NAS on NAS-Bench-201 ({setting} setting)")
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / f"{results_name('differentiable', setting)}_collapse.png", dpi=120)
    plt.close(fig)


def _collapse_table(by_method: dict[str, list[dict[str, Any]]]) -> str:
    """Per method (mean over seeds): the derived cell's parameter-free ops and true CIFAR-10
    accuracy after the first epoch, a fifth and half of the search and at its end, and the Hessian
    eigenvalue at its first and last measurement, so a drift toward parameter-free ops (DARTS'
    collapse) reads along a row."""
    fractions = (0.0, 0.2, 0.5, 1.0)
    out = ["| method | epochs | free / C10 after epoch 1 | at 20 % | at 50 % | at the end | Hessian first -> last |",
           "|---|---|---|---|---|---|---|"]
    for method in [m for m in METHODS if m in by_method]:
        cells = []
        for fraction in fractions:
            at = [r["curve"][max(0, round(fraction * len(r["curve"])) - 1)] for r in by_method[method] if r["curve"]]
            free = [6 * c["parameter_free_share"] for c in at if c["parameter_free_share"] is not None]
            acc = [c["cifar10_test"] for c in at if c["cifar10_test"] is not None]
            cells.append(f"{np.mean(free):.1f} / {np.mean(acc):.2f}" if free and acc else "-")
        hessians = [[c["hessian"] for c in r["curve"] if c["hessian"] is not None] for r in by_method[method]]
        hessians = [h for h in hessians if h]
        trend = (f"{np.mean([h[0] for h in hessians]):.3f} -> {np.mean([h[-1] for h in hessians]):.3f}"
                 if hessians else "-")
        lengths = sorted({len(r["curve"]) for r in by_method[method]})
        out.append(f"| {method} | {'/'.join(map(str, lengths))} | {' | '.join(cells)} | {trend} |")
    return "\n".join(out)


def _darts_space_table(rows: dict[str, Any]) -> str:
    out = ["| method | params (M, 36 ch x 20 cells) | param-free ops (normal) | synflow percentile among NB301 cells | naswot percentile | normal cell | reduce cell |",
           "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        fmt = lambda genes: ", ".join(f"{op}<-{src}" for op, src in genes)  # noqa: E731
        free = sum(op in ("skip_connect", "avg_pool_3x3", "max_pool_3x3") for op, _ in r["normal"])
        out.append(f"| {name} | {r['params_m']:.3f} | {free} | {r.get('synflow_percentile', '-')} | {r.get('naswot_percentile', '-')} | "
                   f"{fmt(r['normal'])} | {fmt(r['reduce'])} |")
    return "\n".join(out)


def _cost_table(rows: dict[str, Any]) -> str:
    out = ["| method | s / step | vs DARTS 1st order | vs plain PyTorch loop |", "|---|---|---|---|"]
    for name, r in rows.items():
        if name.startswith("_"):
            continue
        out.append(f"| {name} | {r['seconds_per_step']:.3f} | {r['vs_darts']:.2f}x | {r['vs_plain']:.2f}x |")
    if "_plain_seconds_per_step" in rows:
        out.append(f"| plain PyTorch DARTS 1st-order step | {rows['_plain_seconds_per_step']:.3f} | | 1.00x |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = training_bench_parser(__doc__.splitlines()[0], SETTINGS, METHODS, ("search", "darts_space", "cost", "report"))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args(argv)
    methods = start_training_bench(args)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"error: unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    seeds = [int(x) for x in args.seeds.split(",") if x]
    summary_path = work_dir(args.setting) / "summary.json"
    load_summary(summary_path, results_name("differentiable", args.setting))

    def save(section: str, key: str, value: Any) -> dict[str, Any]:
        setting = {"name": args.setting, **SETTINGS[args.setting], "device": args.device}
        return merge_summary(summary_path, section, key, value, setting)

    for method in methods:
        for seed in seeds:
            if args.phase in ("all", "search"):
                save("search", f"{method}/s{seed}", search(args.setting, method, seed, args.device))
    methods = [m for m in methods if m not in VARIANTS]  # a variant's DARTS-space genotype and cost are its method's
    if args.phase in ("all", "darts_space"):
        genotypes = {}
        for method in methods:
            genotypes[method] = darts_space_search(args.setting, method, args.device)
            save("darts_space", method, genotypes[method])
        for name, scores in darts_space_proxies(args.setting, genotypes).items():
            if name.startswith("_"):
                continue
            save("darts_space", name, {**genotypes.get(name, {"normal": DARTS_V2["normal"], "reduce": DARTS_V2["reduce"],
                                                                 "params_m": _params_m(DARTS_V2)}), **scores})
    if args.phase in ("all", "cost"):
        for name, value in cost(args.setting, methods, args.device).items():
            save("cost", name, value)
    payload = load_summary(summary_path, results_name("differentiable", args.setting))
    payload["setting"] = {"name": args.setting, **SETTINGS[args.setting], "device": args.device}
    report(args.setting, payload)


if __name__ == "__main__":
    main()
