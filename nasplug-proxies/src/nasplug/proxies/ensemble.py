"""Ensembles of proxies: a rank vote and a weighted sum fitted on a few labelled architectures
(Abdelfattah et al. 2021, Sec. 5; survey 001, Sec. V-D).

A proxy scores one architecture at a time (``score(arch, ctx)``), but a rank vote needs ranks.
:class:`RankVoteProxy` therefore ranks each architecture against a fixed **reference sample** of
the space: the vote is ``sum_p P_p(arch)``, where ``P_p`` is the fraction of the reference
architectures that ``arch`` beats on proxy ``p`` (ties count one half). The reference sample is
drawn and scored once per context (seed, batch, classes, device), so scores are deterministic,
independent of the order in which architectures are scored, and usable in ``score`` and
``search`` runs alike. With a large reference sample the vote converges to the Borda count over
the whole space; :func:`batch_rank_vote` gives the exact vote over a given batch of scores.

:class:`WeightedSumProxy` fits ``sum_p w_p z_p(arch)``: ``z_p`` is proxy ``p``'s direction-adjusted
score through ``sign(v) log(1 + |v|)`` (synflow spans 40 orders of magnitude), standardised on the
labelled architectures; ``w >= 0`` minimises the squared error to the standardised labels with a
small ridge term. Labels come from the space's benchmark (``labelled`` random architectures of its
table, ``metric``) or from the ``labels`` table of the config.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Hashable, Mapping, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.options import number_in, optional_string, part_spec_list, positive_int, spec_name
from nasplug.core.seeding import derive_rng
from nasplug.core.interfaces.capabilities import Benchmarked, require

#: Abdelfattah et al.'s vote: synflow, jacob_cov and snip.
DEFAULT_PROXIES = ("synflow", "jacov", "snip")


def _labels(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    ok = isinstance(value, Mapping) and len(value) >= 3 and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in value.items())
    if not ok:
        raise ValueError(f"{attribute.name}: expected a table of at least 3 architecture strings -> measured values, got {value!r}")


def fitness_of(proxy: Proxy, value: float) -> float:
    """``proxy``'s higher-is-better form of ``value``; non-finite values rank last (``-inf``)."""
    return proxy.fitness(value) if math.isfinite(value) else -math.inf


def percentile_against(reference: np.ndarray, value: float) -> float:
    """The fraction of ``reference`` (sorted) below ``value``, ties counted one half."""
    below = np.searchsorted(reference, value, side="left")
    upto = np.searchsorted(reference, value, side="right")
    return float((below + 0.5 * (upto - below)) / max(len(reference), 1))


def batch_rank_vote(fitness: np.ndarray) -> np.ndarray:
    """The rank vote of a batch: ``fitness`` is (architectures x proxies), higher is better,
    ``-inf`` for failures; each column becomes mid-ranks scaled to [0, 1), summed over proxies."""
    from scipy.stats import rankdata

    fitness = np.asarray(fitness, dtype=float)
    n = len(fitness)
    cols = [(rankdata(np.nan_to_num(col, nan=-np.inf), method="average") - 0.5) / n for col in fitness.T]
    return np.sum(cols, axis=0)


def _context_key(ctx: ProxyContext) -> tuple[Any, ...]:
    """What a cached reference/fit depends on: seed, classes, device and the batch's content."""
    digest = None
    if ctx.batch is not None:
        h = hashlib.sha256()
        for part in ctx.batch:
            arr = part.detach().cpu().numpy() if hasattr(part, "detach") else np.asarray(part)
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        digest = h.hexdigest()
    return (ctx.seed, ctx.num_classes, str(ctx.device), digest)


class _Ensemble(Proxy):
    """Builds the member proxies and declares what the members need."""

    direction = "max"
    cost = "expensive"

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        from nasplug.core.registry import create_part

        self.members = [create_part("proxy", spec, f"proxy.proxies[{i}]", space=space)
                        for i, spec in enumerate(self.config.proxies)]
        self.names = [spec_name(spec) for spec in self.config.proxies]
        # Instance-level needs: the runner asks the instance (a data-free ensemble gets no batch).
        self.needs_data = any(m.needs_data for m in self.members)
        self.needs_labels = any(m.needs_labels for m in self.members)
        self._cache: dict[tuple[Any, ...], Any] = {}

    def member_fitness(self, arch: Hashable, ctx: ProxyContext) -> np.ndarray:
        """Every member's direction-adjusted score of ``arch``."""
        return np.array([fitness_of(m, float(m.score(arch, ctx))) for m in self.members])

    def fitness(self, value: float) -> float:
        return value if math.isfinite(value) else -math.inf


@attrs.frozen
class RankVoteConfig:
    """``proxies``: members (Abdelfattah et al.: synflow, jacov, snip); ``reference``: size of
    the reference sample each architecture is ranked against (ours; 100 keeps the one-off cost
    at 100 scores per member while the percentiles move by at most 1/100)."""

    proxies: list[Any] = attrs.field(factory=lambda: list(DEFAULT_PROXIES), validator=part_spec_list)
    reference: int = attrs.field(default=100, validator=positive_int)


