"""Tests of the NAS-Bench-101 space plugin: pruning, canonical ids, enumeration, sampling, moves,
metric, graphs, network and the Suite-Zero benchmark subset."""

from __future__ import annotations

import csv
import itertools
from collections import Counter, defaultdict
from importlib.metadata import entry_points
from pathlib import Path

import networkx as nx
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
from nasplug.spaces.nb101 import NUM_CELLS, OPS, NB101Cell, NB101Space
from nasplug.spaces.nb101.benchmark import clear_cache
from nasplug.spaces.nb101.cell import canonical_cell, make_cell
from nasplug.spaces.nb101.enumeration import matrix_classes, num_cells
from nasplug.spaces.nb101.network import count_parameters, vertex_channels

SPACE = NB101Space()
C3, C1, MP = OPS
# The NAS-Bench-101 paper's Figure 1-style cell: 7 vertices, 9 edges.
EXAMPLE_MATRIX = np.array([[0, 1, 1, 1, 0, 1, 0],
                           [0, 0, 0, 0, 0, 0, 1],
                           [0, 0, 0, 0, 0, 0, 1],
                           [0, 0, 0, 0, 1, 0, 0],
                           [0, 0, 0, 0, 0, 0, 1],
                           [0, 0, 0, 0, 0, 0, 1],
                           [0, 0, 0, 0, 0, 0, 0]])
EXAMPLE_OPS = ["input", C3, C1, C3, C3, MP, "output"]

seeds = st.integers(min_value=0, max_value=2**32 - 1)
archs = seeds.map(lambda seed: SPACE.sample(np.random.default_rng(seed)))
fast = settings(max_examples=40, deadline=None)


def relabel(cell: NB101Cell, rng: np.random.Generator) -> NB101Cell:
    """The same cell with its vertices in a random other topological order (raw, not canonical)."""
    m = cell.array()
    n = len(cell.ops)
    order, indeg = [], m.sum(axis=0).tolist()
    ready = [v for v in range(n) if indeg[v] == 0]
    while ready:
        v = ready.pop(int(rng.integers(len(ready))))
        order.append(v)
        for w in np.flatnonzero(m[v]):
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(int(w))
    p = np.array(order)
    return NB101Cell(tuple(map(tuple, m[np.ix_(p, p)].tolist())), tuple(cell.ops[k] for k in p))


def as_networkx(cell: NB101Cell) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from((v, {"op": op}) for v, op in enumerate(cell.ops))
    g.add_edges_from(zip(*np.nonzero(cell.array())))
    return g


def isomorphic(a: NB101Cell, b: NB101Cell) -> bool:
    """An oracle independent of our canonical form: networkx's labelled DiGraph isomorphism."""
    return nx.is_isomorphic(as_networkx(a), as_networkx(b), node_match=lambda x, y: x["op"] == y["op"])


