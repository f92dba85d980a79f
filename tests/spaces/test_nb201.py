"""Tests of the NAS-Bench-201 space plugin: membership, moves, metric, graphs, network, benchmark."""

from __future__ import annotations

import csv
import gzip
import itertools
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasplug.core.errors import ArchitectureError, BenchmarkError, BudgetError, ConfigError
from nasplug.core.interfaces.benchmark import Benchmark
from nasplug.core.interfaces.space import DISCONNECTED, CellGraph, SearchSpace
from nasplug.core.options import NoOptions, build_config
from nasplug.spaces.nb201 import EDGES, OPS, NB201Space
from nasplug.spaces.nb201.benchmark import clear_cache, load_benchmark
from nasplug.spaces.nb201.network import count_parameters

SPACE = NB201Space()
DATASETS = (("cifar10", 10), ("cifar100", 100), ("imagenet16", 120))
EXAMPLE = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")
EXAMPLE_STR = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"

seeds = st.integers(min_value=0, max_value=2**32 - 1)
archs = seeds.map(lambda seed: SPACE.sample(np.random.default_rng(seed)))
fast = settings(max_examples=60, deadline=None)


def _read_raw(path: Path) -> tuple[list[str], list[list[str]]]:
    """The table read independently of the plugin's loader."""
    with gzip.open(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


# --- plugin registration -------------------------------------------------------------------
def test_registered_as_entry_point():
    (ep,) = [e for e in entry_points(group="nasplug.spaces") if e.name == "nb201"]
    assert ep.load() is NB201Space
    assert issubclass(NB201Space, SearchSpace)


def test_config_takes_no_options():
    assert NB201Space().config == NoOptions()
    assert build_config(NB201Space.Config, {}, "space") == NoOptions()
    with pytest.raises(ConfigError):
        build_config(NB201Space.Config, {"width": 3}, "space")
    assert NB201Space.summary().startswith("NAS-Bench-201")


# --- membership ----------------------------------------------------------------------------
def test_canonical_is_official_arch_str():
    assert SPACE.canonical(EXAMPLE) == EXAMPLE_STR
    assert SPACE.parse(EXAMPLE_STR) == EXAMPLE
    assert SPACE.parse(list(EXAMPLE)) == EXAMPLE
    assert SPACE.canonical(list(EXAMPLE)) == EXAMPLE_STR


@fast
@given(archs)
def test_parse_canonical_roundtrip(arch):
    text = SPACE.canonical(arch)
    back = SPACE.parse(text)
    assert back == arch and isinstance(back, tuple) and hash(back) == hash(arch)
    assert SPACE.parse(list(arch)) == arch
    assert SPACE.contains(arch)


@pytest.mark.parametrize("bad", [
    "",
    "garbage",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|",                               # 2 nodes
    "|conv~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",  # unknown op
    "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|",                                # wrong input index
    "|none~0|+|none~0|+|none~0|none~1|none~2|",                                       # missing edge
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|",                         # extra edge
    "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",                                 # missing bar
    "|none0|+|none~0|none~1|+|none~0|none~1|none~2|",                                 # missing tilde
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",                       # 4 nodes
    ("none",) * 5,
    ("none",) * 7,
    ("none", "skip_connect", "conv", "none", "none", "none"),
    ("none", "none", "none", "none", "none", 3),
    42,
    None,
])
def test_bad_architectures_raise_one_line_error(bad):
    with pytest.raises(ArchitectureError) as info:
        SPACE.parse(bad)
    message = str(info.value)
    assert "\n" not in message
    assert "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in message
    assert not SPACE.contains(bad)
    with pytest.raises(ArchitectureError):
        SPACE.canonical(bad)


def test_bad_op_is_named():
    with pytest.raises(ArchitectureError, match="'conv_5x5' on edge 2<-1"):
        SPACE.parse("|none~0|+|none~0|conv_5x5~1|+|none~0|none~1|none~2|")


# --- sampling and moves --------------------------------------------------------------------
def test_sample_is_seeded_and_roughly_uniform():
    a = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(0)
    draws = np.array([[OPS.index(op) for op in SPACE.sample(rng)] for _ in range(5000)])
    for edge in range(len(EDGES)):
        freq = np.bincount(draws[:, edge], minlength=len(OPS)) / len(draws)
        assert np.all(np.abs(freq - 0.2) < 0.03)


def test_sample_many_unique_and_budget():
    out = SPACE.sample_many(200, np.random.default_rng(1))
    assert len({SPACE.canonical(a) for a in out}) == 200
    with pytest.raises(BudgetError):
        SPACE.sample_many(15_626, np.random.default_rng(1))


@fast
@given(archs, seeds)
def test_mutate_changes_exactly_one_edge(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert child != arch
    assert SPACE.distance(arch, child) == 1
    assert child in SPACE.neighbours(arch)
    assert SPACE.mutate(arch, np.random.default_rng(seed)) == child


@fast
@given(archs)
def test_neighbours_are_24_distinct_at_distance_1(arch):
    nbrs = SPACE.neighbours(arch)
    assert len(nbrs) == 24 and len(set(nbrs)) == 24
    assert arch not in nbrs
    assert all(SPACE.distance(arch, n) == 1 for n in nbrs)
    assert SPACE.neighbours(arch) == nbrs  # fixed order


def test_neighbours_are_all_distance_1_archs():
    arch = EXAMPLE
    expected = {a for a in SPACE.enumerate() if sum(x != y for x, y in zip(a, arch)) == 1}
    assert set(SPACE.neighbours(arch)) == expected


@fast
@given(archs, archs, archs)
def test_distance_is_a_metric(a, b, c):
    assert SPACE.distance(a, a) == 0
    assert (SPACE.distance(a, b) == 0) == (a == b)
    assert SPACE.distance(a, b) == SPACE.distance(b, a)
    assert SPACE.distance(a, c) <= SPACE.distance(a, b) + SPACE.distance(b, c)
    assert 0 <= SPACE.distance(a, b) <= 6


def test_enumerate_yields_every_arch_once():
    every = list(SPACE.enumerate())
    assert SPACE.size() == len(every) == 15_625
    assert len(set(every)) == 15_625
    assert every == list(itertools.product(OPS, repeat=6))
    assert len({SPACE.canonical(a) for a in every}) == 15_625


# --- graphs --------------------------------------------------------------------------------
def test_graph_template():
    g = SPACE.graph(EXAMPLE)
    assert isinstance(g, CellGraph)
    assert g.ops == ("input", *EXAMPLE, "output")
    assert len(g.ops) == SPACE.max_nodes == 8
    expected = {(0, 1), (0, 2), (1, 3), (0, 4), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)}
    assert set(zip(*np.nonzero(g.adjacency))) == expected
    assert np.array_equal(g.adjacency, np.triu(g.adjacency, 1))
    assert set(g.ops) <= set(SPACE.op_vocabulary)
    assert SPACE.op_vocabulary == ("input", "output", *OPS)


@fast
@given(archs)
def test_to_graph_matches_graph(arch):
    g = SPACE.graph(arch)
    to_graph = pytest.importorskip("nasplug.samplers.encoders.graphs").to_graph  # lives with the encoders
    data = to_graph(SPACE, arch)
    assert data.num_nodes == 8
    assert tuple(data.x.shape) == (8, len(SPACE.op_vocabulary))
    assert torch.all(data.x.sum(dim=1) == 1)
    labels = [SPACE.op_vocabulary[i] for i in data.x.argmax(dim=1).tolist()]
    assert tuple(labels) == g.ops
    rebuilt = np.zeros((8, 8), dtype=int)
    rebuilt[data.edge_index[0].numpy(), data.edge_index[1].numpy()] = 1
    assert np.array_equal(rebuilt, g.adjacency)


# --- network -------------------------------------------------------------------------------
@pytest.mark.parametrize("arch, num_classes", [
    (EXAMPLE, 10),
    (("none",) * 6, 100),
    (("avg_pool_3x3", "nor_conv_1x1", "skip_connect", "none", "nor_conv_3x3", "avg_pool_3x3"), 120),
])
def test_to_module_forward_shape(arch, num_classes):
    torch.manual_seed(0)
    net = SPACE.to_module(arch, num_classes=num_classes).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, num_classes)
    assert torch.isfinite(out).all()


