"""``score`` runs of the size baselines (params, FLOPs) over all 15,625 NAS-Bench-201 cells,
against the published correlations (params Spearman 0.753 with CIFAR-10 test accuracy, the
third-party figure quoted in shared/benchmarks/README.md; ZiCo, ICLR 2023, reports #params/FLOPs
as strong baselines).

    .venv/bin/python bench/proxy_baselines.py

Writes bench/results/proxy_baselines.{json,md}.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from _common import benchmarks_dir, write_results
from nasplug.core.runs import run

METRICS = ["cifar10_test", "cifar100_test", "imagenet16_test"]
PUBLISHED = {"params": {"cifar10_test": 0.753}}


def main() -> None:
    benchmarks_dir()
    torch.set_num_threads(1)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for proxy in ("params", "flops"):
            result = run({"kind": "score", "space": "nb201", "proxy": proxy,
                          "score": {"archs": "all", "metrics": METRICS}, "store": {"path": str(Path(tmp) / f"{proxy}.db")}})
            rows[proxy] = result.result
    md = ["# Size baselines on all 15,625 NAS-Bench-201 cells (score runs)", "",
          "Spearman / Kendall tau / top-10% retrieval with the 200-epoch test accuracy; published values in brackets.", "",
          "| proxy | CIFAR-10 | CIFAR-100 | ImageNet16-120 | s / arch |", "|---|---|---|---|---|"]
    for proxy, result in rows.items():
        cells = []
        for metric in METRICS:
            c = result["correlations"][metric]
            pub = PUBLISHED.get(proxy, {}).get(metric)
            cells.append(f"{c['spearman']:.3f} / {c['kendall_tau']:.3f} / {c['top10%']:.3f}" + (f" [{pub}]" if pub else ""))
        md.append(f"| {proxy} | " + " | ".join(cells) + f" | {result['seconds_per_arch'] * 1000:.1f} ms |")
    write_results("proxy_baselines", {"results": rows, "published": PUBLISHED}, "\n".join(md))


if __name__ == "__main__":
    main()