class RankVoteProxy(_Ensemble):
    """vote: rank vote of member proxies, each a percentile against a reference sample (higher is better).

    The score is the sum over members of the fraction of a seeded reference sample of the space
    that the architecture beats (ties count one half)."""

    Config = RankVoteConfig
    needs_data = True
    needs_labels = True

    def reference(self, ctx: ProxyContext) -> list[np.ndarray]:
        """The members' sorted fitness on the reference sample (computed once per context)."""
        key = _context_key(ctx)
        if key not in self._cache:
            size = self.space.size()
            n = self.config.reference if size is None else min(self.config.reference, size)
            archs = self.space.sample_many(n, derive_rng(ctx.seed, "vote-reference"))
            table = np.array([self.member_fitness(a, ctx) for a in archs])
            self._cache[key] = [np.sort(col) for col in table.T]
        return self._cache[key]

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        reference = self.reference(ctx)
        values = self.member_fitness(arch, ctx)
        return float(sum(percentile_against(ref, v) for ref, v in zip(reference, values)))


@attrs.frozen
class WeightedSumConfig:
    """``labelled``: architectures drawn from the benchmark's table and labelled with
    ``metric`` (default: the benchmark's first metric); ``labels``: a table of architecture
    string -> measured value used instead of the benchmark; ``ridge``: L2 strength on the
    weights (standardised units); ``benchmark_path``: where the benchmark lives (default
    ``$NASPLUG_BENCHMARKS``)."""

    proxies: list[Any] = attrs.field(factory=lambda: list(DEFAULT_PROXIES), validator=part_spec_list)
    labelled: int = attrs.field(default=20, validator=positive_int)
    metric: str | None = attrs.field(default=None, validator=optional_string)
    labels: Any = attrs.field(default=None, validator=_labels)
    ridge: float = attrs.field(default=1e-2, validator=number_in(0, None))
    benchmark_path: str | None = attrs.field(default=None, validator=optional_string)

    def __attrs_post_init__(self) -> None:
        if self.labels is None and self.labelled < 3:
            raise ValueError(f"labelled: expected at least 3 labelled architectures to fit weights, got {self.labelled}")


def _squash(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def fit_nonnegative_weights(z: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """``w >= 0`` minimising ``|z w - y|^2 + ridge |w|^2`` (scipy's NNLS on the augmented system)."""
    from scipy.optimize import nnls

    k = z.shape[1]
    a = np.vstack([z, math.sqrt(ridge) * np.eye(k)])
    b = np.concatenate([y, np.zeros(k)])
    w, _ = nnls(a, b)
    return w


@attrs.define
class WeightedFit:
    """A fitted weighted sum: per-member transform (mean, std, floor) and weights."""

    names: list[str]
    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    floor: np.ndarray
    archs: list[str]

    def standardise(self, fitness: np.ndarray) -> np.ndarray:
        squashed = _squash(np.where(np.isfinite(fitness), fitness, 0.0))
        z = (squashed - self.mean) / self.std
        return np.where(np.isfinite(fitness), z, self.floor)

    def predict(self, fitness: np.ndarray) -> float:
        return float(self.standardise(fitness) @ self.weights)


class WeightedSumProxy(_Ensemble):
    """weighted: member proxies summed with weights fitted on a few labelled architectures (higher is better).

    Members are log-scaled and standardised; the weights are non-negative least squares."""

    Config = WeightedSumConfig
    needs_data = True
    needs_labels = True

    def _labelled(self, ctx: ProxyContext) -> tuple[list[Any], np.ndarray]:
        c = self.config
        if c.labels is not None:
            return [self.space.parse(a) for a in c.labels], np.array(list(c.labels.values()), dtype=float)
        benchmark = require(self.space, Benchmarked, "proxy 'weighted' (labelled fit)").load_benchmark(c.benchmark_path)
        metric = c.metric or benchmark.metrics[0]
        benchmark.check_metric(metric)
        pool = benchmark.architectures()
        if c.labelled > len(pool):
            raise ConfigError(f"proxy.labelled = {c.labelled} exceeds the {len(pool)} benchmarked architectures; lower it")
        picks = derive_rng(ctx.seed, "weighted-labelled").choice(len(pool), c.labelled, replace=False)
        archs = [pool[int(i)] for i in picks]
        y = benchmark.query_many(archs, metric)
        keep = np.isfinite(y)
        return [a for a, k in zip(archs, keep) if k], y[keep]

    def fit(self, ctx: ProxyContext) -> WeightedFit:
        """The weights for this context (fitted once, then cached)."""
        key = _context_key(ctx)
        if key not in self._cache:
            archs, y = self._labelled(ctx)
            if len(archs) < 3 or np.std(y) == 0:
                raise ConfigError("weighted proxy needs at least 3 labelled architectures with different values; add labels")
            table = np.array([self.member_fitness(a, ctx) for a in archs])
            finite = np.isfinite(table)
            squashed = _squash(np.where(finite, table, 0.0))
            mean = np.array([col[ok].mean() if ok.any() else 0.0 for col, ok in zip(squashed.T, finite.T)])
            std = np.array([col[ok].std() if ok.sum() > 1 else 0.0 for col, ok in zip(squashed.T, finite.T)])
            std = np.where(std > 0, std, 1.0)
            z = (squashed - mean) / std
            floor = np.array([col[ok].min() - 1.0 if ok.any() else -1.0 for col, ok in zip(z.T, finite.T)])
            z = np.where(finite, z, floor)
            target = (y - y.mean()) / y.std()
            weights = fit_nonnegative_weights(z, target, self.config.ridge)
            self._cache[key] = WeightedFit(self.names, weights, mean, std, floor,
                                           [self.space.canonical(a) for a in archs])
        return self._cache[key]

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        fitted = self.fit(ctx)
        return fitted.predict(self.member_fitness(arch, ctx))


__all__: Sequence[str] = ["RankVoteProxy", "WeightedSumProxy", "batch_rank_vote", "fit_nonnegative_weights"]
