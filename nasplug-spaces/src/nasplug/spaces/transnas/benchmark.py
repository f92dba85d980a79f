"""Bindings of the TransNAS-Bench-101 tables to the micro and macro spaces.

* Micro: ``transnas101/micro_zen_all.csv.gz`` holds all 4,096 cells x 7 tasks (long format:
  ``naslib_op_tuple, task, val_metric, zen``). Metrics: ``<task>`` (the task's validation metric)
  and ``<task>_zen`` (the Zen-NAS score computed per task; -1e8 marks a failed score, e.g. the
  all-``none`` cell, kept as in the source).
* Macro: ``transnas101/suite_zero_macro_subset.json`` (NAS-Bench-Suite-Zero) holds 725 of the
  3,256 networks: ``<task>`` (``val_accuracy``) and ``<task>_<proxy>`` for its 10 proxies plus
  ``params``/``flops``. The two classification tasks cover 662 of the 725 (NaN for the rest).

Tasks: ``class_scene``, ``class_object`` (top-1 %), ``jigsaw`` (top-1 %), ``room_layout``
(negative L2 loss), ``segmentsemantic`` (pixel accuracy %), ``normal``, ``autoencoder`` (SSIM);
for every metric higher is better. Loaded tables are cached per resolved path.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.tables import TableBenchmark, TableCache, read_text
from nasplug.spaces.transnas.macro import macro_str, to_macro
from nasplug.spaces.transnas.micro import micro_str, to_micro

MICRO_PATH = "transnas101/micro_zen_all.csv.gz"
MACRO_PATH = "transnas101/suite_zero_macro_subset.json"
#: The 7 TransNAS-Bench-101 tasks in the paper's order.
TASKS: tuple[str, ...] = ("class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic", "normal", "autoencoder")

_TABLES = TableCache()


class TransNASBenchmark(TableBenchmark):
    """Metrics of TransNAS-Bench-101 architectures (one space), one float column per metric;
    architectures are tuples of digits/codes or their official strings."""

    def __init__(self, space_name: str, archs: list[tuple[int, ...]], columns: dict[str, np.ndarray],
                 to_arch: Callable[[Any], tuple[int, ...]], to_str: Callable[[Sequence[int]], str],
                 path: Path | None = None) -> None:
        super().__init__(archs, columns, path)
        self.space_name = space_name
        self._to_arch = to_arch
        self._to_str = to_str

    def key_of(self, arch: Hashable) -> tuple[int, ...]:
        return self._to_arch(arch)

    def missing(self, key: Hashable) -> str:
        return (f"architecture {self._to_str(key)} is not in the {self.space_name} table {self.path}; "
                f"query one of benchmark.architectures()")

    def __repr__(self) -> str:
        return (f"TransNASBenchmark({self.space_name}: {len(self._archs)} archs, {len(self._metrics)} metrics, "
                f"path={str(self.path)!r})")


def _parse_tuple_text(text: str) -> list[int]:
    """``"(1, 0, 2, 3, 0, 0)"`` -> ``[1, 0, 2, 3, 0, 0]``."""
    return [int(x) for x in text.strip().strip("()").split(",") if x.strip()]


def read_micro(path: Path) -> TransNASBenchmark:
    """Read ``micro_zen_all.csv.gz`` (gzip or plain CSV); no caching."""
    rows = list(csv.reader(io.StringIO(read_text(path, "TransNAS micro table", "point benchmark.path at micro_zen_all.csv.gz"))))
    if not rows:
        raise BenchmarkError(f"{path} is empty; point benchmark.path at micro_zen_all.csv.gz")
    header = [h.strip() for h in rows[0]]
    needed = ("naslib_op_tuple", "task", "val_metric", "zen")
    if any(h not in header for h in needed):
        raise BenchmarkError(f"{path} is not a TransNAS micro table (needs columns {', '.join(needed)}; "
                             f"has {', '.join(header[:6])}); point benchmark.path at micro_zen_all.csv.gz")
    col = {h: header.index(h) for h in needed}
    values: dict[tuple[tuple[int, ...], str], tuple[float, float]] = {}
    parsed: dict[str, tuple[int, ...]] = {}  # 7 rows per cell: parse each key once
    for n, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        try:
            key = r[col["naslib_op_tuple"]]
            arch = parsed.get(key) or parsed.setdefault(key, to_micro(_parse_tuple_text(key)))
            values[(arch, r[col["task"]].strip())] = (float(r[col["val_metric"]] or "nan"), float(r[col["zen"]] or "nan"))
        except (ArchitectureError, ValueError, IndexError) as exc:
            raise BenchmarkError(f"{path} row {n} is damaged ({exc}); restore micro_zen_all.csv.gz") from None
    archs = sorted({a for a, _ in values})
    present = {t for _, t in values}
    tasks = [t for t in TASKS if t in present] + sorted(present - set(TASKS))
    columns: dict[str, np.ndarray] = {}
    for task in tasks:
        pairs = [values.get((a, task), (np.nan, np.nan)) for a in archs]
        columns[task] = np.array([p[0] for p in pairs], dtype=np.float64)
        columns[f"{task}_zen"] = np.array([p[1] for p in pairs], dtype=np.float64)
    return TransNASBenchmark("transnas_micro", archs, columns, to_micro, micro_str, path)


def read_macro(path: Path) -> TransNASBenchmark:
    """Read the NAS-Bench-Suite-Zero macro JSON ``{task: {"(c1, .., c6)": {...}}}``; no caching."""
    try:
        data = json.loads(path.read_text())
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(
            f"cannot read TransNAS macro table {path}: {exc}; point benchmark.path at suite_zero_macro_subset.json") from None
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
        raise BenchmarkError(f"{path} is not a NAS-Bench-Suite-Zero macro table ({{task: {{arch: record}}}}); "
                             f"point benchmark.path at suite_zero_macro_subset.json")
    tasks = [t for t in TASKS if t in data] + sorted(set(data) - set(TASKS))
    parsed: dict[str, dict[tuple[int, ...], dict[str, Any]]] = {}
    order: dict[tuple[int, ...], int] = {}
    for task in tasks:
        parsed[task] = {}
        for key, record in data[task].items():
            try:
                arch = to_macro(_parse_tuple_text(key))
            except (ArchitectureError, ValueError) as exc:
                raise BenchmarkError(f"{path} task {task} holds an invalid architecture {key!r} ({exc})") from None
            parsed[task][arch] = record
            order.setdefault(arch, len(order))
    archs = sorted(order, key=order.get)  # first appearance: the file's order
    columns: dict[str, np.ndarray] = {}
    for task in tasks:
        records = parsed[task]
        columns[task] = np.array([float(records[a].get("val_accuracy", np.nan)) if a in records else np.nan for a in archs])
    for task in tasks:
        records = parsed[task]
        proxies = sorted({k for r in records.values() for k, v in r.items() if isinstance(v, dict) and "score" in v})
        for proxy in proxies:
            columns[f"{task}_{proxy}"] = np.array(
                [float(records[a][proxy]["score"]) if a in records and proxy in records[a] else np.nan for a in archs])
    return TransNASBenchmark("transnas_macro", archs, columns, to_macro, macro_str, path)


def load_micro_benchmark(path: str | os.PathLike | None = None) -> TransNASBenchmark:
    """The micro table at ``path`` (file or folder) or under ``$NASPLUG_BENCHMARKS``, cached."""
    return _TABLES.load(path, MICRO_PATH, "transnas_micro", read_micro, kind="micro")


def load_macro_benchmark(path: str | os.PathLike | None = None) -> TransNASBenchmark:
    """The macro subset at ``path`` (file or folder) or under ``$NASPLUG_BENCHMARKS``, cached."""
    return _TABLES.load(path, MACRO_PATH, "transnas_macro", read_macro, kind="macro")


def clear_cache() -> None:
    """Forget every loaded table."""
    _TABLES.clear()
