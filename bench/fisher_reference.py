"""The fisher proxy against the reference definition (issue 23), and its zero-cost table row.

The published NAS-Bench-201 fisher figures (Abdelfattah et al. 2021, Spearman 0.36 with CIFAR-10
test accuracy) come from the zero-cost-proxies code, also NASLib's. That code swaps each conv /
linear layer's forward for one that routes the output through an identity layer, records the
per-channel value ``0.5 * mean_n (sum_hw a * g)^2`` from a backward hook on that identity, then
broadcasts each channel's value over the channel's weights (``weight.shape[1:]``) and sums
everything. ``reference_fisher`` below re-implements that mechanism independently of the plugin
(different hooks, float32 like the original, the broadcast done literally with ``expand``), so
agreement is evidence, not a tautology.

1. ``--cells`` random cells (seeded by ``--seed``), the same seeded networks
   and CIFAR-10 batch: Spearman between the reference and nasplug's ``fisher`` with
   ``reduction = "fan_in"`` (the default now) and ``"channel"`` (the default before);
2. score runs of the default fisher on the zero-cost bench's 1,000 + 300 cells: correlations with
   the three datasets' test accuracy; ``--update-zero-cost`` writes them into the fisher row of
   ``bench/results/zero_cost.{json,md}`` (the old row is kept under ``fisher_channel``).

    .venv/bin/python bench/fisher_reference.py --update-zero-cost      # committed run (~25 min)
    .venv/bin/python bench/fisher_reference.py --cells 20 --n 0         # quick check

Writes bench/results/fisher_reference.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _common import RESULTS, benchmarks_dir, write_results
from nasplug.core import metrics
from nasplug.core.data import load_image_batch
from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.registry import registry
from nasplug.proxies.zero_cost._common import logits_of, seeded
from zero_cost import PASSES, correlations, score_run

PUBLISHED = 0.36


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def reference_fisher(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The zero-cost-proxies definition, mechanism for mechanism (see the module docstring)."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    state: dict[nn.Module, dict[str, Any]] = {}
    handles = []
    for layer in layers:
        dummy = _Identity()
        state[layer] = {"act": None, "fisher": None, "dummy": dummy}

        def forward(inp: torch.Tensor, layer: nn.Module = layer, dummy: nn.Module = dummy) -> torch.Tensor:
            out = (F.conv2d(inp, layer.weight, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups)
                   if isinstance(layer, nn.Conv2d) else F.linear(inp, layer.weight, layer.bias))
            state[layer]["act"] = dummy(out)
            return state[layer]["act"]

        def hook(_m: nn.Module, _gin: Any, gout: Any, layer: nn.Module = layer) -> None:
            act, grad = state[layer]["act"].detach(), gout[0].detach()
            g_nk = (act * grad).sum(dim=list(range(2, act.ndim))) if act.ndim > 2 else act * grad
            del_k = g_nk.pow(2).mean(0).mul(0.5)
            state[layer]["fisher"] = del_k if state[layer]["fisher"] is None else state[layer]["fisher"] + del_k

        layer.forward = forward
        handles.append(dummy.register_full_backward_hook(hook))
    try:
        module.zero_grad()
        F.cross_entropy(logits_of(module(x)), y).backward()
    finally:
        for h in handles:
            h.remove()
        for layer in layers:
            del layer.forward  # back to the class's forward
    total = 0.0
    for layer in layers:
        per_channel = state[layer]["fisher"]
        if per_channel is None:
            per_channel = torch.zeros(layer.weight.shape[0])
        total += float(per_channel.abs().reshape(-1, *[1] * (layer.weight.ndim - 1)).expand(layer.weight.shape).sum())
    return total


def compare(cells: int, seed: int, root: Path) -> dict[str, Any]:
    space = registry().create("space", "nb201")
    spec = PASSES["cifar10"]
    x, y, classes = load_image_batch(str(root / "images" / spec["images"]), 20, spec["classes"])
    ctx = ProxyContext(seed=seed, batch=(x, y), num_classes=classes)
    archs = space.sample_many(cells, np.random.default_rng(seed))
    proxies = {name: registry().create("proxy", {"name": "fisher", "reduction": name}, space=space)
               for name in ("fan_in", "channel")}
    values: dict[str, list[float]] = {"reference": [], "fan_in": [], "channel": []}
    started = time.perf_counter()
    for arch in archs:
        for name, proxy in proxies.items():
            values[name].append(proxy.score(arch, ctx))
        with seeded(ctx.seed, torch.device("cpu")):  # the network the proxies built
            module = proxies["fan_in"].build(arch, ctx, torch.device("cpu"))
            xb, yb = proxies["fan_in"].batch(ctx, torch.device("cpu"))
            values["reference"].append(reference_fisher(module, xb, yb))
    ref = np.array(values["reference"])
    truth = space.load_benchmark(str(root)).query_many(archs, "cifar10_test")
    out: dict[str, Any] = {"cells": cells, "seconds": time.perf_counter() - started}
    for name in ("fan_in", "channel"):
        ours = np.array(values[name])
        ok = np.isfinite(ours) & np.isfinite(ref)
        out[name] = {"spearman_with_reference": metrics.spearman(ours[ok], ref[ok]),
                     "kendall_with_reference": metrics.kendall_tau(ours[ok], ref[ok]),
                     "median_relative_difference": float(np.median(np.abs(ours[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-30))),
                     "spearman_cifar10": metrics.spearman(ours[ok], truth[ok])}
    out["reference"] = {"spearman_cifar10": metrics.spearman(ref, truth)}
    return out


def table_rows(cache: Path, n: int, n100: int, seed: int, root: Path) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for pass_name, cells in (("cifar10", n), ("cifar100", min(n100, n))):
        if cells <= 0:
            continue
        spec = PASSES[pass_name]
        data = {"path": str(root / "images" / spec["images"]), "batch_size": 20, "num_classes": spec["classes"]}
        result, records = score_run(cache, f"{pass_name}-fisher_fan_in-n{cells}-s{seed}", "fisher", cells, data,
                                    spec["metrics"], seed)
        fit = np.array([r.fitness for r in records])
        space = registry().create("space", "nb201")
        bench = space.load_benchmark(str(root))
        truth = {m: bench.query_many([r.arch for r in records], m) for m in spec["metrics"]}
        rows[pass_name] = {"archs": result["archs"], "non_finite": result["non_finite"],
                           "seconds_per_arch": result["seconds_per_arch"],
                           "correlations": {m: correlations(fit, t) for m, t in truth.items()}}
    return rows


def update_zero_cost(rows: dict[str, Any]) -> None:
    """Put the default fisher's correlations in the zero-cost table (old row kept as fisher_channel)."""
    path = RESULTS / "zero_cost.json"
    payload = json.loads(path.read_text())
    for pass_name, row in rows.items():
        proxies = payload["passes"][pass_name]["proxies"]
        if "fisher" in proxies and "fisher_channel" not in proxies:
            proxies["fisher_channel"] = {**proxies["fisher"], "options": {"reduction": "channel"}}
        proxies["fisher"] = {**row, "options": {"reduction": "fan_in"}, "source": "bench/fisher_reference.py"}
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    md = (RESULTS / "zero_cost.md").read_text().splitlines()

    def cell(pass_name: str, metric: str) -> str:
        c = rows[pass_name]["correlations"][metric]
        return f"{c['spearman']:.3f} / {c['kendall_tau']:.3f} / {c['top10%']:.2f}"

    for i, line in enumerate(md):
        if line.startswith("| fisher |"):
            old = line.split("|")
            new = ["", " fisher (reference, `fan_in`) ", f" {cell('cifar10', 'cifar10_test')} ",
                   f" {cell('cifar10', 'cifar100_test')} ", f" {cell('cifar10', 'imagenet16_test')} ",
                   f" {cell('cifar100', 'cifar100_test')} ", f" {cell('cifar100', 'imagenet16_test')} ",
                   f" {PUBLISHED} (Abdelfattah 2021) ", f" {rows['cifar10']['non_finite']} ",
                   f" {rows['cifar10']['seconds_per_arch']:.2f} ", ""]
            old[1] = " fisher (`channel`, before issue 23) "
            md[i] = "|".join(new) + "\n" + "|".join(old)
            break
    (RESULTS / "zero_cost.md").write_text("\n".join(md) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100, help="cells compared with the reference implementation")
    parser.add_argument("--n", type=int, default=1000, help="cells of the CIFAR-10 score run (0: skip the runs)")
    parser.add_argument("--n100", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default="/tmp/nasplug-bench-zero_cost")
    parser.add_argument("--update-zero-cost", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = benchmarks_dir()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"settings": vars(args), "published_cifar10": PUBLISHED,
                               "comparison": compare(args.cells, args.seed, root)}
    if args.n > 0:
        payload["runs"] = table_rows(cache, args.n, args.n100, args.seed, root)
    c = payload["comparison"]
    lines = ["# fisher against the reference definition (issue 23)", "",
             f"`{' '.join(['bench/fisher_reference.py'] + [a for a in ('--update-zero-cost',) if args.update_zero_cost])}`, "
             f"seed {args.seed}: {c['cells']} random NB201 cells, the same seeded networks and 20 CIFAR-10 test images "
             "for every variant. The reference is the zero-cost-proxies mechanism re-implemented in this script "
             "(identity layer + backward hook, channel value broadcast over the channel's weights).", "",
             "| nasplug fisher | Spearman with reference | Kendall with reference | median relative difference | Spearman with CIFAR-10 test |",
             "|---|---|---|---|---|"]
    for name in ("fan_in", "channel"):
        r = c[name]
        lines.append(f"| `reduction = \"{name}\"`{' (default)' if name == 'fan_in' else ''} | {r['spearman_with_reference']:.4f} | "
                     f"{r['kendall_with_reference']:.4f} | {r['median_relative_difference']:.1e} | {r['spearman_cifar10']:.3f} |")
    lines.append(f"| (the reference itself) | 1 | 1 | 0 | {c['reference']['spearman_cifar10']:.3f} |")
    if "runs" in payload:
        lines += ["", "Default fisher (`fan_in`) score runs, Spearman / Kendall tau / top-10% retrieval "
                  f"(published CIFAR-10 Spearman {PUBLISHED}):", "",
                  "| pass | cells | CIFAR-10 | CIFAR-100 | ImageNet16-120 | non-finite | s / arch |", "|---|---|---|---|---|---|---|"]
        for pass_name, row in payload["runs"].items():
            cols = []
            for m in ("cifar10_test", "cifar100_test", "imagenet16_test"):
                cc = row["correlations"].get(m)
                cols.append(f"{cc['spearman']:.3f} / {cc['kendall_tau']:.3f} / {cc['top10%']:.2f}" if cc else "-")
            lines.append(f"| {pass_name} | {row['archs']} | {' | '.join(cols)} | {row['non_finite']} | {row['seconds_per_arch']:.2f} |")
        if args.update_zero_cost:
            update_zero_cost(payload["runs"])
    write_results("fisher_reference", payload, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
