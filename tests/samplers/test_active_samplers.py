"""DARE, BAL, CoreSet and uncertainty samplers: the core conformance suite, their defining
behaviour on small cases with known answers, and a short predict run on real NAS-Bench-201 data."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.core.errors import BudgetError, ConfigError
from nasplug.core.interfaces.sampler import SelectionContext
from nasplug.core.options import build_config
from nasplug.core.testing import SamplerConformance
from nasplug.samplers.bal import BALSampler, cdd_order, window
from nasplug.samplers.coreset import CoreSetSampler, k_center_greedy
from nasplug.samplers.dare import DARESampler
from nasplug.samplers.uncertainty import UncertaintySampler


class TestDARESampler(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return DARESampler


class TestDAREUniformSampler(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return DARESampler

    @pytest.fixture
    def sampler_options(self):
        return {"distribution": "uniform", "max_pseudo_labels": 20}


@pytest.mark.parametrize("ablation", [{"first_stage": False}, {"second_stage": False},
                                      {"first_stage": False, "second_stage": False}])
class TestDAREAblations(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return DARESampler

    @pytest.fixture
    def sampler_options(self, ablation):
        return ablation


class TestBALSampler(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return BALSampler

    @pytest.fixture
    def sampler_options(self):
        return {"members": 2}


class TestCoreSetSampler(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return CoreSetSampler


class TestUncertaintySampler(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return UncertaintySampler

    @pytest.fixture
    def sampler_options(self):
        return {"members": 3}


# --- CoreSet --------------------------------------------------------------------------------

def _brute_k_center(x, centres, k, candidates):
    centres, chosen = list(centres), []
    for _ in range(k):
        best, best_d = None, -1.0
        for c in candidates:
            if c in chosen:
                continue
            d = min(np.sum((x[c] - x[s]) ** 2) for s in centres)
            if d > best_d:
                best, best_d = c, d
        chosen.append(best)
        centres.append(best)
    return chosen


def test_k_center_greedy_matches_the_textbook_algorithm():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    centres = np.array([0, 5, 9])
    candidates = np.setdiff1d(np.arange(60), centres)
    assert k_center_greedy(x, centres, 7, candidates) == _brute_k_center(x, centres, 7, candidates.tolist())


def test_k_center_greedy_starts_from_the_medoid_without_centres():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [10.0, 0.0]])
    assert k_center_greedy(x, np.array([], dtype=int), 2, np.arange(4)) == [1, 3]


# --- BAL ------------------------------------------------------------------------------------

def test_bal_windows_slide_over_the_cdd_order():
    assert window(0, 10, 1.2, 1000) == (0, 12)
    assert window(1, 10, 1.2, 1000) == (9, 21)
    assert window(3, 10, 2.0, 1000) == (25, 45)
    assert window(99, 10, 1.2, 1000) == (988, 1000)


def test_cdd_order_puts_boundary_points_first():
    rng = np.random.default_rng(1)
    left = rng.normal(loc=-5.0, scale=0.3, size=(40, 2))
    right = rng.normal(loc=5.0, scale=0.3, size=(40, 2))
    middle = np.array([[0.0, 0.0], [0.3, -0.2]])
    order = cdd_order(np.vstack([left, right, middle]), clusters=2, seed=0)
    assert set(order[:2].tolist()) == {80, 81}


def _nb201_context(benchmarks, labelled, predictor_spec, round=1, seed=0, pool_size=600):
    from nasplug.core.registry import registry

    reg = registry()
    space = reg.create("space", "nb201")
    bench = space.load_benchmark()
    pool = list(bench.architectures())[:pool_size]
    y = bench.query_many(pool, "cifar10_test")
    labelled = np.asarray(labelled)
    predictor = reg.create("predictor", predictor_spec, section="predictor", space=space)
    predictor.fit([pool[i] for i in labelled], y[labelled], seed=0)
    return space, SelectionContext(space=space, pool=pool, labelled=labelled, labels=y[labelled], predictor=predictor,
                                   rng=np.random.default_rng(seed), round=round,
                                   new_predictor=lambda: reg.create("predictor", predictor_spec, section="predictor", space=space))


FOREST = {"name": "sklearn", "model": "random_forest", "n_estimators": 10}


def test_bal_takes_the_head_of_its_window_first_and_the_most_uncertain_later(benchmarks):
    space, ctx = _nb201_context(benchmarks, list(range(0, 600, 60)), FOREST, round=0)
    sampler = build_bal(space)
    ctx.predictor = None
    assert sampler.choose(ctx, 5) == [int(i) for i in sampler.sub_pool(ctx, 5)[:5]]
    space, ctx = _nb201_context(benchmarks, list(range(0, 600, 60)), FOREST, round=2)
    part = sampler.sub_pool(ctx, 5)
    assert len(part) >= 5 and not set(part.tolist()) & set(ctx.labelled.tolist())
    assert set(sampler.choose(ctx, 5)) <= set(part.tolist())


def build_bal(space, **options):
    return BALSampler(build_config(BALSampler.Config, {"members": 3, **options}, "sampler"), space=space)


# --- uncertainty ----------------------------------------------------------------------------

def test_uncertainty_labels_the_largest_ensemble_spread(benchmarks):
    from nasplug.samplers.uncertainty import ensemble_std

    space, ctx = _nb201_context(benchmarks, list(range(0, 600, 40)), FOREST)
    sampler = UncertaintySampler(build_config(UncertaintySampler.Config, {"members": 3}, "sampler"), space=space)
    chosen = sampler.choose(ctx, 6)
    ctx.rng = np.random.default_rng(0)
    std = ensemble_std(ctx, [ctx.pool[i] for i in ctx.unlabelled], 3)
    assert np.min(std[np.isin(ctx.unlabelled, chosen)]) >= np.max(std[~np.isin(ctx.unlabelled, chosen)])


# --- DARE plugin ----------------------------------------------------------------------------

def test_dare_config_presets_and_validation():
    c = build_config(DARESampler.Config, {"preset": "nb101"}, "sampler")
    s = c.settings()
    assert (s.m, s.n, s.m_star, s.z, s.repetitions) == (10_000, 10_000, 10_000, 1000, 10)
    assert build_config(DARESampler.Config, {"m": 50}, "sampler").settings().m == 50
    d = DARESampler.Config().settings()
    assert (d.m, d.n, d.m_star, d.z, d.alpha, d.beta) == (1000, 1000, 1000, 500, 0.4, 0.5)
    with pytest.raises(ConfigError, match="beta"):
        build_config(DARESampler.Config, {"alpha": 0.6, "beta": 0.5}, "sampler")
    with pytest.raises(ConfigError, match="preset"):
        build_config(DARESampler.Config, {"preset": "nb301"}, "sampler")
    with pytest.raises(ConfigError, match="first_stage"):
        build_config(DARESampler.Config, {"first_stage": "no"}, "sampler")


def test_dare_needs_labelled_architectures(benchmarks):
    space, ctx = _nb201_context(benchmarks, [0, 1, 2], FOREST)
    ctx.labelled, ctx.labels = np.asarray([], dtype=int), np.asarray([])
    with pytest.raises(BudgetError, match="initial"):
        DARESampler(space=space).choose(ctx, 3)


@pytest.mark.parametrize("retrain", ["continue", "fresh"])
def test_dare_pseudo_labels_and_retrains_on_nb201(benchmarks, retrain):
    space, ctx = _nb201_context(benchmarks, list(range(0, 600, 50)), FOREST)
    fits, continued = [], []
    factory = ctx.new_predictor

    def counting():
        p = factory()
        original = p.fit
        p.fit = lambda archs, y, seed=0: (fits.append((len(archs), seed)), original(archs, y, seed=seed))[1]
        return p

    ctx.new_predictor = counting
    current = ctx.predictor.continue_fit
    ctx.predictor.continue_fit = lambda archs, y, seed=0: (continued.append(len(archs)), current(archs, y, seed=seed))[1]
    options = {"m": 200, "n": 200, "m_star": 200, "max_pseudo_labels": 30, "retrain": retrain}
    sampler = DARESampler(build_config(DARESampler.Config, options, "sampler"), space=space)
    chosen = sampler.select(ctx, 10)
    trace = sampler.last_trace
    sizes = continued if retrain == "continue" else [n for n, _ in fits]
    assert (fits if retrain == "continue" else continued) == []
    assert sizes == [len(ctx.labelled) + trace.pseudo_labelled] == [12 + 30]
    assert trace.mode in ("uniform", "non_uniform") and trace.hopkins is not None
    assert trace.chosen == chosen and not set(chosen) & set(ctx.labelled.tolist())


def test_predict_run_with_dare_end_to_end(benchmarks, tmp_path):
    from nasplug.core.runs import run
    from nasplug.core.store import Store

    config = {"kind": "predict", "seed": 3, "space": {"name": "nb201"}, "predictor": FOREST,
              "sampler": {"name": "dare", "max_pseudo_labels": 20},
              "predict": {"metric": "cifar10_test", "initial": 5, "per_round": 10, "rounds": 2, "pool_size": 1500},
              "store": {"path": str(tmp_path / "d.db")}}
    result = run(config)
    with Store(tmp_path / "d.db") as store:
        rounds = store.rounds(result.id)
    assert [r.metrics["labels"] for r in rounds] == [5, 15, 25]
    assert len(set(rounds[-1].labelled)) == 25 and rounds[-1].metrics["kendall_tau"] > 0