def raw_rows(root: Path) -> list[dict[str, str]]:
    with open(root / "nb101" / "suite_zero_subset.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def bench(benchmarks):
    return SPACE.load_benchmark(str(benchmarks))


class TestNB101Conformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return NB101Space()


# --- plugin and config ---------------------------------------------------------------------
def test_registered_as_entry_point():
    (ep,) = [e for e in entry_points(group="nasplug.spaces") if e.name == "nb101"]
    assert ep.load() is NB101Space and issubclass(NB101Space, SearchSpace)
    assert NB101Space.summary().startswith("NAS-Bench-101")


def test_config_defaults_and_validation():
    cfg = NB101Space().config
    assert (cfg.sampling, cfg.stem_channels, cfg.stacks, cfg.cells_per_stack) == ("uniform", 128, 3, 3)
    assert build_config(NB101Space.Config, {"sampling": "nasbench"}, "space").sampling == "nasbench"
    for bad in ({"sampling": "random"}, {"stem_channels": 0}, {"stacks": 1.5}, {"width": 3}):
        with pytest.raises(ConfigError):
            build_config(NB101Space.Config, bad, "space")


# --- cells, pruning, parsing ---------------------------------------------------------------
def test_pruning_removes_vertices_off_every_path():
    m = EXAMPLE_MATRIX.copy()
    m[0, 5] = 0  # vertex 5 (maxpool) now has no input: pruned, with its edge to the output
    cell = make_cell(m, EXAMPLE_OPS)
    assert cell.ops == ("input", C3, C1, C3, C3, "output")
    assert cell.num_edges == 7
    m = EXAMPLE_MATRIX.copy()
    m[4, 6] = 0  # vertex 4 now leads nowhere: pruned, and vertex 3 with it
    cell = make_cell(m, EXAMPLE_OPS)
    assert cell.ops == ("input", C3, C1, MP, "output") and cell.num_edges == 6


def test_validity_rules():
    assert SPACE.contains((EXAMPLE_MATRIX, EXAMPLE_OPS))
    dense = np.triu(np.ones((7, 7), dtype=int), 1)
    with pytest.raises(ArchitectureError, match="21 edges after pruning"):
        SPACE.parse((dense, EXAMPLE_OPS))
    # 11 raw edges, but vertex 5 leads nowhere: pruning drops it and its 2 edges, leaving 9
    m = np.zeros((7, 7), dtype=int)
    for i, j in ((0, 1), (0, 2), (0, 3), (1, 4), (2, 4), (3, 6), (4, 6), (1, 6), (2, 6), (0, 5), (1, 5)):
        m[i, j] = 1
    cell = SPACE.parse((m, EXAMPLE_OPS))
    assert cell.num_edges == 9 and cell.num_vertices == 6
    cut = EXAMPLE_MATRIX.copy()
    cut[:, 6] = 0
    with pytest.raises(ArchitectureError, match="not reachable"):
        SPACE.parse((cut, EXAMPLE_OPS))


@pytest.mark.parametrize("bad", [
    "",
    "garbage",
    "0000:input|output",                                   # output not reachable
    "01000:input|output",                                  # wrong number of bits
    "0110001100010000:input|conv5x5|maxpool3x3|output",    # unknown op
    "0110001100010000:output|conv3x3-bn-relu|maxpool3x3|input",
    "1110001100010000:input|conv3x3-bn-relu|maxpool3x3|output",  # diagonal entry
    ("0" * 64) + ":" + "|".join(["input"] + [C3] * 6 + ["output"]),  # 8 vertices
    (np.eye(3), ["input", C3, "output"]),
    {"matrix": EXAMPLE_MATRIX},
    42,
    None,
])
def test_bad_cells_raise_one_line_error(bad):
    with pytest.raises(ArchitectureError) as info:
        SPACE.parse(bad)
    assert "\n" not in str(info.value) and "NAS-Bench-101" in str(info.value)
    assert not SPACE.contains(bad)


def test_parse_accepts_every_form():
    cell = SPACE.parse((EXAMPLE_MATRIX, EXAMPLE_OPS))
    key = SPACE.canonical(cell)
    bits = "".join(map(str, EXAMPLE_MATRIX.ravel()))

    class ModelSpec:  # the shape of the official API's spec object
        matrix = EXAMPLE_MATRIX
        ops = EXAMPLE_OPS

    for form in (f"{bits}:{'|'.join(EXAMPLE_OPS)}", (EXAMPLE_MATRIX.tolist(), EXAMPLE_OPS),
                 {"matrix": EXAMPLE_MATRIX, "ops": EXAMPLE_OPS}, ModelSpec(), key, SPACE.parse(key)):
        assert SPACE.canonical(form) == key
    assert SPACE.parse(key) == canonical_cell(cell)
    assert cell.ops == tuple(EXAMPLE_OPS)  # a given vertex order is kept


def test_canonical_id_format():
    cell = SPACE.parse(([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", MP, C3, "output"]))
    key = SPACE.canonical(cell)
    bits, ops = key.split(":")
    assert len(bits) == 16 and ops.split("|")[0] == "input" and ops.split("|")[-1] == "output"
    assert sorted(ops.split("|")[1:3]) == sorted([MP, C3])


# --- canonical id: isomorphism invariance ----------------------------------------------------
@fast
@given(archs, seeds)
def test_canonical_id_is_invariant_to_vertex_order(arch, seed):
    rng = np.random.default_rng(seed)
    other = relabel(arch, rng)
    assert SPACE.canonical(other) == SPACE.canonical(arch)
    assert SPACE.distance(other, arch) == 0
    # the same cell with dangling (pruned) vertices added to a 7-vertex raw spec
    n = arch.num_vertices
    if n < 7:
        m = np.zeros((7, 7), dtype=int)
        slots = list(range(n - 1)) + [6]
        m[np.ix_(slots, slots)] = arch.array()
        m[0, n - 1] = 1  # a vertex reachable from the input that leads nowhere
        ops = [*arch.ops[:-1], *rng.choice(OPS, size=7 - n).tolist(), "output"]
        assert SPACE.canonical((m, ops)) == SPACE.canonical(arch)


def test_canonical_ids_agree_with_networkx_isomorphism():
    rng = np.random.default_rng(11)
    cells = [SPACE.sample(rng) for _ in range(150)]
    cells += [SPACE.mutate(c, rng) for c in cells[:150]]
    by_id = defaultdict(list)
    for c in cells:
        by_id[SPACE.canonical(c)].append(c)
    # one id -> isomorphic; different ids -> not isomorphic (checked within same shape, where collisions could hide)
    for group in by_id.values():
        assert all(isomorphic(group[0], c) for c in group[1:])
    reps = list(by_id.values())
    shape = defaultdict(list)
    for group in reps:
        c = group[0]
        shape[(c.num_vertices, c.num_edges, tuple(sorted(c.ops)))].append(c)
    pairs = [(a, b) for cs in shape.values() for a, b in itertools.combinations(cs, 2)]
    assert pairs, "expected some same-shape pairs to compare"
    assert not any(isomorphic(a, b) for a, b in pairs)


def test_isomorphic_relabellings_share_one_id():
    a = SPACE.parse(([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C3, MP, "output"]))
    b = SPACE.parse(([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", MP, C3, "output"]))
    assert a != b and SPACE.canonical(a) == SPACE.canonical(b)
    c = SPACE.parse(([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", MP, C1, "output"]))
    assert SPACE.canonical(c) != SPACE.canonical(a)


# --- enumeration and size ------------------------------------------------------------------
def test_counts_reproduce_the_published_size():
    assert len(matrix_classes()) == 2494
    assert num_cells() == NUM_CELLS == SPACE.size() == 423_624
    per_size = Counter(len(c.matrix) for c in matrix_classes())
    assert per_size == {2: 1, 3: 2, 4: 10, 5: 97, 6: 810, 7: 1574}


def test_enumeration_lists_each_canonical_cell_once():
    cells = list(SPACE.enumerate())
    assert len(cells) == len(set(cells)) == 423_624
    for cell in cells[::211]:
        assert canonical_cell(cell) == cell
        assert cell.num_vertices <= 7 and cell.num_edges <= 9


# --- sampling ------------------------------------------------------------------------------
def test_uniform_sampling_matches_class_sizes():
    rng = np.random.default_rng(0)
    draws = [SPACE.sample(rng) for _ in range(4000)]
    assert SPACE.canonical(SPACE.sample(np.random.default_rng(5))) == SPACE.canonical(SPACE.sample(np.random.default_rng(5)))
    share7 = sum(c.num_vertices == 7 for c in draws) / len(draws)
    assert abs(share7 - 359_082 / 423_624) < 0.025
    assert len({SPACE.canonical(c) for c in draws}) > 3950  # 423k cells: almost no repeats


def test_nasbench_sampling_is_the_official_rejection_sampler():
    space = NB101Space(NB101Space.Config(sampling="nasbench"))
    rng = np.random.default_rng(0)
    draws = [space.sample(rng) for _ in range(1500)]
    assert all(space.contains(c) and canonical_cell(c) == c for c in draws)
    small = sum(c.num_vertices <= 3 for c in draws) / len(draws)
    assert small > 0.15  # random 7x7 specs often prune to tiny cells; uniform sampling almost never gives them


# --- moves and metric ----------------------------------------------------------------------
@fast
@given(archs)
def test_neighbours_are_distinct_valid_and_near(arch):
    nbrs = SPACE.neighbours(arch)
    keys = [SPACE.canonical(n) for n in nbrs]
    assert nbrs and len(set(keys)) == len(keys) and SPACE.canonical(arch) not in keys
    assert all(SPACE.contains(n) and n.num_edges <= 9 for n in nbrs)
    assert all(SPACE.distance(arch, n) >= 1 for n in nbrs)
    # every op change is a neighbour at distance exactly 1
    for v in range(1, arch.num_vertices - 1):
        for op in OPS:
            if op != arch.ops[v]:
                changed = NB101Cell(arch.matrix, arch.ops[:v] + (op,) + arch.ops[v + 1:])
                assert SPACE.canonical(changed) in keys
                assert SPACE.distance(arch, changed) == 1
    assert SPACE.neighbours(arch) == nbrs


@fast
@given(archs, seeds)
def test_mutate_gives_a_neighbour(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert SPACE.canonical(child) != SPACE.canonical(arch)
    assert child in SPACE.neighbours(arch)
    assert SPACE.mutate(arch, np.random.default_rng(seed)) == child


def test_moves_can_grow_and_shrink():
    tiny = SPACE.parse("0100:input|output")  # input -> output only
    sizes = {n.num_vertices for n in SPACE.neighbours(tiny)}
    assert sizes == {3}
    full = SPACE.parse((EXAMPLE_MATRIX, EXAMPLE_OPS))
    assert min(n.num_vertices for n in SPACE.neighbours(full)) < 7


@fast
@given(archs, archs, archs, seeds)
def test_distance_is_a_metric_on_classes(a, b, c, seed):
    d = SPACE.distance
    assert d(a, a) == 0 and d(a, b) == d(b, a) >= 0
    assert (d(a, b) == 0) == (SPACE.canonical(a) == SPACE.canonical(b))
    assert d(a, c) <= d(a, b) + d(b, c)
    rng = np.random.default_rng(seed)
    assert d(relabel(a, rng), relabel(b, rng)) == d(a, b)


# --- graphs --------------------------------------------------------------------------------
@fast
@given(archs)
def test_graph_is_the_pruned_cell(arch):
    g = SPACE.graph(arch)
    assert isinstance(g, CellGraph)
    assert np.array_equal(g.adjacency, arch.array()) and g.ops == arch.ops
    assert np.array_equal(g.adjacency, np.triu(g.adjacency, 1))
    to_graph = pytest.importorskip("nasplug.samplers.encoders.graphs").to_graph  # lives with the encoders
    data = to_graph(SPACE, arch)
    labels = [SPACE.op_vocabulary[i] for i in data.x.argmax(dim=1).tolist()]
    assert tuple(labels) == g.ops
    rebuilt = np.zeros_like(g.adjacency)
    rebuilt[data.edge_index[0].numpy(), data.edge_index[1].numpy()] = 1
    assert np.array_equal(rebuilt, g.adjacency)


# --- network -------------------------------------------------------------------------------
def test_vertex_channel_rule():
    cell = SPACE.parse((EXAMPLE_MATRIX, EXAMPLE_OPS))
    # vertices 1, 2, 4, 5 feed the output: 128 = 4 x 32; vertex 3 feeds only vertex 4
    assert vertex_channels(cell, 64, 128) == [64, 32, 32, 32, 32, 32, 128]
    odd = SPACE.parse(([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
                       ["input", C3, C3, MP, "output"]))
    assert vertex_channels(odd, 128, 256) == [128, 86, 85, 85, 256]  # remainder to the first vertices


def test_network_forward_stages_and_parameter_count():
    torch.manual_seed(0)
    cell = SPACE.parse((EXAMPLE_MATRIX, EXAMPLE_OPS))
    net = SPACE.to_module(cell, num_classes=100, stem_channels=16).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = net(x)
        stages = net.forward_stages(x)
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    assert [tuple(s.shape) for s in stages] == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]
    assert sum(p.numel() for p in net.parameters()) == count_parameters(cell, 100, stem_channels=16)
    tiny = SPACE.parse("0100:input|output")
    small = NB101Space(NB101Space.Config(stem_channels=8, stacks=2, cells_per_stack=1)).to_module(tiny).eval()
    with torch.no_grad():
        assert small(x).shape == (2, 10) and len(small.forward_stages(x)) == 2
    with pytest.raises(ConfigError):
        SPACE.to_module(cell, width=3)
    with pytest.raises(ConfigError):
        SPACE.to_module(cell, stem_channels=0)


# --- benchmark -----------------------------------------------------------------------------
def test_params_column_matches_our_network_for_every_row(bench):
    rows = bench.rows()
    assert len(rows) == 500
    expected = [round(r.values["params"] * 1e6) for r in rows]
    assert [count_parameters(r.cell) for r in rows] == expected
    # the analytic count is the torch module's count (a few rows, incl. vertex-order-sensitive ones)
    picks = [0, 1, 2, 3] + [i for i, r in enumerate(rows) if r.cell.num_vertices == 7][:2]
    for i in picks:
        assert sum(p.numel() for p in SPACE.to_module(rows[i].cell).parameters()) == expected[i]


def test_benchmark_matches_the_raw_table(bench, benchmarks):
    assert isinstance(bench, Benchmark)
    raw = raw_rows(benchmarks)
    numeric = [h for h in raw[0] if h not in ("adjacency_7x7_rowmajor", "ops")]
    assert bench.metrics == tuple(numeric)
    groups = defaultdict(list)
    for r in raw:
        bits, ops = r["adjacency_7x7_rowmajor"], r["ops"]
        groups[SPACE.canonical(f"{bits}:{ops}")].append(r)
    assert len(bench) == len(groups) == 292 and len(bench.architectures()) == 292
    for key, rs in list(groups.items())[:60]:
        for metric in ("val_accuracy", "params", "synflow"):
            assert bench.query(key, metric) == pytest.approx(np.mean([float(r[metric]) for r in rs]), rel=1e-12)
        assert bench.row_count(key) == len(rs)
    best = max(r.values["val_accuracy"] for r in bench.rows())
    assert best == max(float(r["val_accuracy"]) for r in raw) == pytest.approx(94.71, abs=0.01)
    assert max(bench.query_many(bench.architectures(), "val_accuracy")) <= best


def test_queries_accept_any_vertex_order(bench):
    arch = bench.architectures()[0]
    rng = np.random.default_rng(1)
    assert bench.query(relabel(arch, rng), "val_accuracy") == bench.query(arch, "val_accuracy")
    with pytest.raises(BenchmarkError, match="did you mean 'val_accuracy'"):
        bench.query(arch, "val_acc")
    covered = {SPACE.canonical(a) for a in bench.architectures()}
    missing = next(c for c in SPACE.enumerate() if SPACE.canonical(c) not in covered)
    with pytest.raises(ArchitectureError, match="not in the NAS-Bench-101 subset"):
        bench.query(missing, "val_accuracy")


def test_load_is_cached_and_takes_any_path(bench, benchmarks, tmp_path):
    assert SPACE.load_benchmark(str(benchmarks / "nb101" / "suite_zero_subset.csv")) is bench
    raw = (benchmarks / "nb101" / "suite_zero_subset.csv").read_text().splitlines()
    own = tmp_path / "mine.csv"
    own.write_text("\n".join(raw[:4]) + "\n")
    try:
        small = SPACE.load_benchmark(str(own))
        assert len(small.rows()) == 3 and small.metrics == bench.metrics
    finally:
        clear_cache()


def test_missing_or_foreign_file_raises(tmp_path, monkeypatch):
    with pytest.raises(BenchmarkError, match="not found"):
        SPACE.load_benchmark(str(tmp_path))
    foreign = tmp_path / "x.csv"
    foreign.write_text("index,arch,acc\n0,x,1.0\n")
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-101 table") as info:
        SPACE.load_benchmark(str(foreign))
    assert "\n" not in str(info.value)
    broken = tmp_path / "y.csv"
    broken.write_text("adjacency_7x7_rowmajor,ops,val_accuracy\n0100,input|output,90\n0000,input|output,80\n")
    with pytest.raises(BenchmarkError, match="row 3 is not a valid"):
        SPACE.load_benchmark(str(broken))
    monkeypatch.delenv("NASPLUG_BENCHMARKS", raising=False)
    with pytest.raises(BenchmarkError, match="NASPLUG_BENCHMARKS"):
        SPACE.load_benchmark()
