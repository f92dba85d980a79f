"""TransNAS-Bench-101 (micro, macro), NAS-Bench-Macro and MobileNet-like (OFA) spaces: size,
speed of sampling and of building + running networks, and one benchmark statistic per space next
to the published one, on 2 shared CPU cores with one torch thread.

    .venv/bin/python bench/spaces_transnas_macro_mobilenet.py [--nb-macro-archs N] [--transnas-archs N]

Defaults: every one of the 6,561 NAS-Bench-Macro networks is built and its params/FLOPs compared
with the table; 120 TransNAS micro and 120 macro networks (random, seed 0) of the
NAS-Bench-Suite-Zero subsets are built and their params compared (``--transnas-archs 0`` = all).
Writes bench/results/spaces_transnas_macro_mobilenet.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from _common import benchmarks_dir, write_results
from nasplug.core.registry import registry

#: Classes of the two TransNAS classification heads (their Suite-Zero ``params`` include them).
TRANSNAS_CLASSES = {"class_scene": 63, "class_object": 100}
#: DSM-NAS's published networks (codebase/dsm_nas.py) and their MAdds in the paper's Table IV.
DSM_NAS = {
    "DSM-NAS": ("3,3,3,4,4:5,5,7,0,5,5,7,0,5,7,5,0,5,5,5,7,5,7,7,7:6,6,3,0,6,4,6,0,6,6,6,0,6,6,6,4,6,6,4,4", 597),
    "DSM-NAS+": ("4,4,3,4,4:3,5,5,5,7,7,3,7,5,3,7,0,5,5,7,7,3,5,5,3:6,6,3,3,3,6,3,6,6,3,6,0,6,3,6,4,6,6,4,6", 582),
}


def rate(fn, n: int) -> float:
    """Calls per second of ``fn`` over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def network_timings(space, arch, resolutions: tuple[int, ...], batch: int = 8) -> dict[str, float]:
    """Build time and forward time (eval, no grad) of ``arch``'s network, in ms."""
    torch.manual_seed(0)
    start = time.perf_counter()
    net = space.to_module(arch, num_classes=10).eval()
    out = {"build_ms": 1000 * (time.perf_counter() - start)}
    with torch.no_grad():
        for r in resolutions:
            x = torch.randn(batch if r <= 64 else 1, 3, r, r)
            net(x)  # warm-up
            reps = 5
            start = time.perf_counter()
            for _ in range(reps):
                net(x)
            out[f"forward_{x.shape[0]}x{r}px_ms"] = 1000 * (time.perf_counter() - start) / reps
    return out


def speeds(space, resolutions: tuple[int, ...]) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a = space.sample(rng)
    return {
        "sample_per_s": rate(lambda: space.sample(rng), 5000),
        "mutate_per_s": rate(lambda: space.mutate(a, rng), 2000),
        "canonical_parse_per_s": rate(lambda: space.parse(space.canonical(a)), 5000),
        **network_timings(space, space.sample(np.random.default_rng(1)), resolutions),
    }


