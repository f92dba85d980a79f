"""The compact NAS-Bench-201 table shipped with nasplug-spaces (``data/nb201_compact.npz``).

Every one of the 15,625 cells with the full table's columns except latency: the 200-epoch test
accuracies on CIFAR-10 / CIFAR-100 / ImageNet16-120, ``cifar10_valid_val`` / ``cifar10_valid_test``,
the 12-epoch validation and test accuracies and the parameter counts. Accuracies are stored to
0.01 points and parameter counts to one parameter (``scripts/make_nb201_compact.py`` writes it
from ``nb201.csv.gz``). The ``nb201`` benchmark reads it when neither ``benchmark.path`` nor
``$NASPLUG_BENCHMARKS`` is given, so a pip user can run NAS-Bench-201 with nothing downloaded.
Data: NAS-Bench-201 (Dong & Yang, ICLR 2020) and NATS-Bench; see ``data/NB201_DATA.md`` for the
sources, licences and citations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nasplug.spaces.nb201.space import OPS, NB201Arch

DATA = Path(__file__).resolve().parent / "data"
COMPACT_FILE = DATA / "nb201_compact.npz"
#: How values are stored: (multiplier, integer type).
SCALES = {"accuracy": (100, np.uint16), "params": (1_000_000, np.uint32)}


def pack_ops(arch: Sequence[str]) -> int:
    """The cell's six ops as one base-5 number (edge 0 most significant)."""
    code = 0
    for op in arch:
        code = code * len(OPS) + OPS.index(op)
    return code


def unpack_ops(code: int) -> NB201Arch:
    ops = []
    for _ in range(6):
        code, digit = divmod(int(code), len(OPS))
        ops.append(OPS[digit])
    return tuple(reversed(ops))  # type: ignore[return-value]


def read_compact(path: Path = COMPACT_FILE) -> tuple[list[NB201Arch], np.ndarray, dict[str, np.ndarray]]:
    """Architectures (official-index order), their indices and float metric columns."""
    with np.load(path) as data:
        archs = [unpack_ops(c) for c in data["arch"]]
        indices = data["index"].astype(np.int64)
        columns = {}
        for name in data.files:
            if name in ("arch", "index"):
                continue
            scale = SCALES["params" if name.startswith("params_") else "accuracy"][0]
            columns[name] = data[name].astype(np.float64) / scale
    return archs, indices, columns