def test_to_module_rejects_unknown_option():
    with pytest.raises(ConfigError):
        SPACE.to_module(EXAMPLE, width=3)
    with pytest.raises(ConfigError):
        SPACE.to_module(EXAMPLE, num_classes=0)


def test_param_count_matches_benchmark(nb201_bench):
    rng = np.random.default_rng(2024)
    every = nb201_bench.architectures()
    picks = [every[i] for i in rng.choice(len(every), size=50, replace=False)]
    picks += [("none",) * 6, ("nor_conv_3x3",) * 6]
    for name, num_classes in DATASETS:
        expected = nb201_bench.query_many(picks, f"params_{name}_m")
        got = np.array([count_parameters(SPACE.to_module(a, num_classes=num_classes)) for a in picks])
        mismatched = [SPACE.canonical(a) for a, g, e in zip(picks, got, expected) if round(g / 1e6, 6) != e]
        assert not mismatched, f"{name}: {len(mismatched)} mismatches, e.g. {mismatched[0]}"


# --- benchmark -----------------------------------------------------------------------------
def test_canonical_ids_match_table(benchmarks_root):
    header, rows = _read_raw(benchmarks_root / "nb201" / "nb201.csv.gz")
    table = {r[header.index("arch_str")] for r in rows}
    assert len(rows) == len(table) == 15_625
    assert {SPACE.canonical(a) for a in SPACE.enumerate()} == table


