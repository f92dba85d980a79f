"""Tests of the TransNAS-Bench-101 micro and macro space plugins: membership, moves, metric,
positional form, graphs, networks (against NAS-Bench-Suite-Zero's parameter counts) and tables."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasplug.core.errors import ArchitectureError, BenchmarkError, ConfigError
from nasplug.core.interfaces.benchmark import Benchmark
from nasplug.core.interfaces.space import CellGraph
from nasplug.core.testing import SearchSpaceConformance
from nasplug.spaces.transnas import MACRO_OPS, MICRO_OPS, TransNASMacroSpace, TransNASMicroSpace
from nasplug.spaces.transnas.benchmark import TASKS

MICRO = TransNASMicroSpace()
MACRO = TransNASMacroSpace()
seeds = st.integers(min_value=0, max_value=2**32 - 1)
micro_archs = seeds.map(lambda s: MICRO.sample(np.random.default_rng(s)))
macro_archs = seeds.map(lambda s: MACRO.sample(np.random.default_rng(s)))
fast = settings(max_examples=50, deadline=None)
N_CLASSES = {"class_scene": 63, "class_object": 100}  # TransNAS-Bench-101 classification heads


class TestMicroConformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return TransNASMicroSpace()


class TestMacroConformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return TransNASMacroSpace()


@pytest.fixture(scope="module")
def micro_bench(benchmarks):
    return MICRO.load_benchmark(str(benchmarks))


@pytest.fixture(scope="module")
def macro_bench(benchmarks):
    return MACRO.load_benchmark(str(benchmarks))


@pytest.fixture(scope="module")
def suite_zero(benchmarks):
    """The two NAS-Bench-Suite-Zero TransNAS files, read independently of the plugin."""
    folder = benchmarks / "transnas101"
    return {kind: json.loads((folder / f"suite_zero_{kind}_subset.json").read_text()) for kind in ("micro", "macro")}


def _tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.strip("()").split(","))


def test_registered_as_entry_points():
    found = {e.name: e for e in entry_points(group="nasplug.spaces")}
    assert found["transnas_micro"].load() is TransNASMicroSpace
    assert found["transnas_macro"].load() is TransNASMacroSpace
    assert TransNASMicroSpace.summary().startswith("TransNAS-Bench-101 micro")


# --- micro: membership ---------------------------------------------------------------------
def test_micro_canonical_is_official_string():
    arch = (1, 0, 2, 3, 3, 1)
    assert MICRO.canonical(arch) == "64-41414-1_02_331"
    assert MICRO.parse("64-41414-1_02_331") == arch
    assert MICRO.parse("1_02_331") == arch
    assert MICRO.parse(["skip_connect", "none", "nor_conv_1x1", "nor_conv_3x3", "nor_conv_3x3", "skip_connect"]) == arch
    assert MICRO.parse(list(np.array(arch))) == arch


@pytest.mark.parametrize("bad", [
    "", "garbage", "64-41414-1_02_33", "64-41414-1_02_334", "64-4141-1_02_331", "128-41414-1_02_331",
    "1_2_331", (1, 0, 2, 3, 3), (1, 0, 2, 3, 3, 4), (1, 0, 2, 3, 3, True), ("conv",) * 6, 7, None,
])
def test_micro_rejects_non_members_on_one_line(bad):
    with pytest.raises(ArchitectureError) as info:
        MICRO.parse(bad)
    assert "\n" not in str(info.value) and "64-41414-a_bc_def" in str(info.value)
    assert not MICRO.contains(bad)


@fast
@given(micro_archs)
def test_micro_roundtrip(arch):
    text = MICRO.canonical(arch)
    assert MICRO.parse(text) == arch and MICRO.canonical(MICRO.parse(text)) == text
    assert MICRO.from_positions(MICRO.to_positions(arch)) == arch


# --- micro: moves and metric ---------------------------------------------------------------
@fast
@given(micro_archs, seeds)
def test_micro_mutate_changes_one_edge(arch, seed):
    child = MICRO.mutate(arch, np.random.default_rng(seed))
    assert MICRO.contains(child) and MICRO.distance(arch, child) == 1
    assert child in MICRO.neighbours(arch)
    assert MICRO.mutate(arch, np.random.default_rng(seed)) == child


@fast
@given(micro_archs)
def test_micro_neighbours_are_the_18_at_distance_1(arch):
    nbrs = MICRO.neighbours(arch)
    assert len(nbrs) == len(set(nbrs)) == 18
    assert all(MICRO.distance(arch, n) == 1 for n in nbrs)
    assert MICRO.neighbours(arch) == nbrs


def test_micro_neighbours_cover_every_distance_1_cell():
    arch = (3, 0, 1, 2, 0, 3)
    assert set(MICRO.neighbours(arch)) == {a for a in MICRO.enumerate() if MICRO.distance(a, arch) == 1}


@fast
@given(micro_archs, micro_archs, micro_archs)
def test_micro_distance_is_a_metric(a, b, c):
    assert MICRO.distance(a, a) == 0 and (MICRO.distance(a, b) == 0) == (a == b)
    assert MICRO.distance(a, b) == MICRO.distance(b, a)
    assert MICRO.distance(a, c) <= MICRO.distance(a, b) + MICRO.distance(b, c)


def test_micro_enumerate_and_positions():
    every = list(MICRO.enumerate())
    assert len(every) == len(set(every)) == MICRO.size() == 4096
    assert MICRO.position_choices() == (4,) * 6
    for bad in [(0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 4), (-1, 0, 0, 0, 0, 0)]:
        with pytest.raises(ArchitectureError):
            MICRO.from_positions(bad)


def test_micro_sample_is_uniform_per_edge():
    rng = np.random.default_rng(0)
    draws = np.array([MICRO.sample(rng) for _ in range(4000)])
    for edge in range(6):
        assert np.all(np.abs(np.bincount(draws[:, edge], minlength=4) / 4000 - 0.25) < 0.03)


# --- micro: graph and network --------------------------------------------------------------
def test_micro_graph_template_and_to_graph():
    arch = (3, 0, 1, 2, 0, 3)
    g = MICRO.graph(arch)
    assert isinstance(g, CellGraph)
    assert g.ops == ("input", "nor_conv_3x3", "none", "skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3", "output")
    expected = {(0, 1), (0, 2), (1, 3), (0, 4), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)}
    assert set(zip(*np.nonzero(g.adjacency))) == expected
    to_graph = pytest.importorskip("nasplug.samplers.encoders.graphs").to_graph  # lives with the encoders
    data = to_graph(MICRO, arch)
    assert tuple(MICRO.op_vocabulary[i] for i in data.x.argmax(1).tolist()) == g.ops
    assert MICRO.op_vocabulary == ("input", "output", *MICRO_OPS)


def test_micro_network_params_equal_suite_zero(suite_zero):
    """Our encoder + linear head has exactly NASLib's parameter count for the classification tasks."""
    rng = np.random.default_rng(0)
    keys = list(suite_zero["micro"]["class_scene"])
    for key in [keys[i] for i in rng.choice(len(keys), 5, replace=False)]:
        net = MICRO.to_module(_tuple(key), num_classes=1)
        for task, classes in N_CLASSES.items():  # the heads differ by (classes - 1) x (512 + 1)
            ours = (sum(p.numel() for p in net.parameters()) + (classes - 1) * (net.out_channels + 1)) / 1e6
            assert round(ours, 6) == suite_zero["micro"][task][key]["params"]["score"], (key, task)


