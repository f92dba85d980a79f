"""BANANAS: the acquisition functions against known answers, and the loop's defining rules."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.core.interfaces.strategy import Told
from nasplug.core.options import build_config
from nasplug.core.registry import Registry, using
from nasplug.core.testing.toy import ToySpace
from nasplug.search.bananas import Bananas, acquisition


def test_ucb_trades_mean_against_uncertainty():
    mean, std = np.array([1.0, 2.0]), np.array([3.0, 0.0])
    rng = np.random.default_rng(0)
    assert np.argmax(acquisition(mean, std, "ucb", rng, explore=0.5)) == 0  # 1 + 1.5 > 2
    assert np.argmax(acquisition(mean, std, "ucb", rng, explore=0.1)) == 1  # 1 + 0.3 < 2
    assert list(acquisition(mean, std, "mean", rng)) == [1.0, 2.0]


def test_independent_thompson_sampling_ranks_a_clearly_better_candidate_first():
    mean = np.array([0.0, 0.5, 10.0, 1.0])
    std = np.array([1.0, 1.0, 1.0, 1.0])
    firsts = [int(np.argmax(acquisition(mean, std, "its", np.random.default_rng(s)))) for s in range(50)]
    assert firsts == [2] * 50
    # with no uncertainty ITS is the mean; with it, draws are independent per candidate
    assert list(acquisition(mean, np.zeros(4), "its", np.random.default_rng(0))) == list(mean)
    a = acquisition(np.zeros(1000), np.ones(1000), "its", np.random.default_rng(1))
    assert abs(a.std() - 1.0) < 0.1 and abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.1


def test_expected_improvement_known_values():
    from scipy.stats import norm

    ei = acquisition(np.array([5.0, 5.0, 7.0]), np.array([1.0, 0.0, 0.0]), "ei", np.random.default_rng(0), best=5.0)
    assert ei[0] == pytest.approx(norm.pdf(0.0)) and ei[1] == 0.0 and ei[2] == 2.0


def _bananas(**options):
    reg = Registry()
    with using(reg):
        config = build_config(Bananas.Config, {"initial": 10, "per_iteration": 5, "ensemble": 2, "candidates": 30,
                                               "predictor": {"name": "sklearn", "n_estimators": 10}, **options}, "strategy")
        return Bananas(config, space=ToySpace(), seed=4), reg


def test_after_the_initial_sample_every_pick_mutates_one_of_the_best_parents():
    strategy, reg = _bananas(parents=2, max_mutations=1)
    space = strategy.space
    bench = space.load_benchmark()
    with using(reg):
        first = strategy.ask(100)
        assert len(first) == 10 and strategy.ask(1) == []  # the next picks wait for every result
        strategy.tell([Told(a, bench.query(a, "accuracy"), 0.0) for a in first])
        parents = sorted(first, key=lambda a: -bench.query(a, "accuracy"))[:2]
        picks = strategy.ask(100)
    assert len(picks) == 5
    seen = {space.canonical(a) for a in first}
    for arch in picks:
        assert space.canonical(arch) not in seen
        assert min(space.distance(arch, p) for p in parents) == 1  # one edit from a parent


def test_the_mean_acquisition_picks_the_ensembles_best_candidates():
    """With ``acquisition = "mean"`` the picks are the candidates the ensemble ranks highest: a
    perfect predictor (the benchmark itself) makes them the best of the mutation neighbourhood."""
    from nasplug.core.interfaces.predictor import Predictor

    space = ToySpace()
    bench = space.load_benchmark()

    class Oracle(Predictor):
        def fit(self, archs, y, *, seed=0):
            return self

        def predict(self, archs):
            return np.array([bench.query(a, "accuracy") for a in archs])

        def embed(self, archs):
            return self.predict(archs)[:, None]

    reg = Registry()
    reg.register("predictor", "oracle", Oracle)
    with using(reg):
        config = build_config(Bananas.Config, {"initial": 6, "per_iteration": 3, "ensemble": 2, "candidates": 1000,
                                               "parents": 1, "acquisition": "mean", "predictor": "oracle"}, "strategy")
        strategy = Bananas(config, space=space, seed=0)
        first = strategy.ask(6)
        strategy.tell([Told(a, bench.query(a, "accuracy"), 0.0) for a in first])
        picks = strategy.ask(3)
    parent = max(first, key=lambda a: bench.query(a, "accuracy"))
    seen = {space.canonical(a) for a in first}
    neighbourhood = [n for n in space.neighbours(parent) if space.canonical(n) not in seen]
    best3 = sorted(neighbourhood, key=lambda a: (-bench.query(a, "accuracy"), space.canonical(a)))[:3]
    assert [space.canonical(a) for a in picks] == [space.canonical(a) for a in best3]