def test_benchmark_matches_raw_table(nb201_bench, benchmarks_root):
    assert isinstance(nb201_bench, Benchmark)
    header, rows = _read_raw(benchmarks_root / "nb201" / "nb201.csv.gz")
    numeric = [h for h in header if h not in ("index", "arch_str")]
    assert list(nb201_bench.metrics[:len(numeric)]) == numeric
    assert "latency_pixel3" in nb201_bench.metrics
    assert sum(m.startswith("latency_") for m in nb201_bench.metrics) == 27
    rng = np.random.default_rng(3)
    for r in (rows[i] for i in rng.choice(len(rows), size=30, replace=False)):
        arch = SPACE.parse(r[1])
        assert nb201_bench.index_of(arch) == int(r[0])
        for name in ("cifar10_test", "imagenet16_val_12ep", "params_cifar100_m"):
            assert nb201_bench.query(arch, name) == float(r[header.index(name)])
        assert nb201_bench.query(r[1], "cifar10_test") == nb201_bench.query(arch, "cifar10_test")
    assert max(nb201_bench.query_many(nb201_bench.architectures(), "cifar10_test")) == pytest.approx(94.37, abs=0.01)


def test_latency_merged_by_arch_str(nb201_bench, benchmarks_root):
    header, rows = _read_raw(benchmarks_root / "nb201" / "latency_ms.csv.gz")
    rng = np.random.default_rng(4)
    for r in (rows[i] for i in rng.choice(len(rows), size=20, replace=False)):
        for device in ("pixel3", "1080ti_32", "fpga"):
            assert nb201_bench.query(r[1], f"latency_{device}") == float(r[header.index(device)])


def test_architectures_in_index_order(nb201_bench):
    every = nb201_bench.architectures()
    assert len(every) == 15_625 and len(set(every)) == 15_625
    assert [nb201_bench.index_of(a) for a in every[:100]] == list(range(100))
    assert nb201_bench.index_of(every[-1]) == 15_624
    assert all(isinstance(a, tuple) for a in every)


def test_query_many_matches_query(nb201_bench):
    picks = SPACE.sample_many(100, np.random.default_rng(5))
    many = nb201_bench.query_many(picks, "cifar100_test")
    assert many.dtype == np.float64 and many.shape == (100,)
    assert many.tolist() == [nb201_bench.query(a, "cifar100_test") for a in picks]
    assert nb201_bench.cost(picks[0], "cifar100_test") == 0.0


def test_unknown_metric_names_available(nb201_bench):
    with pytest.raises(BenchmarkError, match="did you mean 'cifar10_test'"):
        nb201_bench.query(EXAMPLE, "cifar10_tset")
    with pytest.raises(BenchmarkError, match="available: .*cifar10_test") as info:
        nb201_bench.query_many([EXAMPLE], "zzz")
    assert "\n" not in str(info.value)


def test_load_is_cached(nb201_space, benchmarks_root):
    first = nb201_space.load_benchmark(str(benchmarks_root))
    assert nb201_space.load_benchmark(str(benchmarks_root / "nb201" / "nb201.csv.gz")) is first
    assert load_benchmark(None) is first  # NASPLUG_BENCHMARKS points at the same file


def test_missing_file_raises(tmp_path, monkeypatch):
    with pytest.raises(BenchmarkError, match="not found"):
        SPACE.load_benchmark(str(tmp_path))
    monkeypatch.setenv("NASPLUG_BENCHMARKS", str(tmp_path))  # an explicit folder without the table is an error
    with pytest.raises(BenchmarkError, match="NASPLUG_BENCHMARKS"):
        SPACE.load_benchmark()


