"""Architecture encodings: adjacency, HAAP matrices with homogeneous augmentation, path encoding,
and torch_geometric graph batches, on the toy space, NAS-Bench-201 and NAS-Bench-101."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.space import CellGraph
from nasplug.core.registry import registry
from nasplug.core.testing import EncoderConformance
from nasplug.core.testing.toy import ToySpace
from nasplug.samplers.encoders.adjacency import AdjacencyEncoder
from nasplug.samplers.encoders.graphs import SINK, SOURCE, GraphTensors, to_batch
from nasplug.samplers.encoders.haap import HAAPEncoder, simplify
from nasplug.samplers.encoders.path import PathEncoder
from nasplug.samplers.encoders.graphs import to_graph


@pytest.fixture(scope="module")
def nb201():
    return registry().create("space", "nb201")


def _nb101():
    """The NB101 space; skipped only when it is not installed (a broken one fails the test)."""
    if "nb101" not in registry().names("space"):
        pytest.skip("the nb101 space (nasplug-spaces) is not installed")
    return registry().create("space", "nb101")


def _digraph(g: CellGraph) -> nx.DiGraph:
    d = nx.DiGraph()
    d.add_nodes_from((i, {"op": op}) for i, op in enumerate(g.ops))
    d.add_edges_from(zip(*np.nonzero(np.asarray(g.adjacency))))
    return d


def _isomorphic(a: CellGraph, b: CellGraph) -> bool:
    return nx.is_isomorphic(_digraph(a), _digraph(b), node_match=lambda x, y: x["op"] == y["op"])


# --- conformance ------------------------------------------------------------------------------

class TestAdjacencyEncoder(EncoderConformance):
    @pytest.fixture
    def encoder_cls(self):
        return AdjacencyEncoder


class TestAdjacencyEncoderNB201(TestAdjacencyEncoder):
    @pytest.fixture
    def space(self, nb201):
        return nb201


class TestHAAPEncoder(EncoderConformance):
    @pytest.fixture
    def encoder_cls(self):
        return HAAPEncoder


class TestHAAPEncoderNB101(TestHAAPEncoder):
    @pytest.fixture
    def space(self):
        return _nb101()


class TestPathEncoder(EncoderConformance):
    @pytest.fixture
    def encoder_cls(self):
        return PathEncoder

    @pytest.fixture
    def space(self):
        return ToySpace(ToySpace.Config(positions=3))  # a chain of 3 ops: one path of length 3


class TestPathEncoderNB101(TestPathEncoder):
    @pytest.fixture
    def space(self):
        return _nb101()


# --- HAAP representation ----------------------------------------------------------------------

def test_haap_dimensions_match_the_haap_code(nb201):
    assert HAAPEncoder(space=nb201).dim == 73  # 7x7 + 6 x {null, 1x1, 3x3, pool}
    assert HAAPEncoder(space=_nb101()).dim == 56  # 6x6 + 5 x {null, 1x1, 3x3, pool}


def test_haap_simplification_of_nb201_cells(nb201):
    enc = HAAPEncoder(space=nb201)
    skip_only = enc.graph(("skip_connect",) * 6)
    assert skip_only.ops == ("input", "output") and skip_only.adjacency.tolist() == [[0, 1], [0, 0]]
    dead = enc.graph(("none",) * 6)
    assert dead.ops == ("input", "output") and not dead.adjacency.any()
    # conv on edge 1<-0 feeds only 'none' edges: it is pruned; the skip 3<-0 wires input to output
    pruned = enc.graph(nb201.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    assert pruned.ops == ("input", "output") and pruned.adjacency.tolist() == [[0, 1], [0, 0]]
    full = enc.graph(("nor_conv_3x3",) * 6)
    assert len(full.ops) == 8 and np.array_equal(full.adjacency, nb201.graph(("nor_conv_3x3",) * 6).adjacency)
    # ops (none, skip) that never survive simplification leave the 73-d vector alike
    x = enc.encode([("nor_conv_3x3", "none", "none", "skip_connect", "none", "none"), ("skip_connect",) * 6])
    assert np.array_equal(x[0], x[1])


def test_simplify_keeps_a_dag_and_the_ends():
    g = CellGraph(np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.int8),
                  ("input", "skip_connect", "none", "output"))
    s = simplify(g)
    assert s.ops == ("input", "output") and s.adjacency.tolist() == [[0, 1], [0, 0]]


def _nb201_arch_of_template_view(space, view: CellGraph):
    """The NB201 cell a permuted 8-node template graph denotes (found by matching the template)."""
    template = space.graph(("nor_conv_3x3",) * 6).adjacency
    a = np.asarray(view.adjacency)
    for perm in itertools.permutations(range(1, 7)):
        order = np.array([0, *perm, 7])
        if np.array_equal(a[np.ix_(order, order)], template):
            return tuple(view.ops[i] for i in order[1:7])
    raise AssertionError("view is not a relabelling of the NB201 template")


def test_homogeneous_augmentation_keeps_the_nb201_architecture(nb201, benchmarks):
    enc = HAAPEncoder(HAAPEncoder.Config(remove_ops=[], contract_ops=[]), space=nb201)  # the full 8-node template
    bench = nb201.load_benchmark()
    rng = np.random.default_rng(0)
    for arch in [nb201.sample(rng) for _ in range(4)]:
        for _ in range(3):
            view = enc.augment(arch, rng)
            back = _nb201_arch_of_template_view(nb201, view)
            assert nb201.canonical(back) == nb201.canonical(arch)
            assert bench.query(back, "cifar10_valid_val") == bench.query(arch, "cifar10_valid_val")
    views = enc.views(("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none", "nor_conv_3x3"))
    assert len(views) == 720  # 6! interior permutations
    assert len({(v.adjacency.tobytes(), v.ops) for v in views}) == 720


def test_homogeneous_augmentation_keeps_the_toy_architecture():
    space = ToySpace()
    enc = HAAPEncoder(space=space)
    rng = np.random.default_rng(1)
    for arch in [space.sample(rng) for _ in range(5)]:
        view = enc.augment(arch, rng)
        order = list(nx.topological_sort(_digraph(view)))
        digits = "".join(view.ops[i][2:] for i in order[1:-1])
        assert space.canonical(digits) == space.canonical(arch)


def test_augmented_views_are_isomorphic_and_upper_triangular_filter_works(nb201):
    arch = nb201.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    enc = HAAPEncoder(space=nb201)
    base = enc.graph(arch)
    views = enc.views(arch)
    assert all(_isomorphic(base, v) for v in views)
    # every view's flat HAAP vector describes the same cell: the identity view is encode()
    assert np.array_equal(enc.encode_graphs(views[:1])[0], enc.encode([arch])[0])
    topo = HAAPEncoder(HAAPEncoder.Config(upper_triangular_only=True), space=nb201).views(arch)
    assert 1 <= len(topo) < len(views)
    assert all(not np.tril(v.adjacency).any() for v in topo)
    rng = np.random.default_rng(0)
    x = enc.augment_encode([arch] * 20, rng)
    assert x.shape == (20, 73) and len(np.unique(x, axis=0)) > 1


def test_isomorphic_nb101_cells_encode_alike_after_canonicalisation():
    space = _nb101()
    topological = HAAPEncoder(HAAPEncoder.Config(upper_triangular_only=True), space=space)
    rng = np.random.default_rng(3)
    while True:  # a cell with a second vertex order (another topological order of its DAG)
        arch = space.sample(rng)
        views = topological.views(arch)[1:]
        if views:
            break
    twin = space.parse((np.asarray(views[0].adjacency), list(views[0].ops)))
    assert space.canonical(twin) == space.canonical(arch)
    adjacency = AdjacencyEncoder(space=space)
    assert not np.array_equal(*adjacency.encode([arch, twin])), "the two vertex orders differ as matrices"
    for enc in (adjacency, HAAPEncoder(space=space), PathEncoder(space=space)):
        x = enc.encode([space.parse(space.canonical(a)) for a in (arch, twin)])
        assert np.array_equal(x[0], x[1]), type(enc).__name__
    x = PathEncoder(space=space).encode([arch, twin])  # invariant even without canonicalisation
    assert np.array_equal(x[0], x[1])


# --- path encoding ----------------------------------------------------------------------------

def test_path_encoding_of_known_nb201_cells(nb201):
    enc = PathEncoder(space=nb201)
    assert enc.ops == ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert enc.max_length == 6 and enc.dim == 1093
    x = enc.encode([("nor_conv_3x3",) * 6, ("skip_connect",) * 6, ("none",) * 6])
    # all-conv3x3: paths 0-3, 0-1-3, 0-2-3, 0-1-2-3 -> sequences c3, c3c3 (twice), c3c3c3
    c3 = 1
    assert np.flatnonzero(x[0]).tolist() == [1 + c3, 1 + 3 + 3 * c3 + c3, 1 + 3 + 9 + 9 * c3 + 3 * c3 + c3]
    assert np.flatnonzero(x[1]).tolist() == [0]  # input wired straight to output
    assert not x[2].any()
    short = PathEncoder(PathEncoder.Config(truncate=13), space=nb201)
    assert short.dim == 13 and np.array_equal(short.encode([("nor_conv_3x3",) * 6])[0], x[0, :13])
    raw = PathEncoder(PathEncoder.Config(simplify=False), space=nb201)
    assert raw.encode([("none",) * 6]).sum() == 3  # unsimplified, paths n, nn (twice), nnn count


def test_path_encoding_bounds_its_width_for_large_cells():
    darts = pytest.importorskip("nasplug.spaces.darts")
    space = darts.DartsSpace()
    enc = PathEncoder(space=space)
    assert enc.dim <= 4096
    assert enc.encode([space.sample(np.random.default_rng(0))]).sum() > 0


def test_encoders_reject_spaces_without_graphs():
    class NoGraph(ToySpace):
        op_vocabulary = ()

    for cls in (AdjacencyEncoder, HAAPEncoder, PathEncoder):
        with pytest.raises(ConfigError):
            cls(space=NoGraph())


# --- graph batches ----------------------------------------------------------------------------

def test_to_batch_matches_from_data_list(nb201):
    from torch_geometric.data import Batch

    archs = [nb201.sample(np.random.default_rng(i)) for i in range(6)]
    ours = to_batch(nb201, archs)
    ref = Batch.from_data_list([to_graph(nb201, a) for a in archs])
    assert ours.num_graphs == 6
    for key in ("x", "edge_index", "batch", "ptr"):
        assert np.array_equal(getattr(ours, key).numpy(), getattr(ref, key).numpy()), key


def test_graph_tensors_slice_and_permute_like_their_graphs(nb201):
    import torch

    archs = [nb201.sample(np.random.default_rng(i)) for i in range(12)]
    enc = HAAPEncoder(space=nb201)
    tensors = GraphTensors.from_space(nb201, archs, simplify)
    index = torch.tensor([7, 2, 9])
    sub = tensors.select(index)
    ref = to_batch(nb201, [archs[i] for i in index], transform=simplify)
    assert torch.equal(sub.x, ref.x) and torch.equal(sub.edge_index, ref.edge_index) and torch.equal(sub.batch, ref.batch)
    view = tensors.permute_interior(sub, torch.Generator().manual_seed(0))
    for k in range(3):
        nodes = (view.batch == k).nonzero().view(-1)
        local = {int(n): i for i, n in enumerate(nodes)}
        keep = (view.batch[view.edge_index[0]] == k)
        adj = np.zeros((len(nodes), len(nodes)), dtype=np.int8)
        for s, d in view.edge_index[:, keep].T.tolist():
            adj[local[s], local[d]] = 1
        ops = tuple(nb201.op_vocabulary[int(i)] for i in view.x[nodes].argmax(1))
        assert _isomorphic(CellGraph(adj, ops), enc.graph(archs[int(index[k])]))
        assert view.role[nodes][0] == SOURCE and view.role[nodes][-1] == SINK


def test_graph_tensors_work_for_nb101_cells_of_different_sizes():
    space = _nb101()
    archs = [space.sample(np.random.default_rng(i)) for i in range(20)]
    tensors = GraphTensors.from_space(space, archs)
    sizes = tensors.node_ptr.diff().tolist()
    assert sizes == [len(space.graph(a).ops) for a in archs]
    assert int(tensors.edge_index.shape[1]) == sum(int(np.asarray(space.graph(a).adjacency).sum()) for a in archs)
