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


@given(st.lists(st.integers(-10**6, 10**6), min_size=3, max_size=40, unique=True))
def test_correlations_are_bounded_and_monotone_invariant(values):
    y = np.array(values, dtype=float)
    assert metrics.spearman(3 * y + 7, y) == pytest.approx(1.0)
    assert -1.0 <= metrics.kendall_tau(y, y[::-1]) <= 1.0