def transnas_params_agreement(space, kind: str, suite: dict, n: int) -> dict[str, float]:
    """Our networks' params against NAS-Bench-Suite-Zero's (both classification heads)."""
    keys = list(suite["class_scene"])
    if n and n < len(keys):
        keys = [keys[i] for i in np.random.default_rng(0).choice(len(keys), n, replace=False)]
    equal = 0
    worst = 0.0
    start = time.perf_counter()
    for key in keys:
        arch = space.parse(tuple(int(x) for x in key.strip("()").split(",")))
        net = space.to_module(arch, num_classes=1)
        base = sum(p.numel() for p in net.parameters())
        ok = True
        for task, classes in TRANSNAS_CLASSES.items():
            ours = (base + (classes - 1) * (net.out_channels + 1)) / 1e6
            theirs = suite[task][key]["params"]["score"]
            worst = max(worst, abs(ours - theirs))
            ok &= round(ours, 6) == theirs
        equal += ok
    return {"checked": len(keys), "equal": equal, "max_abs_diff_m": worst, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nb-macro-archs", type=int, default=0, help="NAS-Bench-Macro networks to build (0 = all 6,561)")
    parser.add_argument("--transnas-archs", type=int, default=120, help="Suite-Zero TransNAS networks per space to build (0 = all)")
    args = parser.parse_args()
    root = benchmarks_dir()
    torch.set_num_threads(1)
    reg = registry()
    results: dict[str, dict] = {}
    settings = {"nb_macro_archs": args.nb_macro_archs or 6561, "transnas_archs": args.transnas_archs or "all"}

    # --- TransNAS-Bench-101 micro ---------------------------------------------------------
    micro = reg.create("space", "transnas_micro")
    start = time.perf_counter()
    mb = micro.load_benchmark()
    load_s = time.perf_counter() - start
    tasks = [m for m in mb.metrics if not m.endswith("_zen")]
    covered = {t: int(np.isfinite(mb.column(t)).sum()) for t in tasks}
    best = {}
    for t in tasks:
        col = mb.column(t)
        i = int(np.argmax(col))
        best[t] = {"value": float(col[i]), "arch": micro.canonical(mb.architectures()[i])}
    suite = {k: json.loads((root / "transnas101" / f"suite_zero_{k}_subset.json").read_text()) for k in ("micro", "macro")}
    results["transnas_micro"] = {
        "size": micro.size(), "benchmark_load_s": load_s, "coverage": covered,
        "cells_x_tasks": f"{len(mb)} x {len(tasks)}", "best_per_task": best,
        "params_vs_suite_zero": transnas_params_agreement(micro, "micro", suite["micro"], args.transnas_archs),
        **speeds(micro, (32, 224)),
    }

    # --- TransNAS-Bench-101 macro ---------------------------------------------------------
    macro = reg.create("space", "transnas_macro")
    mab = macro.load_benchmark()
    lengths = [len(a) for a in macro.enumerate()]
    macro_best = {}
    for t in tasks:
        col = mab.column(t)
        i = int(np.nanargmax(col))
        macro_best[t] = {"value": float(col[i]), "arch": macro.canonical(mab.architectures()[i]), "measured": int(np.isfinite(col).sum())}
    members = sum(macro.contains(a) for a in mab.architectures())
    results["transnas_macro"] = {
        "size": macro.size(), "by_length": {n: lengths.count(n) for n in (4, 5, 6)},
        "subset_size": len(mab), "subset_members": members, "best_in_subset": macro_best,
        "params_vs_suite_zero": transnas_params_agreement(macro, "macro", suite["macro"], args.transnas_archs),
        **speeds(macro, (32, 224)),
    }

    # --- NAS-Bench-Macro ------------------------------------------------------------------
    from nasplug.spaces.nb_macro import representative
    from nasplug.spaces.nb_macro.network import count_flops, count_parameters

    nbm = reg.create("space", "nb_macro")
    nb = nbm.load_benchmark()
    every = nb.architectures()
    if args.nb_macro_archs:
        every = [every[i] for i in np.random.default_rng(0).choice(len(every), args.nb_macro_archs, replace=False)]
    ours_p, ours_f = [], []
    start = time.perf_counter()
    for arch in every:
        net = nbm.to_module(arch)
        ours_p.append(count_parameters(net))
        ours_f.append(count_flops(net))
    build_all = time.perf_counter() - start
    theirs_p, theirs_f = nb.query_many(every, "params"), nb.query_many(every, "flops")
    ours_p_arr, ours_f_arr = np.array(ours_p, dtype=float), np.array(ours_f, dtype=float)
    col = nb.column("mean_acc")
    best_i = np.flatnonzero(col == col.max())
    results["nb_macro"] = {
        "size": nbm.size(), "distinct_trained_networks": len({representative(a) for a in nb.architectures()}),
        "best_mean_acc": float(col.max()), "best_archs": [nbm.canonical(nb.architectures()[i]) for i in best_i],
        "checked": len(every), "params_equal": int((ours_p_arr == theirs_p).sum()), "flops_equal": int((ours_f_arr == theirs_f).sum()),
        "params_ratio_mean": float(np.mean(ours_p_arr / theirs_p)), "flops_ratio_mean": float(np.mean(ours_f_arr / theirs_f)),
        "params_pearson": float(np.corrcoef(ours_p_arr, theirs_p)[0, 1]), "flops_pearson": float(np.corrcoef(ours_f_arr, theirs_f)[0, 1]),
        "build_and_count_all_s": build_all,
        **speeds(nbm, (32,)),
    }

    # --- MobileNet-like (OFA) -------------------------------------------------------------
    mob = reg.create("space", "mobilenet")
    rng = np.random.default_rng(0)
    sample = [mob.sample(rng) for _ in range(10_000)]
    madds = np.array([mob.madds(a) for a in sample]) / 1e6
    a0 = sample[0]
    dsm = {name: {"ours_m": mob.madds(mob.parse(text)) / 1e6, "paper_m": paper,
                  "ours_conv_only_m": (mob.madds(mob.parse(text)) - mob.plan(mob.parse(text)).last * 1000) / 1e6}
           for name, (text, paper) in DSM_NAS.items()}
    results["mobilenet"] = {
        "size": mob.size(), "width_mult": mob.config.width_mult,
        "madds_224_m": {"min": float(madds.min()), "median": float(np.median(madds)), "max": float(madds.max()),
                        "share_under_600m": float((madds < 600).mean()), "samples": len(sample)},
        "dsm_nas_networks": dsm, "madds_per_s": rate(lambda: mob.madds(a0), 2000),
        **speeds(mob, (32, 224)),
    }

    # --- report ---------------------------------------------------------------------------
    r = results
    md = ["# Search spaces: TransNAS-Bench-101, NAS-Bench-Macro, MobileNet-like (OFA)", "",
          f"Settings: NAS-Bench-Macro networks checked: {settings['nb_macro_archs']}; TransNAS Suite-Zero networks checked "
          f"per space: {settings['transnas_archs']}; 1 torch thread on a shared 2-core machine (timings are indicative).", "",
          "| space | size | published | sample (archs/s) | mutate (archs/s) | to_module build (ms) | forward 8x32px (ms) | forward 1x224px (ms) |",
          "|---|---|---|---|---|---|---|---|"]
    published = {"transnas_micro": "4,096 (4^6)", "transnas_macro": "3,256 (micro + macro = 7,352 backbones)",
                 "nb_macro": "6,561 (3^8)", "mobilenet": "~10^19 (OFA)"}
    for name in ("transnas_micro", "transnas_macro", "nb_macro", "mobilenet"):
        s = r[name]
        md.append(f"| {name} | {s['size']:,} | {published[name]} | {s['sample_per_s']:,.0f} | {s['mutate_per_s']:,.0f} | "
                  f"{s['build_ms']:.0f} | {s['forward_8x32px_ms']:.1f} | "
                  + (f"{s['forward_1x224px_ms']:.0f} |" if "forward_1x224px_ms" in s else "- (CIFAR network) |"))
    n = r["nb_macro"]
    md += ["", "## NAS-Bench-Macro (CIFAR-10, complete table)", "",
           "| statistic | ours | published |", "|---|---|---|",
           f"| best mean test accuracy | {n['best_mean_acc']:.2f} ({', '.join(n['best_archs'])}) | 93.13 |",
           f"| networks whose params equal the table's | {n['params_equal']} / {n['checked']} (mean ratio {n['params_ratio_mean']:.6f}, Pearson {n['params_pearson']:.6f}) | table column `params` |",
           f"| networks whose FLOPs (conv + linear MACs at 32x32) equal the table's | {n['flops_equal']} / {n['checked']} (mean ratio {n['flops_ratio_mean']:.6f}, Pearson {n['flops_pearson']:.6f}) | table column `flops` |",
           f"| distinct trained networks (identities moved to stage ends) | {n['distinct_trained_networks']:,} | 6,561 keys |",
           "", f"Building and counting {n['checked']} networks took {n['build_and_count_all_s']:.0f} s."]
    m = r["transnas_micro"]
    md += ["", "## TransNAS-Bench-101 micro (all cells x 7 tasks)", "",
           f"Coverage: {m['cells_x_tasks']} (published: 4,096 cells x 7 tasks); per task finite values: "
           + ", ".join(f"{t} {c}" for t, c in m["coverage"].items()) + ".", "",
           "| task | best in table | cell |", "|---|---|---|"]
    md += [f"| {t} | {b['value']:.4f} | {b['arch']} |" for t, b in m["best_per_task"].items()]
    for name in ("transnas_micro", "transnas_macro"):
        p = r[name]["params_vs_suite_zero"]
        md += ["", f"{name}: params of our encoder + linear head equal NAS-Bench-Suite-Zero's `params` (class_scene, 63 classes; "
                   f"class_object, 100 classes) for **{p['equal']} / {p['checked']}** networks (largest difference {p['max_abs_diff_m']:.1e} M)."]
    mm = r["transnas_macro"]
    md += ["", "## TransNAS-Bench-101 macro (Suite-Zero subset)", "",
           f"Space: {mm['size']:,} networks = {mm['by_length'][4]} of 4 layers + {mm['by_length'][5]} of 5 + {mm['by_length'][6]} of 6 "
           f"(published 3,256). Subset: {mm['subset_size']} networks, {mm['subset_members']} of them members of our space.", "",
           "| task | best in subset | network | measured |", "|---|---|---|---|"]
    md += [f"| {t} | {b['value']:.4f} | {b['arch']} | {b['measured']} |" for t, b in mm["best_in_subset"].items()]
    mo = r["mobilenet"]
    q = mo["madds_224_m"]
    md += ["", f"## MobileNet-like (OFA MobileNetV3, width {mo['width_mult']}), MAdds at 224x224, 1000 classes", "",
           f"Over {q['samples']:,} samples from the DSM-NAS prior: min {q['min']:.0f}M, median {q['median']:.0f}M, max {q['max']:.0f}M; "
           f"{100 * q['share_under_600m']:.1f}% under the 600M mobile budget. `madds` (analytic): {mo['madds_per_s']:,.0f} calls/s.", "",
           "| network | ours (conv + classifier) | ours (conv only, DSM-NAS's counter) | paper (Table IV) |", "|---|---|---|---|"]
    md += [f"| {k} | {v['ours_m']:.1f}M | {v['ours_conv_only_m']:.1f}M | {v['paper_m']}M |" for k, v in mo["dsm_nas_networks"].items()]
    write_results("spaces_transnas_macro_mobilenet", {"settings": settings, "results": results}, "\n".join(md))


if __name__ == "__main__":
    main()
