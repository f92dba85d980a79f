"""Known-answer tests of the ranking and regression metrics."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from nasplug.core import metrics


def test_perfect_and_reversed_rankings():
    x = [1.0, 2.0, 3.0, 4.0]
    assert metrics.kendall_tau(x, x) == pytest.approx(1.0)
    assert metrics.spearman(x, x[::-1]) == pytest.approx(-1.0)
    assert metrics.kendall_tau(x, [1, 2, 4, 3]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant


def test_mse_and_nan_pairs_dropped():
    assert metrics.mse([1, 2, float("nan")], [1, 4, 7]) == pytest.approx(2.0)


def test_precision_at_k_and_top_percent():
    true = np.arange(100.0)
    pred = true.copy()
    pred[99], pred[0] = pred[0], pred[99]  # best predicted last, worst predicted first
    assert metrics.precision_at_k(pred, true, 10) == pytest.approx(0.9)
    assert metrics.top_percent_retrieval(pred, true, 10) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        metrics.precision_at_k(pred, true, 0)


def test_non_finite_predictions_rank_last():
    true = [1.0, 2.0, 3.0]
    assert metrics.precision_at_k([float("nan"), 0.0, 5.0], true, 2) == pytest.approx(1.0)


def test_regret_and_best_so_far():
    assert metrics.regret(93.5, 94.37) == pytest.approx(0.87)
    curve = metrics.best_so_far([float("nan"), 1.0, 0.5, 3.0, float("-inf"), 2.0])
    assert math.isnan(curve[0])
    assert list(curve[1:]) == [1.0, 1.0, 3.0, 3.0, 3.0]


def test_kendall_tau_b_with_ties_against_a_hand_computed_value():
    pred = [1.0, 2.0, 2.0, 4.0]
    true = [1.0, 3.0, 2.0, 3.0]
    # pairs: (0,1) (0,2) (0,3) (2,3) concordant, (1,2) tied in pred, (1,3) tied in true: nc = 4, nd = 0,
    # n0 = 6, n1 = n2 = 1; tau-b = (nc - nd) / sqrt((n0 - n1)(n0 - n2)) = 4 / 5 (tau-c gives 0.75)
    assert metrics.kendall_tau(pred, true) == pytest.approx(0.8)
    assert metrics.kendall_tau([1, 1, 2, 2], [1, 2, 3, 4]) == pytest.approx(4 / math.sqrt(4 * 6))  # tau-c: 1.0


def test_spearman_is_one_on_any_monotone_non_linear_map():
    x = np.array([0.1, 0.5, 2.0, 3.0, 10.0, 40.0])
    assert metrics.spearman(np.exp(x), x) == pytest.approx(1.0)
    assert metrics.spearman(np.log(x), -x) == pytest.approx(-1.0)
    assert metrics.spearman([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]) == pytest.approx(1 - 6 * 2 / (4 * 15))


def test_precision_at_k_on_a_hand_case():
    true = [5.0, 4.0, 3.0, 2.0, 1.0]
    pred = [0.0, 9.0, 8.0, 1.0, 7.0]  # predicted top-3: items 1, 2, 4; true top-3: items 0, 1, 2
    assert metrics.precision_at_k(pred, true, 3) == pytest.approx(2 / 3)
    assert metrics.precision_at_k(pred, true, 1) == 0.0 and metrics.precision_at_k(pred, true, 5) == 1.0


@given(st.lists(st.integers(-10**6, 10**6), min_size=3, max_size=40, unique=True))
def test_correlations_are_exact_on_monotone_and_reversed_maps(values):
    y = np.array(values, dtype=float)
    assert metrics.spearman(3 * y + 7, y) == pytest.approx(1.0)
    assert metrics.kendall_tau(y ** 3, y) == pytest.approx(1.0)
    assert metrics.kendall_tau(-y, y) == pytest.approx(-1.0)


def test_correlations_need_two_finite_pairs():
    assert metrics.kendall_tau([1.0, 2.0], [3.0, 4.0]) == pytest.approx(1.0)
    assert metrics.spearman([1.0, 2.0], [4.0, 3.0]) == pytest.approx(-1.0)
    for f in (metrics.kendall_tau, metrics.spearman):
        assert math.isnan(f([1.0], [1.0]))
        assert math.isnan(f([1.0, float("nan")], [1.0, 2.0]))
    assert math.isnan(metrics.mse([], []))


def test_precision_prefers_the_best_not_the_worst_and_breaks_ties_by_index():
    true = [10.0, 9.0, 1.0, 0.0]
    pred = [8.0, 7.0, 9.0, 6.0]  # predicted best 2 = items 2, 0; predicted worst 2 = items 3, 1
    assert metrics.precision_at_k(pred, true, 2) == pytest.approx(0.5)  # {0} of true {0, 1}
    assert metrics.precision_at_k([5.0, 6.0, 0.0, 1.0], true, 2) == 1.0  # best-first, not worst-first
    assert metrics.precision_at_k([1.0, 1.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0], 1) == 1.0  # tie: lowest index
    assert metrics.precision_at_k([1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 3.0, 1.0], 1) == 0.0
    assert math.isnan(metrics.precision_at_k([], [], 3))


def test_top_percent_retrieval_defaults_to_ten_percent_and_rounds_up():
    true = np.arange(30.0)
    pred = true.copy()
    pred[29], pred[26] = pred[26], pred[29]  # the true best is predicted 4th
    assert metrics.top_percent_retrieval(pred, true) == pytest.approx(2 / 3)  # 10 % of 30: k = 3
    assert metrics.top_percent_retrieval(pred, true, 11) == 1.0  # ceil(3.3) = 4
    swapped = np.arange(101.0)
    swapped[[99, 100]] = swapped[[100, 99]]  # the best predicted second
    assert metrics.top_percent_retrieval(swapped, np.arange(101.0), 1) == 1.0  # k = ceil(1.01) = 2, not 1
    assert metrics.top_percent_retrieval(pred, true, 1) == 0.0  # 1 % is allowed: k = 1


def test_top_percent_retrieval_takes_the_ceiling_and_checks_its_bounds():
    true = np.arange(25.0)
    pred = true.copy()
    pred[24], pred[21] = pred[21], pred[24]  # the true best is predicted 4th
    assert metrics.top_percent_retrieval(pred, true) == pytest.approx(2 / 3)  # default 10 %: ceil(2.5) = 3
    assert metrics.top_percent_retrieval(pred, true, 4) == pytest.approx(0.0)  # ceil(1.0) = 1: found 21, true 24
    assert metrics.top_percent_retrieval(pred, true, 100) == 1.0
    assert metrics.top_percent_retrieval(pred[:10], true[:10], 5) == 1.0  # at least one
    for bad in (0, -1, 100.5):
        with pytest.raises(ValueError, match="percent must be in"):
            metrics.top_percent_retrieval(pred, true, bad)
    assert math.isnan(metrics.top_percent_retrieval([], [], 10))


# --- histogram distance (DARE Fig. 5's check) ------------------------------------------------------
def test_histogram_distance_known_answers():
    from nasplug.core.metrics import histogram_distance

    population = [0.0, 1.0, 2.0, 3.0]  # 3 bins over [0, 3]: [0,1) [1,2) [2,3] hold 1, 1, 2
    assert histogram_distance(population, population, bins=3) == 0.0
    assert histogram_distance([0.0, 1.0, 2.5, 3.0], population, bins=3) == 0.0  # same bin counts
    # everything in the first bin: p = (1/4, 1/4, 1/2), q = (1, 0, 0) -> 0.5 * (3/4 + 1/4 + 1/2) = 0.75
    assert histogram_distance([0.0, 0.5], population, bins=3) == pytest.approx(0.75)
    # one sample in the last bin and one in the middle: q = (0, 1/2, 1/2) -> 0.5 * (1/4 + 1/4 + 0) = 0.25
    assert histogram_distance([1.5, 3.0], population, bins=3) == pytest.approx(0.25)
    # out-of-range samples count in the edge bins (clipped), non-finite values are ignored
    assert histogram_distance([-5.0, 9.0, float("nan")], population, bins=3) == pytest.approx(
        histogram_distance([0.0, 3.0], population, bins=3)) == pytest.approx(0.5 * (0.25 + 0.25 + 0.0))
    assert histogram_distance([1.0], [1.0, 1.0, float("inf")], bins=4) == 0.0  # a constant population
    assert histogram_distance([5.0], [1.0, 1.0], bins=4) == 1.0  # a constant population spans [1, 2]: 5 lands in the top bin
    assert histogram_distance([1.3], [1.0, 1.0], bins=4) == 1.0  # a constant population spans [1, 2]: 4 bins of 0.25
    assert histogram_distance([1.2], [1.0, 1.0], bins=4) == 0.0
    with np.errstate(all="raise"):  # an empty side is answered before any division
        assert math.isnan(histogram_distance([], population)) and math.isnan(histogram_distance([1.0], [float("nan")]))
    # default: 20 bins over the population's range
    many = np.linspace(0.0, 1.0, 201)
    assert histogram_distance(many[:10], many) == pytest.approx(1.0 - 10 / 201, abs=1e-9)  # first of 20 bins holds 10