def test_micro_network_stages_and_options():
    torch.manual_seed(0)
    net = MICRO.to_module((3, 3, 1, 2, 0, 3), num_classes=5).eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 64, 64)
        stages = net.forward_stages(x)
        out = net(x)
    assert [tuple(s.shape[1:]) for s in stages] == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    small = MICRO.to_module((0,) * 6, base_channels=8, blocks_per_layer=1)
    with torch.no_grad():
        assert small(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ConfigError):
        MICRO.to_module((0,) * 6, width=3)
    with pytest.raises(ConfigError):
        MICRO.to_module((0,) * 6, base_channels=7)


# --- micro: benchmark ----------------------------------------------------------------------
def test_micro_benchmark_covers_4096_cells_x_7_tasks(micro_bench):
    assert isinstance(micro_bench, Benchmark) and len(micro_bench) == 4096
    assert set(micro_bench.architectures()) == set(MICRO.enumerate())
    assert micro_bench.metrics == tuple(m for t in TASKS for m in (t, f"{t}_zen"))
    for metric in micro_bench.metrics:
        assert np.isfinite(micro_bench.column(metric)).all(), metric


def test_micro_benchmark_matches_raw_table(micro_bench, benchmarks):
    with gzip.open(benchmarks / "transnas101" / "micro_zen_all.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4096 * 7
    assert {(r["naslib_op_tuple"], r["task"]) for r in rows} == {
        (str(a), t) for a in itertools.product(range(4), repeat=6) for t in TASKS}
    rng = np.random.default_rng(1)
    for r in (rows[i] for i in rng.choice(len(rows), 40, replace=False)):
        arch = _tuple(r["naslib_op_tuple"])
        assert micro_bench.query(arch, r["task"]) == float(r["val_metric"])
        assert micro_bench.query(MICRO.canonical(arch), f"{r['task']}_zen") == float(r["zen"])
    picks = MICRO.sample_many(50, np.random.default_rng(2))
    assert micro_bench.query_many(picks, "jigsaw").tolist() == [micro_bench.query(a, "jigsaw") for a in picks]


def test_micro_benchmark_errors(micro_bench, tmp_path, monkeypatch):
    with pytest.raises(BenchmarkError, match="did you mean 'class_scene'"):
        micro_bench.query((0,) * 6, "class_scen")
    with pytest.raises(BenchmarkError, match="not found"):
        MICRO.load_benchmark(str(tmp_path))
    bad = tmp_path / "transnas101" / "micro_zen_all.csv.gz"
    bad.parent.mkdir()
    bad.write_text("arch,acc\n1,2\n")
    with pytest.raises(BenchmarkError, match="not a TransNAS micro table") as info:
        MICRO.load_benchmark(str(tmp_path))
    assert "\n" not in str(info.value)
    monkeypatch.delenv("NASPLUG_BENCHMARKS", raising=False)
    with pytest.raises(BenchmarkError, match="NASPLUG_BENCHMARKS"):
        MICRO.load_benchmark()


def test_benchmark_load_is_cached(benchmarks):
    first = MICRO.load_benchmark(str(benchmarks))
    assert MICRO.load_benchmark(str(benchmarks / "transnas101" / "micro_zen_all.csv.gz")) is first
    assert MACRO.load_benchmark(str(benchmarks)) is MACRO.load_benchmark(str(benchmarks))


# --- macro: membership ---------------------------------------------------------------------
def test_macro_canonical_is_official_string():
    assert MACRO.canonical((4, 1, 4, 1, 4)) == "64-41414-basic"
    assert MACRO.parse("64-1242-basic") == (1, 2, 4, 2)
    assert MACRO.parse("124213") == (1, 2, 4, 2, 1, 3)
    assert MACRO.parse((1, 2, 4, 2, 0, 0)) == (1, 2, 4, 2)  # NASLib's padded 6-tuple


@pytest.mark.parametrize("bad", [
    "", "64-123-basic",        # 3 layers
    "64-1234123-basic",       # 7 layers
    "64-1111-basic",          # no downsample, no doubling
    "64-3333-basic",          # no doubling
    "64-2221-basic",          # no downsample
    "64-33331-basic",         # fine downsamples, no doubling
    "64-442244-basic",        # 4 down fine, 6 doublings
    "64-333342-basic",        # 5 downsamples
    "64-1250-basic", "32-1234-basic", "64-1234-micro", (1, 2, 0, 4, 2), (1, 2, 4, 2, 0, 3), (1, 2, 4, 2.0), 12,
])
def test_macro_rejects_non_members_on_one_line(bad):
    with pytest.raises(ArchitectureError) as info:
        MACRO.parse(bad)
    assert "\n" not in str(info.value) and "64-" in str(info.value)
    assert not MACRO.contains(bad)


def test_macro_size_by_length_matches_the_paper():
    lengths = [len(a) for a in MACRO.enumerate()]
    assert MACRO.size() == len(set(MACRO.enumerate())) == 3256
    assert [lengths.count(n) for n in (4, 5, 6)] == [210, 750, 2296]
    # with the micro space: the paper's 7,352 backbones
    assert MACRO.size() + MICRO.size() == 7352


@fast
@given(macro_archs, seeds)
def test_macro_mutate_and_neighbours(arch, seed):
    nbrs = MACRO.neighbours(arch)
    assert nbrs and len(nbrs) == len(set(nbrs)) and arch not in nbrs
    assert all(MACRO.contains(n) and MACRO.distance(arch, n) == 1 for n in nbrs)
    child = MACRO.mutate(arch, np.random.default_rng(seed))
    assert child in nbrs


def test_macro_neighbours_are_every_member_at_distance_1():
    for arch in [(4, 1, 4, 1), (3, 2, 1, 1, 4), (1, 2, 4, 2, 1, 3)]:
        assert set(MACRO.neighbours(arch)) == {a for a in MACRO.enumerate() if MACRO.distance(a, arch) == 1}


@fast
@given(macro_archs, macro_archs, macro_archs)
def test_macro_distance_is_a_metric(a, b, c):
    assert MACRO.distance(a, a) == 0 and (MACRO.distance(a, b) == 0) == (a == b)
    assert MACRO.distance(a, b) == MACRO.distance(b, a)
    assert MACRO.distance(a, c) <= MACRO.distance(a, b) + MACRO.distance(b, c)


def test_macro_sample_is_uniform_over_the_space():
    rng = np.random.default_rng(0)
    lengths = np.array([len(MACRO.sample(rng)) for _ in range(6000)])
    assert abs((lengths == 6).mean() - 2296 / 3256) < 0.03
    assert abs((lengths == 4).mean() - 210 / 3256) < 0.02


# --- macro: positional form ----------------------------------------------------------------
def test_macro_positional_form_is_a_bijection_on_members():
    choices = MACRO.position_choices()
    assert choices == (4, 4, 4, 4, 5, 5)
    members = {}
    for pos in itertools.product(*(range(c) for c in choices)):
        try:
            members[pos] = MACRO.from_positions(pos)
        except ArchitectureError as exc:
            assert "\n" not in str(exc)
    assert len(members) == 3256 and set(members.values()) == set(MACRO.enumerate())
    assert all(MACRO.to_positions(a) == p for p, a in members.items())
    assert MACRO.to_positions((4, 1, 4, 1, 4)) == (3, 0, 3, 0, 4, 0)


def test_macro_from_positions_rejects_gaps_and_bad_values():
    with pytest.raises(ArchitectureError, match="gap"):
        MACRO.from_positions((3, 0, 3, 0, 0, 4))
    with pytest.raises(ArchitectureError, match="not a member"):
        MACRO.from_positions((2, 2, 2, 2, 0, 0))   # 3333: no doubling
    for bad in [(3, 0, 3, 0, 4), (4, 0, 3, 0, 4, 0), (3, 0, 3, 0, 5, 0)]:
        with pytest.raises(ArchitectureError):
            MACRO.from_positions(bad)


# --- macro: graph, network, benchmark ------------------------------------------------------
def test_macro_graph_is_a_chain():
    g = MACRO.graph((4, 1, 3, 2, 1))
    assert g.ops == ("input", "down_double", "plain", "down", "double", "plain", "output")
    assert np.array_equal(g.adjacency, np.eye(7, k=1, dtype=np.int8))
    assert MACRO.op_vocabulary == ("input", "output", *MACRO_OPS) and MACRO.max_nodes == 8
    to_graph = pytest.importorskip("nasplug.samplers.encoders.graphs").to_graph  # lives with the encoders
    data = to_graph(MACRO, (4, 1, 3, 2, 1))
    assert data.num_nodes == 7 and data.edge_index.shape == (2, 6)


def test_macro_network_params_equal_suite_zero(suite_zero):
    rng = np.random.default_rng(3)
    keys = list(suite_zero["macro"]["class_scene"])
    for key in [keys[i] for i in rng.choice(len(keys), 5, replace=False)]:
        net = MACRO.to_module(MACRO.parse(_tuple(key)), num_classes=1)
        for task, classes in N_CLASSES.items():
            ours = (sum(p.numel() for p in net.parameters()) + (classes - 1) * (net.out_channels + 1)) / 1e6
            assert round(ours, 6) == suite_zero["macro"][task][key]["params"]["score"], (key, task)


def test_macro_network_stages_follow_the_codes():
    torch.manual_seed(0)
    net = MACRO.to_module((1, 4, 2, 3, 3), num_classes=3).eval()
    with torch.no_grad():
        stages = net.forward_stages(torch.randn(1, 3, 128, 128))
        out = net(torch.randn(1, 3, 128, 128))
    # stem 64 ch at 1/4 (32 px); 1: 64; 4: 128 ch /8; 2: 256; 3: /16; 3: /32
    assert [tuple(s.shape[1:]) for s in stages] == [(64, 32, 32), (256, 16, 16), (256, 8, 8), (256, 4, 4)]
    assert out.shape == (1, 3)


def test_macro_benchmark_matches_raw_json(macro_bench, suite_zero):
    raw = suite_zero["macro"]
    assert len(macro_bench) == 725
    codes = {MACRO.parse(_tuple(k)) for task in raw.values() for k in task}  # every code is a member
    assert codes == set(macro_bench.architectures())
    assert np.isnan(macro_bench.column("class_scene")).sum() == 725 - len(raw["class_scene"]) == 63
    for task in TASKS:
        assert not np.isnan(macro_bench.column(task)).all()
    rng = np.random.default_rng(4)
    keys = list(raw["autoencoder"])
    for key in [keys[i] for i in rng.choice(len(keys), 30, replace=False)]:
        arch = _tuple(key)
        for task in ("autoencoder", "room_layout", "class_object"):
            if key in raw[task]:
                assert macro_bench.query(arch, task) == raw[task][key]["val_accuracy"]
                assert macro_bench.query(MACRO.canonical(arch), f"{task}_snip") == raw[task][key]["snip"]["score"]
    with pytest.raises(ArchitectureError, match="not in the transnas_macro table"):
        missing = next(a for a in MACRO.enumerate() if a not in set(macro_bench.architectures()))
        macro_bench.query(missing, "jigsaw")


def test_macro_bad_file(tmp_path):
    path = tmp_path / "suite_zero_macro_subset.json"
    path.write_text("[1, 2]")
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-Suite-Zero macro table"):
        MACRO.load_benchmark(str(path))
    path.write_text(json.dumps({"jigsaw": {"(1, 1, 1, 1, 0, 0)": {"val_accuracy": 1.0}}}))
    with pytest.raises(BenchmarkError, match="invalid architecture"):
        MACRO.load_benchmark(str(path))
