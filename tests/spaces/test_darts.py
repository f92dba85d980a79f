"""Tests of the DARTS / NAS-Bench-301 space plugin: genotype notation, canonical ids, positions,
sampling, moves, metric, graph, network and the Suite-Zero NB301 subset."""

from __future__ import annotations

import ast
import json
import math
from collections import Counter, namedtuple
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasplug.core.errors import ArchitectureError, BenchmarkError, ConfigError
from nasplug.core.interfaces.benchmark import Benchmark
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.options import build_config
from nasplug.core.testing import SearchSpaceConformance
from nasplug.spaces.darts import OPS, PRIMITIVES, DartsArch, DartsSpace
from nasplug.spaces.darts.benchmark import clear_cache
from nasplug.spaces.darts.genotype import compact

SPACE = DartsSpace()
WITH_NONE = DartsSpace(DartsSpace.Config(include_none=True))
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")  # as in DARTS' genotypes.py
# DARTS-V2, the genotype published by Liu et al. (2019), written as DARTS prints it.
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
            "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")

seeds = st.integers(min_value=0, max_value=2**32 - 1)
archs = seeds.map(lambda seed: SPACE.sample(np.random.default_rng(seed)))
fast = settings(max_examples=40, deadline=None)
few = settings(max_examples=15, deadline=None)


@pytest.fixture(scope="module")
def bench(benchmarks):
    return SPACE.load_benchmark(str(benchmarks))


@pytest.fixture(scope="module")
def raw(benchmarks):
    return json.loads((benchmarks / "nb301" / "suite_zero_subset.json").read_text())["cifar10"]


class TestDartsConformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return DartsSpace()


class TestDartsWithNoneConformance(SearchSpaceConformance):
    n_samples = 10

    @pytest.fixture
    def space(self):
        return DartsSpace(DartsSpace.Config(include_none=True, layers=3, channels=8))


# --- plugin and config ---------------------------------------------------------------------
def test_registered_as_entry_point():
    (ep,) = [e for e in entry_points(group="nasplug.spaces") if e.name == "darts"]
    assert ep.load() is DartsSpace and issubclass(DartsSpace, SearchSpace)
    assert DartsSpace.summary().startswith("DARTS")


def test_config_defaults_and_validation():
    cfg = SPACE.config
    assert (cfg.include_none, cfg.channels, cfg.layers, cfg.stem_multiplier, cfg.affine) == (False, 16, 8, 3, True)
    for bad in ({"channels": 0}, {"layers": 2}, {"include_none": "yes"}, {"affine": 1}, {"width": 3}):
        with pytest.raises(ConfigError):
            build_config(DartsSpace.Config, bad, "space")


# --- notation and canonical form -----------------------------------------------------------
def test_reads_the_published_darts_v2_genotype():
    arch = SPACE.parse(DARTS_V2)
    # node 3 reads ('skip_connect', 0) and ('sep_conv_3x3', 1): listed by ascending input
    assert arch.normal[4:6] == (("skip_connect", 0), ("sep_conv_3x3", 1))
    text = SPACE.canonical(arch)
    assert text.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)")
    assert text.endswith("reduce_concat=[2, 3, 4, 5])")
    assert SPACE.parse(text) == arch
    assert SPACE.parse(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == arch
    as_tuple = Genotype(**{k: ast.literal_eval(v) if k.endswith("concat") else v for k, v in
                           (("normal", list(arch.normal)), ("normal_concat", "[2, 3, 4, 5]"),
                            ("reduce", list(arch.reduce)), ("reduce_concat", "[2, 3, 4, 5]"))})
    assert SPACE.parse(as_tuple) == arch
    assert SPACE.parse({"normal": arch.normal, "reduce": arch.reduce}) == arch
    assert SPACE.parse((list(arch.normal), list(arch.reduce))) == arch


def test_compact_form_roundtrips():
    arch = SPACE.parse(DARTS_V2)
    c = compact(arch)
    assert c[0][0] == (0, OPS.index("sep_conv_3x3"))
    assert SPACE.parse(str([list(cell) for cell in c])) == arch
    assert SPACE.parse(c) == arch


@pytest.mark.parametrize("bad", [
    "",
    "Genotype(",
    DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 6)"),           # node 5 reads a later node
    DARTS_V2.replace("('dil_conv_3x3', 2)", "('conv_7x7', 2)"),               # unknown op
    DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"),                   # none needs include_none
    DARTS_V2.replace("('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", "('sep_conv_3x3', 3), ('sep_conv_3x3', 0)"),  # node 2 reads 3
    DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"),
    DARTS_V2.replace(", ('dil_conv_3x3', 2)]", "]"),                          # 7 pairs
    "Genotype(normal=__import__('os').getcwd(), reduce=[])",
    "Genotipe(normal=[], reduce=[])",
    "[[(0, 9)] * 8, [(0, 0)] * 8]",
    42,
    None,
])
def test_bad_genotypes_raise_one_line_error(bad):
    with pytest.raises(ArchitectureError) as info:
        SPACE.parse(bad)
    assert "\n" not in str(info.value)
    assert not SPACE.contains(bad)


