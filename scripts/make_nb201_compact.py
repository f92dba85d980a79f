"""Regenerate the compact NAS-Bench-201 table shipped inside nasplug-spaces.

    .venv/bin/python scripts/make_nb201_compact.py [$NASPLUG_BENCHMARKS/nb201/nb201.csv.gz]

Reads the full table (``nb201.csv.gz``) and writes
``nasplug-spaces/src/nasplug/spaces/nb201/data/nb201_compact.npz``: every one of the 15,625 cells
in official-index order, its ops packed into one base-5 integer, accuracies (percent) as integers
of hundredths and parameter counts (millions) as integers of millionths, so the stored precision
is 0.01 accuracy points and 1 parameter. ``nasplug.spaces.nb201.compact`` reads it back.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "nasplug-spaces" / "src"))

from nasplug.spaces.nb201.benchmark import read_benchmark  # noqa: E402
from nasplug.spaces.nb201.compact import COMPACT_FILE, SCALES, pack_ops  # noqa: E402


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ["NASPLUG_BENCHMARKS"]) / "nb201" / "nb201.csv.gz"
    table = read_benchmark(source)
    archs = table.architectures()
    arrays = {"arch": np.array([pack_ops(a) for a in archs], dtype=np.uint16),
              "index": np.array([table.index_of(a) for a in archs], dtype=np.uint16)}
    for metric in table.metrics:
        if metric.startswith("latency_"):
            continue  # the full table stays the way to get latency
        scale, dtype = SCALES["params" if metric.startswith("params_") else "accuracy"]
        values = table.query_many(archs, metric)
        if not np.isfinite(values).all():
            raise SystemExit(f"{metric} has missing values; the compact table stores complete columns only")
        arrays[metric] = np.round(values * scale).astype(dtype)
    COMPACT_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(COMPACT_FILE, **arrays)
    print(f"wrote {COMPACT_FILE} ({COMPACT_FILE.stat().st_size / 1024:.0f} KiB, {len(archs)} cells, "
          f"{len(arrays) - 2} metrics) from {source}")


if __name__ == "__main__":
    main()
