"""Proxy ensembles: rank vote against a reference sample, weighted sum fitted on labelled cells."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import build_config
from nasplug.core.registry import Registry, registry
from nasplug.core.runs import run
from nasplug.core.testing import ProxyConformance
from nasplug.core.testing.toy import ToySpace
from nasplug.proxies.ensemble import (
    RankVoteProxy, WeightedSumProxy, batch_rank_vote, fit_nonnegative_weights, percentile_against,
)

#: Cheap members on the toy space (synflow is data-free, naswot needs images).
MEMBERS = ["synflow", {"name": "naswot"}]


def test_batch_rank_vote_by_hand():
    # proxy A ranks c > b > a, proxy B ranks a > c > b; failures (-inf) rank last
    fitness = np.array([[1.0, 9.0], [2.0, -math.inf], [3.0, 5.0]])
    vote = batch_rank_vote(fitness)
    # mid-ranks scaled to [0, 1): (rank - 0.5) / 3
    assert vote == pytest.approx([(0.5 + 2.5) / 3, (1.5 + 0.5) / 3, (2.5 + 1.5) / 3])


def test_percentile_counts_ties_as_half():
    ref = np.array([1.0, 2.0, 2.0, 4.0])
    assert percentile_against(ref, 2.0) == pytest.approx((1 + 0.5 * 2) / 4)
    assert percentile_against(ref, 0.0) == 0.0 and percentile_against(ref, 5.0) == 1.0
    assert percentile_against(ref, -math.inf) == 0.0


def test_nonnegative_weights_recover_a_known_mix():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 3))
    y = z @ np.array([0.7, 0.0, 0.3])
    w = fit_nonnegative_weights(z, y, ridge=0.0)
    assert w == pytest.approx([0.7, 0.0, 0.3], abs=1e-9)
    w_neg = fit_nonnegative_weights(z, -z[:, 1], ridge=0.0)  # a negative weight is clipped to 0
    assert np.all(w_neg >= 0) and w_neg[1] == 0.0


def _vote(space, reference=12, members=MEMBERS):
    return RankVoteProxy(build_config(RankVoteProxy.Config, {"proxies": members, "reference": reference}, "proxy"), space=space)


def _ctx(seed=0):
    import torch

    g = torch.Generator().manual_seed(0)
    return ProxyContext(seed=seed, batch=(torch.randn(6, 3, 32, 32, generator=g), torch.arange(6)), num_classes=10)


def test_vote_is_a_sum_of_percentiles_independent_of_order():
    space = ToySpace()
    archs = space.sample_many(3, np.random.default_rng(3))
    forward = [_vote(space, reference=6).score(a, _ctx()) for a in archs]
    proxy = _vote(space, reference=6)
    backward = [proxy.score(a, _ctx()) for a in reversed(archs)][::-1]
    assert forward == backward
    assert all(0.0 <= v <= 2.0 for v in forward)
    assert len(proxy._cache) == 1  # the reference sample is scored once per context


def test_vote_declares_what_its_members_need():
    space = ToySpace()
    assert _vote(space).needs_data and not _vote(space, members=["synflow", "params"]).needs_data
    assert RankVoteProxy.needs_data  # the default members (synflow, jacov, snip) need labelled images
    with pytest.raises(ConfigError, match="proxies"):
        build_config(RankVoteProxy.Config, {"proxies": []}, "proxy")


def test_weighted_fits_on_the_benchmark_and_on_given_labels():
    space = ToySpace()
    bench = space.load_benchmark()
    options = {"proxies": ["params", "synflow"], "labelled": 12, "metric": "accuracy"}
    proxy = WeightedSumProxy(build_config(WeightedSumProxy.Config, options, "proxy"), space=space)
    fitted = proxy.fit(_ctx())
    assert len(fitted.archs) == 12 and np.all(fitted.weights >= 0) and fitted.weights.sum() > 0
    assert not proxy.needs_data
    arch = space.sample(np.random.default_rng(9))
    assert proxy.score(arch, _ctx()) == proxy.score(arch, _ctx())
    labels = {a: bench.query(a, "accuracy") for a in fitted.archs}
    given = WeightedSumProxy(build_config(WeightedSumProxy.Config, {"proxies": ["params", "synflow"], "labels": labels}, "proxy"),
                             space=space)
    assert given.fit(_ctx()).weights == pytest.approx(fitted.weights)


def test_weighted_on_nb201_with_real_labels(benchmarks):
    space = pytest.importorskip("nasplug.spaces.nb201").NB201Space()  # from nasplug-spaces
    small = {"channels": 4, "cells_per_stage": 1}
    options = {"proxies": [{"name": "synflow", "module_options": small}, {"name": "logsynflow", "module_options": small}],
               "labelled": 8,
               "metric": "cifar10_valid_val", "benchmark_path": str(benchmarks)}
    proxy = registry().create("proxy", {"name": "weighted", **options}, space=space)
    ctx = ProxyContext(seed=1, num_classes=10)
    good = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    bad = space.parse("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert proxy.score(good, ctx) > proxy.score(bad, ctx)


def test_vote_in_a_score_run(tmp_path):
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    cfg = {"kind": "score", "seed": 1, "space": "toy", "store": {"path": str(tmp_path / "v.db")},
           "proxy": {"name": "vote", "proxies": ["synflow", "params"], "reference": 10},
           "score": {"archs": 6, "metrics": ["accuracy"]}}
    result = run(cfg, registry=reg).result
    assert result["archs"] == 6 and result["non_finite"] == 0
    assert -1 <= result["correlations"]["accuracy"]["spearman"] <= 1


#: The members at the reference task's size (8 channels, 5 cells per stage).
REFERENCE_MEMBERS = [{"name": name, "module_options": {"channels": 8, "cells_per_stage": 5}} for name in ("synflow", "naswot")]


class TestRankVoteConformance(ProxyConformance):
    @pytest.fixture
    def proxy_cls(self):
        return RankVoteProxy

    @pytest.fixture
    def proxy_options(self):
        return {"proxies": MEMBERS, "reference": 8}

    @pytest.fixture
    def direction_options(self):
        return {"proxies": REFERENCE_MEMBERS, "reference": 8}


class TestWeightedSumConformance(ProxyConformance):
    @pytest.fixture
    def proxy_cls(self):
        return WeightedSumProxy

    @pytest.fixture
    def proxy_options(self):
        return {"proxies": MEMBERS, "labelled": 8, "metric": "accuracy"}

    @pytest.fixture
    def direction_options(self, benchmarks):
        return {"proxies": REFERENCE_MEMBERS, "labelled": 8, "metric": "cifar10_valid_val", "benchmark_path": str(benchmarks)}
