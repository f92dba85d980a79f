"""Calibration of a proxy: a monotone (isotonic) or linear map from its scores to accuracy,
fitted on a few labelled architectures, and the error of that map on the others.

A proxy ranks; a user often wants a number on the accuracy scale ("this cell should reach about
93 %"). Isotonic regression keeps the proxy's ranking and only bends its scale (pool-adjacent-
violators, ``scipy.optimize.isotonic_regression``), a line is the cheaper, stiffer choice. Scores
are fitness values (higher is better), so the isotonic map is non-decreasing; between fitted
scores it interpolates linearly and outside them it holds the end values.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

from nasplug.core.errors import BudgetError, ConfigError

METHODS = ("isotonic", "linear")


@attrs.frozen
class Calibration:
    """A fitted map from fitness to the target: ``knots`` (x, y) for isotonic, a line otherwise."""

    method: str
    x: np.ndarray
    y: np.ndarray

    def predict(self, scores: Sequence[float]) -> np.ndarray:
        s = np.asarray(scores, dtype=float)
        if self.method == "linear":
            slope, intercept = self.y
            return slope * s + intercept
        return np.interp(s, self.x, self.y)


def fit_calibration(scores: Sequence[float], targets: Sequence[float], method: str = "isotonic") -> Calibration:
    """Fit the map on finite ``(score, target)`` pairs (at least two distinct scores)."""
    s, t = np.asarray(scores, dtype=float), np.asarray(targets, dtype=float)
    keep = np.isfinite(s) & np.isfinite(t)
    s, t = s[keep], t[keep]
    if method not in METHODS:
        raise ConfigError(f"calibration method {method!r} is not known; use one of {', '.join(METHODS)}")
    if len(np.unique(s)) < 2:
        raise BudgetError(f"calibration needs at least two labelled architectures with different finite scores, got {len(s)}; label more")
    if method == "linear":
        slope, intercept = np.polyfit(s, t, 1)
        return Calibration("linear", np.empty(0), np.array([slope, intercept]))
    from scipy.optimize import isotonic_regression

    order = np.argsort(s, kind="stable")
    fitted = isotonic_regression(t[order], increasing=True).x
    knots, first = np.unique(s[order], return_index=True)
    # equal scores get one value: the mean of their fitted values (already equal within a block)
    values = np.array([fitted[first[i]:(first[i + 1] if i + 1 < len(first) else len(fitted))].mean()
                       for i in range(len(first))])
    return Calibration("isotonic", knots, values)


def calibration_error(scores: Sequence[float], targets: Sequence[float], labels: int, seed: int,
                      method: str = "isotonic") -> float:
    """Mean absolute error, on the architectures left out, of a map fitted on ``labels`` of them
    drawn at random (seeded); NaN when there are too few finite pairs."""
    s, t = np.asarray(scores, dtype=float), np.asarray(targets, dtype=float)
    finite = np.flatnonzero(np.isfinite(s) & np.isfinite(t))
    if len(finite) <= labels or labels < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(finite, size=labels, replace=False)
    rest = np.setdiff1d(finite, chosen)
    try:
        fitted = fit_calibration(s[chosen], t[chosen], method)
    except BudgetError:
        return float("nan")
    return float(np.mean(np.abs(fitted.predict(s[rest]) - t[rest])))
