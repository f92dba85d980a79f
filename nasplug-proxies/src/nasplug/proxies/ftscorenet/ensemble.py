"""The ensemble of per-space scorers (paper Eq. 4):

    f(x) = sum_i w_i * sigmoid((s_i(x) - mu_i) / sigma_i)

``s_i`` is the scorer trained on space i, ``mu_i`` and ``sigma_i`` the mean and standard
deviation of ``s_i`` over held-out architectures of space i (the paper's "architectures y in
search space i"; where space i has no held-out set the statistics of all held-out architectures
are used), and the weights ``w`` in [0, 1] are fitted with scipy's differential evolution to
maximise the mean Spearman correlation over the held-out sets. The reference repository leaves
this fit out (docs/methods/ftscorenet.md 1.5); the objective and bounds follow the paper, the DE settings are
scipy's defaults (ours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np
import torch
from scipy import optimize, stats

from nasplug.proxies.ftscorenet.scorer import FTScoreNet


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def mean_spearman(values: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> float:
    """Mean Spearman correlation over several (values, targets) sets (NaN sets count as 0)."""
    out = []
    for v, t in zip(values, targets):
        r = stats.spearmanr(v, t).statistic if np.ptp(v) > 0 else 0.0
        out.append(0.0 if not np.isfinite(r) else float(r))
    return float(np.mean(out))


class ScoreEnsemble:
    """Several trained FT-ScoreNets combined by normalised sigmoids and fitted weights."""

    def __init__(self, members: Sequence[FTScoreNet], names: Sequence[str], mu: Sequence[float] | None = None,
                 sigma: Sequence[float] | None = None, weights: Sequence[float] | None = None) -> None:
        if len(members) != len(names) or not members:
            raise ValueError("an ensemble needs one name per member and at least one member")
        m = len(members)
        self.members, self.names = list(members), list(names)
        self.mu = np.zeros(m) if mu is None else np.asarray(mu, dtype=float)
        self.sigma = np.ones(m) if sigma is None else np.asarray(sigma, dtype=float)
        self.weights = np.ones(m) if weights is None else np.asarray(weights, dtype=float)

    def member_scores(self, space: Any, archs: Sequence[Hashable]) -> np.ndarray:
        """Raw scores, shape ``(members, len(archs))``."""
        return np.stack([m.score_many(space, archs) for m in self.members])

    def combine(self, member_scores: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Eq. 4 applied to raw member scores ``(members, n)``."""
        w = self.weights if weights is None else weights
        z = (member_scores - self.mu[:, None]) / np.where(self.sigma > 0, self.sigma, 1.0)[:, None]
        return w @ _sigmoid(z)

    def score_many(self, space: Any, archs: Sequence[Hashable]) -> np.ndarray:
        return self.combine(self.member_scores(space, archs))

    def score(self, space: Any, arch: Hashable) -> float:
        return float(self.score_many(space, [arch])[0])

    def fit(self, member_scores: Sequence[np.ndarray], targets: Sequence[np.ndarray], *,
            own_set: Sequence[int | None] | None = None, seed: int = 0, maxiter: int = 100,
            popsize: int = 15) -> float:
        """Set ``mu``, ``sigma`` and fit ``w`` on held-out sets: ``member_scores[j]`` is the
        ``(members, n_j)`` raw scores of set j, ``targets[j]`` its accuracies, ``own_set[i]``
        the index of member i's own space among the sets (or None). Returns the mean Spearman."""
        m = len(self.members)
        own = list(own_set) if own_set is not None else [None] * m
        pooled = np.concatenate(member_scores, axis=1)
        for i in range(m):
            ref = member_scores[own[i]][i] if own[i] is not None else pooled[i]
            self.mu[i], self.sigma[i] = float(np.mean(ref)), float(np.std(ref)) or 1.0

        def loss(w: np.ndarray) -> float:
            return -mean_spearman([self.combine(s, w) for s in member_scores], targets)

        result = optimize.differential_evolution(loss, [(0.0, 1.0)] * m, seed=seed, maxiter=maxiter,
                                                 popsize=popsize, polish=False, tol=1e-6)
        self.weights = np.asarray(result.x, dtype=float)
        return -float(result.fun)

    # --- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"kind": "ftscorenet-ensemble", "names": self.names, "mu": self.mu.tolist(),
                "sigma": self.sigma.tolist(), "weights": self.weights.tolist(),
                "members": [m.state() for m in self.members]}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state(), path)
        return path

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "ScoreEnsemble":
        members = [FTScoreNet.from_state(s) for s in state["members"]]
        return cls(members, state["names"], state["mu"], state["sigma"], state["weights"])


def load_checkpoint(path: str | Path) -> FTScoreNet | ScoreEnsemble:
    """A scorer or an ensemble saved by ``save``; ``ConfigError`` naming the path when the file
    is missing or is not an FT-ScoreNet checkpoint."""
    from nasplug.core.errors import ConfigError

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"FT-ScoreNet checkpoint not found at {p}; train one (FTScoreNetPredictor.fit(...).save(path)) or fix the path")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ConfigError(f"{p} is not a readable FT-ScoreNet checkpoint ({type(exc).__name__}); point checkpoint at a file saved by FT-ScoreNet") from None
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind == "ftscorenet":
        return FTScoreNet.from_state(state)
    if kind == "ftscorenet-ensemble":
        return ScoreEnsemble.from_state(state)
    raise ConfigError(f"{p} is not an FT-ScoreNet checkpoint (kind {kind!r}); point checkpoint at a file saved by FT-ScoreNet")