def test_a_node_reading_one_input_twice_is_rejected():
    text = DARTS_V2.replace("('skip_connect', 0), ('dil_conv_3x3', 2)", "('skip_connect', 2), ('dil_conv_3x3', 2)")
    with pytest.raises(ArchitectureError, match="reads node 2 twice"):
        SPACE.parse(text)
    with pytest.raises(ArchitectureError, match="include_none"):
        SPACE.parse(DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"))
    assert WITH_NONE.contains(DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"))


@fast
@given(archs, st.lists(st.booleans(), min_size=8, max_size=8))
def test_swapping_a_nodes_inputs_keeps_the_id(arch, swaps):
    cells = []
    for genes, flips in ((arch.normal, swaps[:4]), (arch.reduce, swaps[4:])):
        out = []
        for node, flip in enumerate(flips):
            pair = list(genes[2 * node: 2 * node + 2])
            out += pair[::-1] if flip else pair
        cells.append(out)
    assert SPACE.canonical({"normal": cells[0], "reduce": cells[1]}) == SPACE.canonical(arch)
    assert SPACE.parse(SPACE.canonical(arch)) == arch


# --- size, positions, sampling -------------------------------------------------------------
def test_size_is_the_number_of_canonical_genotypes():
    per_cell = 1 * 3 * 6 * 10 * 7 ** 8
    assert SPACE.size() == per_cell ** 2 == 1_076_746_950_455_072_400
    assert WITH_NONE.size() == (180 * 8 ** 8) ** 2
    assert SPACE.position_choices() == (1, 7, 7, 3, 7, 7, 6, 7, 7, 10, 7, 7) * 2


@fast
@given(archs)
def test_positions_roundtrip(arch):
    pos = SPACE.to_positions(arch)
    assert SPACE.from_positions(pos) == arch
    assert all(0 <= p < c for p, c in zip(pos, SPACE.position_choices()))


def test_sampling_is_uniform_over_pairs_and_ops():
    rng = np.random.default_rng(0)
    draws = [SPACE.sample(rng) for _ in range(3000)]
    node5_pairs = Counter((g.normal[6][1], g.normal[7][1]) for g in draws)
    assert len(node5_pairs) == 10 and all(abs(c / 3000 - 0.1) < 0.025 for c in node5_pairs.values())
    ops = Counter(op for g in draws for op, _ in g.reduce)
    assert set(ops) == set(OPS) and all(abs(c / 24000 - 1 / 7) < 0.015 for c in ops.values())
    assert len({SPACE.canonical(g) for g in draws}) == 3000


# --- moves and metric ----------------------------------------------------------------------
@few
@given(archs)
def test_neighbours_are_the_120_single_changes(arch):
    nbrs = SPACE.neighbours(arch)
    assert len(nbrs) == len({SPACE.canonical(n) for n in nbrs}) == 120
    assert arch not in nbrs
    assert all(SPACE.contains(n) and SPACE.distance(arch, n) == 1 for n in nbrs)
    changed = Counter(sum(a != b for a, b in zip(SPACE.to_positions(arch), SPACE.to_positions(n))) for n in nbrs)
    assert set(changed) <= {1, 2, 3}  # an op, or a pair index (plus the op that moves with it)


@fast
@given(archs, seeds)
def test_mutate_changes_one_edge(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert child != arch and SPACE.distance(arch, child) == 1
    assert child in SPACE.neighbours(arch)
    assert SPACE.mutate(arch, np.random.default_rng(seed)) == child


@fast
@given(archs, archs, archs)
def test_distance_is_a_metric(a, b, c):
    d = SPACE.distance
    assert d(a, a) == 0 and d(a, b) == d(b, a) >= 0
    assert (d(a, b) == 0) == (a == b)
    assert d(a, c) <= d(a, b) + d(b, c)
    assert d(a, b) <= 16


# --- graph ---------------------------------------------------------------------------------
def test_graph_of_darts_v2():
    arch = SPACE.parse(DARTS_V2)
    g = SPACE.graph(arch)
    assert isinstance(g, CellGraph) and len(g.ops) == SPACE.max_nodes == 20
    assert g.ops[:2] == ("input", "input") and g.ops[10] == g.ops[19] == "output"
    assert g.ops[2:10] == tuple(op for op, _ in arch.normal)
    edges = set(zip(*np.nonzero(g.adjacency)))
    # normal node 5 reads ('skip_connect', 0) and ('dil_conv_3x3', 2): op nodes 8 and 9
    assert (0, 8) in edges and {(2, 9), (3, 9)} <= edges
    # the reduction cell reads node 1 (c_{k-2}) and node 10 (the normal cell's output)
    assert (1, 11) in edges and (10, 12) in edges
    assert all((n, 10) in edges for n in range(2, 10)) and all((n, 19) in edges for n in range(11, 19))


@fast
@given(archs)
def test_to_graph_matches_graph(arch):
    g = SPACE.graph(arch)
    assert np.array_equal(g.adjacency, np.triu(g.adjacency, 1))
    assert g.adjacency[2:10, 10].all() and g.adjacency[11:19, 19].all()  # each op node feeds its cell's output
    assert set(g.adjacency[:, 2:10].sum(axis=0)) <= {1, 2} and set(g.adjacency[:, 11:19].sum(axis=0)) <= {1, 2}
    to_graph = pytest.importorskip("nasplug.samplers.encoders.graphs").to_graph  # lives with the encoders
    data = to_graph(SPACE, arch)
    assert tuple(SPACE.op_vocabulary[i] for i in data.x.argmax(dim=1).tolist()) == g.ops
    rebuilt = np.zeros_like(g.adjacency)
    rebuilt[data.edge_index[0].numpy(), data.edge_index[1].numpy()] = 1
    assert np.array_equal(rebuilt, g.adjacency)


# --- network -------------------------------------------------------------------------------
def test_network_forward_and_stages():
    torch.manual_seed(0)
    arch = SPACE.parse(DARTS_V2)
    x = torch.randn(2, 3, 32, 32)
    net = SPACE.to_module(arch, num_classes=100).eval()
    with torch.no_grad():
        assert net(x).shape == (2, 100)
        stages = net.forward_stages(x)
    assert [tuple(s.shape) for s in stages] == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8)]
    with_none = WITH_NONE.parse(DARTS_V2.replace("('max_pool_3x3', 0), ('max_pool_3x3', 1)", "('none', 0), ('none', 1)"))
    deep = WITH_NONE.to_module(with_none, layers=5, channels=8).eval()
    with torch.no_grad():
        out = deep(torch.randn(2, 3, 30, 30))  # odd resolutions on the way down
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    with pytest.raises(ConfigError):
        SPACE.to_module(arch, width=3)
    with pytest.raises(ConfigError, match="'channels' must be an integer >= 1"):
        SPACE.to_module(arch, channels=0)
    odd = SPACE.to_module(arch, channels=5, layers=3).eval()  # FactorizedReduce splits 5 as 2 + 3
    with torch.no_grad():
        assert odd(x).shape == (2, 10)


def test_params_match_the_subset_with_nb301s_network(bench):
    rng = np.random.default_rng(0)
    every = bench.architectures()
    for i in rng.choice(len(every), size=6, replace=False):
        arch = every[i]
        net = SPACE.to_module(arch, channels=32, layers=8, affine=False)
        assert sum(p.numel() for p in net.parameters()) == round(bench.query(arch, "params") * 1e6)
    evaluation = SPACE.to_module(arch, channels=32, layers=8)  # affine ops add their BN weights
    assert sum(p.numel() for p in evaluation.parameters()) > round(bench.query(arch, "params") * 1e6)


# --- benchmark -----------------------------------------------------------------------------
def test_benchmark_matches_the_raw_file(bench, raw):
    assert isinstance(bench, Benchmark) and len(bench) == 725
    assert bench.metrics[0] == "val_accuracy"
    assert {"params", "flops", "synflow", "nwot", "params_seconds"} <= set(bench.metrics)
    for key, entry in list(raw.items())[:50]:
        assert bench.query(key, "val_accuracy") == entry["val_accuracy"]
        assert bench.query(key, "synflow") == entry["synflow"]["score"]
        assert bench.query(key, "snip_seconds") == entry["snip"]["time"]
        assert bench.index_of(key) == int(entry["idx"])
    acc = bench.query_many(bench.architectures(), "val_accuracy")
    assert acc.min() == pytest.approx(min(e["val_accuracy"] for e in raw.values()))
    assert acc.max() == pytest.approx(max(e["val_accuracy"] for e in raw.values())) == pytest.approx(94.49, abs=0.01)


def test_queries_accept_any_form(bench, raw):
    key = next(iter(raw))
    arch = SPACE.parse(key)
    value = bench.query(key, "val_accuracy")
    assert bench.query(SPACE.canonical(arch), "val_accuracy") == value
    swapped = {"normal": [g for n in range(4) for g in arch.normal[2 * n: 2 * n + 2][::-1]], "reduce": arch.reduce}
    assert bench.query(swapped, "val_accuracy") == value
    with pytest.raises(BenchmarkError, match="did you mean"):
        bench.query(arch, "val_acuracy")
    outside = SPACE.mutate(arch, np.random.default_rng(0))
    assert SPACE.canonical(outside) not in {SPACE.canonical(a) for a in bench.architectures()}
    with pytest.raises(ArchitectureError, match="not in the NAS-Bench-301 subset"):
        bench.query(outside, "val_accuracy")


def test_load_is_cached_and_takes_any_path(bench, benchmarks, raw, tmp_path):
    assert SPACE.load_benchmark(str(benchmarks / "nb301" / "suite_zero_subset.json")) is bench
    picked = dict(list(raw.items())[:3])
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"cifar10": picked, "cifar100": {k: {"val_accuracy": 70.0} for k in list(picked)[:1]}}))
    try:
        small = SPACE.load_benchmark(str(own))
        assert len(small) == 3 and "cifar100_val_accuracy" in small.metrics
        first, second = list(picked)[:2]
        assert small.query(first, "cifar100_val_accuracy") == 70.0
        assert math.isnan(small.query(second, "cifar100_val_accuracy"))
    finally:
        clear_cache()


def test_missing_or_foreign_file_raises(tmp_path, monkeypatch):
    with pytest.raises(BenchmarkError, match="not found"):
        SPACE.load_benchmark(str(tmp_path))
    for name, text, match in (("a.json", "[1, 2]", "not a NAS-Bench-Suite-Zero NB301 file"),
                              ("b.json", "{not json", "cannot read"),
                              ("c.json", '{"cifar10": {"[[(0, 0)], []]": {}}}', "invalid genotype")):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(BenchmarkError, match=match) as info:
            SPACE.load_benchmark(str(path))
        assert "\n" not in str(info.value)
    monkeypatch.delenv("NASPLUG_BENCHMARKS", raising=False)
    with pytest.raises(BenchmarkError, match="NASPLUG_BENCHMARKS"):
        SPACE.load_benchmark()


def test_darts_arch_type():
    arch = SPACE.sample(np.random.default_rng(3))
    assert isinstance(arch, DartsArch) and hash(arch) == hash(SPACE.parse(SPACE.canonical(arch)))
    assert PRIMITIVES[0] == "none" and PRIMITIVES[1:] == OPS