def test_without_any_path_the_compact_table_shipped_with_the_package_is_read(monkeypatch, capfd):
    from nasplug.spaces.nb201.compact import COMPACT_FILE

    monkeypatch.delenv("NASPLUG_BENCHMARKS", raising=False)
    clear_cache()
    table = SPACE.load_benchmark()
    assert table.embedded and table.path == COMPACT_FILE
    assert "compact table shipped with nasplug-spaces" in capfd.readouterr().err  # says which table it read
    assert len(table.architectures()) == 15625 and COMPACT_FILE.stat().st_size < 1024 * 1024
    best = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    assert table.query(best, "cifar10_test") == pytest.approx(94.36, abs=0.005)
    assert np.nanmax(table.query_many(table.architectures(), "cifar10_test")) == pytest.approx(94.37, abs=0.005)
    clear_cache()


def test_compact_table_equals_the_full_table_to_its_stored_precision(benchmarks_root):
    from nasplug.spaces.nb201.benchmark import read_benchmark, read_embedded

    full = read_benchmark(benchmarks_root / "nb201" / "nb201.csv.gz")
    compact = read_embedded()
    assert compact.architectures() == full.architectures()
    assert [compact.index_of(a) for a in compact.architectures()[:50]] == [full.index_of(a) for a in full.architectures()[:50]]
    archs = full.architectures()
    expected = [m for m in full.metrics if not m.startswith("latency_")]
    assert list(compact.metrics) == expected
    for metric in expected:
        tol = 0.5e-6 if metric.startswith("params_") else 0.005
        np.testing.assert_allclose(compact.query_many(archs, metric), full.query_many(archs, metric), rtol=0, atol=tol + 1e-9)


def _write_gz(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def test_not_a_nb201_table(tmp_path):
    path = _write_gz(tmp_path / "nb201" / "nb201.csv.gz", ["index,arch,acc", "0,x,1.0"])
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-201 table") as info:
        SPACE.load_benchmark(str(path))
    assert "\n" not in str(info.value)
    garbage = tmp_path / "junk" / "nb201.csv.gz"
    garbage.parent.mkdir()
    garbage.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(BenchmarkError):
        SPACE.load_benchmark(str(garbage))


def test_small_table_without_latency(tmp_path):
    rows = ["index,arch_str,acc,note", f"1,{EXAMPLE_STR},93.5,a", f"0,{SPACE.canonical(('none',) * 6)},,b"]
    path = _write_gz(tmp_path / "nb201" / "nb201.csv.gz", rows)
    bench = SPACE.load_benchmark(str(tmp_path))
    try:
        assert bench.metrics == ("acc",)  # text columns are not metrics; no latency file here
        assert bench.architectures() == [("none",) * 6, EXAMPLE]
        assert bench.index_of(EXAMPLE) == 1
        assert bench.query(EXAMPLE, "acc") == 93.5
        assert np.isnan(bench.query(("none",) * 6, "acc"))
        with pytest.raises(ArchitectureError, match="not in the NAS-Bench-201 table"):
            bench.query(("skip_connect",) * 6, "acc")
        assert SPACE.load_benchmark(str(path)) is bench
    finally:
        clear_cache()


# --- graph identity -----------------------------------------------------------------------------
def test_graph_key_merges_cells_that_are_the_same_network():
    space = NB201Space()
    key = lambda s: space.graph_key(space.parse(s))  # noqa: E731
    # isomorphic: the two parallel branches (nodes 1 and 2) swapped
    assert key("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|skip_connect~2|") == \
        key("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|")
    # an edge into a node that reaches no output changes nothing
    assert key("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|") == \
        key("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    # a skip chain is the identity: conv after skip == conv on the input
    assert key("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|") == \
        key("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|") == "nor_conv_3x3(x)"
    # different ops, or the same ops wired in series instead of in parallel, are different networks
    assert key("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|") != key("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert key("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|") != \
        key("|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|")
    # no path from input to output
    assert key("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|avg_pool_3x3~2|") == DISCONNECTED


def test_graph_keys_over_the_whole_space(benchmarks):
    space = NB201Space()
    groups: dict[str, list] = {}
    for arch in space.enumerate():
        groups.setdefault(space.graph_key(arch), []).append(arch)
    assert len(groups) == 4930 and len(groups[DISCONNECTED]) == 341
    bench = space.load_benchmark(str(benchmarks))
    # every network that ignores its input trains to chance; members of a group agree closely
    assert set(bench.query_many(groups[DISCONNECTED], "cifar10_test")) == {10.0}
    spread = [np.ptp(bench.query_many(g, "cifar10_test")) for k, g in groups.items() if len(g) > 1 and k != DISCONNECTED]
    assert np.median(spread) < 0.5
