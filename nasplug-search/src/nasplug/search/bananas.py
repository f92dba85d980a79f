"""BANANAS (White, Neiswanger & Savani, AAAI 2021): Bayesian optimisation with an ensemble of
neural predictors on the path encoding.

Loop: ``initial`` random architectures; then, every iteration, fit ``ensemble`` predictors (the
same configuration, different seeds) on every architecture evaluated so far, generate
``candidates`` by mutating the ``parents`` best architectures (1 to ``max_mutations`` edits
each, never one already evaluated), score them with the acquisition function over the
ensemble's mean and standard deviation, and evaluate the best ``per_iteration``.

Defaults are the paper's: 10 initial architectures, 10 per iteration, an ensemble of 5
feed-forward networks of 10 layers of width 20 on the path encoding trained with the mean
absolute error (Adam, learning rate 0.01, 200 epochs, batch 32), independent Thompson sampling,
100 candidates by mutation. Our choices where the paper leaves room: the parents are the 2 best
architectures (NASLib's ``num_arches_to_mutate``), and the predictor trains with our MLP's
cosine warm-restart schedule (the paper's used a constant rate).
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import number_in, one_of, part_spec, positive_int
from nasplug.core.registry import create_part
from nasplug.core.seeding import derive_seed
from nasplug.search.halving import fresh_samples

#: BANANAS' meta neural network on our MLP predictor.
PAPER_PREDICTOR = {"name": "mlp", "encoder": "path", "hidden": [20] * 10, "dropout": 0.0, "loss": "mae",
                   "lr": 0.01, "epochs": 200, "batch_size": 32, "weight_decay": 0.0}


def acquisition(mean: np.ndarray, std: np.ndarray, kind: str, rng: np.random.Generator,
                explore: float = 0.5, best: float | None = None) -> np.ndarray:
    """Scores of candidates (higher is better) from the ensemble's ``mean`` and ``std``:
    ``its`` draws one independent sample from ``N(mean, std)`` per candidate (BANANAS' choice);
    ``ucb`` is ``mean + explore * std``; ``ei`` is the expected improvement over ``best``;
    ``mean`` is pure exploitation."""
    mean, std = np.asarray(mean, dtype=float), np.maximum(np.asarray(std, dtype=float), 0.0)
    if kind == "its":
        return mean + std * rng.standard_normal(len(mean))
    if kind == "ucb":
        return mean + explore * std
    if kind == "ei":
        from scipy.stats import norm

        best = float(np.max(mean)) if best is None else best
        safe = np.where(std > 0, std, 1.0)
        z = (mean - best) / safe
        ei = (mean - best) * norm.cdf(z) + safe * norm.pdf(z)
        return np.where(std > 0, ei, np.maximum(mean - best, 0.0))
    return mean


@attrs.frozen
class BananasConfig:
    """See the module docstring; ``acquisition`` is ``its`` (default), ``ucb`` (with
    ``explore``), ``ei`` or ``mean``; ``predictor`` any registered predictor (a name or a table)."""

    initial: int = attrs.field(default=10, validator=positive_int)
    per_iteration: int = attrs.field(default=10, validator=positive_int)
    ensemble: int = attrs.field(default=5, validator=positive_int)
    candidates: int = attrs.field(default=100, validator=positive_int)
    parents: int = attrs.field(default=2, validator=positive_int)
    max_mutations: int = attrs.field(default=1, validator=positive_int)
    acquisition: str = attrs.field(default="its", validator=one_of("its", "ucb", "ei", "mean"))
    explore: float = attrs.field(default=0.5, validator=number_in(0.0, 100.0))
    predictor: Any = attrs.field(factory=lambda: dict(PAPER_PREDICTOR), validator=part_spec)


class Bananas(Strategy):
    """BANANAS: an ensemble of predictors, mutation candidates, Thompson-sampled batches."""

    Config = BananasConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self._new_predictor()  # option errors surface before the run stores anything
        self.queue: list[Hashable] = []
        self.waiting = 0
        self.evaluated: dict[str, tuple[Hashable, float]] = {}
        self.proposed: set[str] = set()
        self.iteration = 0
        self.history: list[dict[str, Any]] = []

    def _new_predictor(self) -> Any:
        return create_part("predictor", self.config.predictor, "strategy.predictor", space=self.space)

    def _queue_random(self, n: int) -> None:
        """Queue ``n`` random architectures never proposed (the initial sample, or a fallback)."""
        self.queue = fresh_samples(self.space, self.rng, n, self.proposed)
        self.history.append({"iteration": self.iteration, "random": len(self.queue)})
        self.iteration += 1

    def _candidates(self, labelled: list[tuple[Hashable, float]]) -> list[Hashable]:
        c = self.config
        ranked = sorted(labelled, key=lambda v: (-v[1], self.space.canonical(v[0])))
        parents = [arch for arch, _ in ranked[:c.parents]]
        out: dict[str, Hashable] = {}
        tries = 0
        while len(out) < c.candidates and tries < 50 * c.candidates:
            parent = parents[tries % len(parents)]
            tries += 1
            child = parent
            for _ in range(int(self.rng.integers(1, c.max_mutations + 1))):
                child = self.space.mutate(child, self.rng)
            key = self.space.canonical(child)
            if key not in self.proposed and key not in out:
                out[key] = child
        return list(out.values())

    def _iterate(self) -> None:
        """Fit the ensemble and queue this iteration's picks."""
        c = self.config
        labelled = [(a, f) for a, f in self.evaluated.values() if math.isfinite(f)]
        candidates = self._candidates(labelled) if len(labelled) >= 2 else []
        if not candidates:
            self._queue_random(c.per_iteration)
            return
        archs = [a for a, _ in labelled]
        y = np.array([f for _, f in labelled])
        predictions = np.stack([self._new_predictor().fit(archs, y, seed=derive_seed(self.seed, "bananas", self.iteration, m))
                                .predict(candidates) for m in range(c.ensemble)])
        mean, std = predictions.mean(0), predictions.std(0)
        scores = acquisition(mean, std, c.acquisition, self.rng, c.explore, float(np.max(y)))
        keys = [self.space.canonical(a) for a in candidates]
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], keys[i]))[:c.per_iteration]
        self.queue = [candidates[i] for i in order]
        self.proposed.update(keys[i] for i in order)
        self.history.append({"iteration": self.iteration, "candidates": len(candidates),
                             "predicted_best": float(mean[order[0]])})
        self.iteration += 1

    def ready(self) -> int:
        return len(self.queue)

    def ask(self, n: int) -> list[Hashable]:
        if not self.queue and not self.waiting:
            if self.iteration == 0:
                self._queue_random(self.config.initial)
            else:
                self._iterate()
        out, self.queue = self.queue[:n], self.queue[n:]
        self.waiting += len(out)
        return out

    def tell(self, results: Sequence[Told]) -> None:
        for told in results:
            self.evaluated[self.space.canonical(told.arch)] = (told.arch, float(told.fitness))
        self.waiting -= len(results)

    def results(self) -> dict[str, Any]:
        return {"iterations": self.iteration, "history": self.history[-20:]}
