"""SPOS and FairNAS: their defining rules, checked directly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats

from nasplug.core.errors import ConfigError
from nasplug.core.options import build_config
from nasplug.search.oneshot import SPOS, FairNAS

nb201 = pytest.importorskip("nasplug.spaces.nb201")


def make(cls, **options):
    return cls(build_config(cls.Config, options, "oneshot.method"), space=nb201.NB201Space())


class _Decisions:
    """Just what a method asks of a supernet to draw paths."""

    def __init__(self, decisions, members=True):
        self.decisions = decisions
        self.every_path_is_a_member = members

    @staticmethod
    def path_of(arch):
        return tuple(nb201.space.OPS.index(op) for op in arch)


def test_spos_samples_every_op_of_every_edge_uniformly():
    spos = make(SPOS)
    rng = np.random.default_rng(0)
    draws = np.array([spos.paths(_Decisions((5,) * 6), rng)[0] for _ in range(5000)])
    for edge in range(6):
        counts = np.bincount(draws[:, edge], minlength=5)
        assert stats.chisquare(counts).pvalue > 1e-3, counts
    # and the edges are drawn independently: pairs are uniform over 25 cells too
    pairs = Counter(map(tuple, draws[:, :2]))
    assert stats.chisquare([pairs.get((a, b), 0) for a in range(5) for b in range(5)]).pvalue > 1e-3


def test_fairnas_trains_every_op_of_every_edge_exactly_once_per_step():
    import torch

    fair = make(FairNAS)
    torch.manual_seed(0)
    net = nb201.NB201Space().supernet(channels=4, cells_per_stage=1)
    calls: Counter = Counter()
    for c, cell in enumerate(net.cells):
        if not hasattr(cell, "edge_ops"):
            continue
        for e, edge in enumerate(cell.edge_ops):
            for k, op in enumerate(edge.candidates):
                op.register_forward_hook(lambda *_a, key=(c, e, k): calls.update([key]))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    for step in range(3):
        calls.clear()
        paths = fair.paths(net, np.random.default_rng(step))
        assert len(paths) == 5
        assert all(sorted(p[e] for p in paths) == list(range(5)) for e in range(6))
        fair.train_step(net, x, y, optimizer, np.random.default_rng(step))
        cells = {c for c, _, _ in calls}
        assert calls == Counter({(c, e, k): 1 for c in cells for e in range(6) for k in range(5)})
    assert all(int(s["momentum_buffer"].ne(0).any()) for s in optimizer.state.values())  # updates happened
    changed = [n for n, p in net.named_parameters() if not torch.equal(p, before[n])]
    convs = [n for n, _ in net.named_parameters() if ".candidates." in n]
    assert set(convs) <= set(changed)  # every candidate op with weights was trained


def test_fairnas_accumulates_all_paths_before_one_update():
    import torch

    fair = make(FairNAS)
    torch.manual_seed(1)
    net = nb201.NB201Space().supernet(channels=4, cells_per_stage=1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    paths = fair.paths(net, np.random.default_rng(7))
    expected = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for path in paths:
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x, path=path), y).backward()
        for n, p in net.named_parameters():
            if p.grad is not None:
                expected[n] += p.grad
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    fair.train_step(net, x, y, torch.optim.SGD(net.parameters(), lr=0.5), np.random.default_rng(7))
    for n, p in net.named_parameters():
        assert torch.allclose(p.detach(), start[n] - 0.5 * expected[n], atol=1e-6), n


def test_fairnas_needs_equal_option_counts_and_member_paths():
    with pytest.raises(ConfigError, match="same number of options"):
        make(FairNAS).paths(_Decisions((3, 4)), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="not all members of this space"):
        make(FairNAS).paths(_Decisions((8,) * 28, members=False), np.random.default_rng(0))


class _Scripted:
    """An evaluator whose accuracy is a known function of the architecture."""

    def __init__(self):
        self.calls = 0

    def accuracy(self, arch):
        self.calls += 1
        return -float(sum((nb201.space.OPS.index(op) - 3) ** 2 for op in arch))  # best: every edge nor_conv_3x3


def test_spos_evolution_returns_the_best_architecture_it_evaluated_and_improves_on_random():
    evaluator = _Scripted()
    spos = make(SPOS, population=20, generations=8, parents=5, mutations=10, crossovers=10)
    best = spos.derive(evaluator, np.random.default_rng(0))
    trace = spos.search_trace
    space = nb201.NB201Space()
    assert evaluator.calls == len(trace) <= 20 * 8
    assert space.canonical(best) == max(trace, key=trace.get)
    first = list(trace.values())[:20]
    assert evaluator.accuracy(best) > max(first)  # evolution found better than its random start
    assert evaluator.accuracy(best) >= -1.0       # within one step of the optimum (all nor_conv_3x3)


# --- the core's one-shot method conformance suite ------------------------------------------
from nasplug.core.testing import OneShotMethodConformance  # noqa: E402


class TestSPOSConformance(OneShotMethodConformance):
    @pytest.fixture
    def method_cls(self):
        return SPOS


class TestFairNASConformance(OneShotMethodConformance):
    @pytest.fixture
    def method_cls(self):
        return FairNAS


class TestSPOSOnDartsConformance(OneShotMethodConformance):
    @pytest.fixture
    def method_cls(self):
        return SPOS

    @pytest.fixture
    def space(self):
        return pytest.importorskip("nasplug.spaces.darts.space").DartsSpace()

    @pytest.fixture
    def supernet_options(self):
        return {"channels": 4, "layers": 3}
