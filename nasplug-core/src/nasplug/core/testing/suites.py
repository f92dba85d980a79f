"""Conformance suites: subclass one, provide its fixture, and your part is checked against the
contract the runner relies on. See :mod:`nasplug.core.testing` for the pattern."""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import attrs
import numpy as np
import pytest

from nasplug.core.errors import ArchitectureError, BudgetError, StoreError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.interfaces.sampler import SelectionContext
from nasplug.core.interfaces.strategy import Told
from nasplug.core.metrics import spearman
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry
from nasplug.core.options import build_config
from nasplug.core.testing.parts import UniformRandom
from nasplug.core.testing.toy import ToySpace
from nasplug.core.interfaces.capabilities import Buildable, Enumerable, Graphable, Positional


class SearchSpaceConformance:
    """Provide a ``space`` fixture (an instance)."""

    n_samples = 25

    def _samples(self, space: Any, seed: int = 0, n: int | None = None) -> list[Any]:
        rng = np.random.default_rng(seed)
        return [space.sample(rng) for _ in range(n or self.n_samples)]

    def test_sample_roundtrips_through_canonical(self, space: Any) -> None:
        for arch in self._samples(space):
            key = space.canonical(arch)
            assert isinstance(key, str) and key
            assert space.canonical(space.parse(key)) == key
            assert space.contains(arch)

    def test_sampling_is_deterministic_under_a_seed(self, space: Any) -> None:
        a = [space.canonical(x) for x in self._samples(space, 7)]
        b = [space.canonical(x) for x in self._samples(space, 7)]
        assert a == b

    def test_mutate_returns_a_different_member(self, space: Any) -> None:
        rng = np.random.default_rng(1)
        for arch in self._samples(space):
            child = space.mutate(arch, rng)
            assert space.contains(child)
            assert space.canonical(child) != space.canonical(arch)
            assert space.distance(arch, child) > 0

    def test_neighbours_are_distinct_members(self, space: Any) -> None:
        for arch in self._samples(space, n=5):
            keys = [space.canonical(n) for n in space.neighbours(arch)]
            assert keys, "an architecture should have neighbours"
            assert len(set(keys)) == len(keys)
            assert space.canonical(arch) not in keys
            assert all(space.distance(arch, n) > 0 for n in space.neighbours(arch))

    def test_distance_is_a_metric(self, space: Any) -> None:
        xs = self._samples(space, 3, 12)
        for a in xs:
            assert space.distance(a, a) == 0
            for b in xs:
                assert space.distance(a, b) == space.distance(b, a)
                assert space.distance(a, b) >= 0
                for c in xs[:4]:
                    assert space.distance(a, c) <= space.distance(a, b) + space.distance(b, c) + 1e-9

    def test_parse_rejects_non_members(self, space: Any) -> None:
        with pytest.raises(ArchitectureError):
            space.parse("this is not an architecture")

    def test_enumerate_covers_the_space(self, space: Any) -> None:
        size = space.size()
        if not isinstance(space, Enumerable):
            assert size is None or size > 200_000, "a finite space of a testable size should be Enumerable"
            pytest.skip("space offers no enumeration")
        if size is None or size > 200_000:
            pytest.skip("space is infinite or too large to enumerate in a test")
        keys = {space.canonical(a) for a in space.enumerate()}
        assert len(keys) == size

    def test_graph_form_is_a_labelled_dag(self, space: Any) -> None:
        if not isinstance(space, Graphable):
            pytest.skip("space has no graph form")
        for arch in self._samples(space, n=5):
            g = space.graph(arch)
            n = len(g.ops)
            assert g.adjacency.shape == (n, n)
            assert n <= space.max_nodes
            assert np.all(np.tril(g.adjacency) == 0), "adjacency must be upper triangular (a DAG in topological order)"
            assert set(g.ops) <= set(space.op_vocabulary)

    def test_positional_form_roundtrips(self, space: Any) -> None:
        if not isinstance(space, Positional):
            pytest.skip("space has no positional form")
        choices = space.position_choices()
        for arch in self._samples(space):
            pos = space.to_positions(arch)
            assert len(pos) == len(choices)
            assert all(0 <= p < c for p, c in zip(pos, choices))
            assert space.canonical(space.from_positions(pos)) == space.canonical(arch)
        with pytest.raises(ArchitectureError):
            space.from_positions(tuple(c for c in choices))  # every index one past its range

    def test_to_module_runs_a_forward_pass(self, space: Any) -> None:
        torch = pytest.importorskip("torch")
        if not isinstance(space, Buildable):
            pytest.skip("space does not build networks")
        module = space.to_module(self._samples(space, n=1)[0], num_classes=10)
        with torch.no_grad():
            out = module.eval()(torch.randn(2, 3, 32, 32))
            stages = module.forward_stages(torch.randn(2, 3, 32, 32)) if hasattr(module, "forward_stages") else []
        assert tuple(out.shape) == (2, 10)
        assert all(t.ndim == 4 and t.shape[0] == 2 for t in stages), "forward_stages returns NCHW feature maps"


class _PartSuite:
    """Fixtures common to suites that build a part class on the toy space."""

    @pytest.fixture
    def space(self) -> Any:
        return ToySpace()

    def build(self, cls: type, options: dict[str, Any], **deps: Any) -> Any:
        return cls(build_config(cls.Config, options, cls.__name__), **deps)


class EncoderConformance(_PartSuite):
    """Provide ``encoder_cls`` (and optionally ``encoder_options``, ``space``)."""

    @pytest.fixture
    def encoder_options(self) -> dict[str, Any]:
        return {}

    def test_encodes_to_a_float_matrix(self, encoder_cls: type, encoder_options: dict, space: Any) -> None:
        encoder = self.build(encoder_cls, encoder_options, space=space)
        archs = [space.sample(np.random.default_rng(i)) for i in range(10)]
        x = encoder.encode(archs)
        assert x.ndim == 2 and x.shape[0] == 10 and x.dtype == np.float32
        assert np.all(np.isfinite(x))

    def test_equal_architectures_encode_alike(self, encoder_cls: type, encoder_options: dict, space: Any) -> None:
        encoder = self.build(encoder_cls, encoder_options, space=space)
        arch = space.sample(np.random.default_rng(0))
        again = space.parse(space.canonical(arch))
        x = encoder.encode([arch, again])
        assert np.array_equal(x[0], x[1])

    def test_different_architectures_encode_differently(self, encoder_cls: type, encoder_options: dict, space: Any) -> None:
        encoder = self.build(encoder_cls, encoder_options, space=space)
        arch = space.sample(np.random.default_rng(0))
        x = encoder.encode([arch, space.mutate(arch, np.random.default_rng(1))])
        assert not np.array_equal(x[0], x[1])


class PredictorConformance(_PartSuite):
    """Provide ``predictor_cls`` (and optionally ``predictor_options``, ``min_spearman``). The
    predictor must learn the toy benchmark's accuracy from 300 labels."""

    @pytest.fixture
    def predictor_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def min_spearman(self) -> float:
        return 0.5

    def _data(self, space: Any) -> tuple[list, np.ndarray, list, np.ndarray]:
        bench = space.load_benchmark()
        archs = space.sample_many(800, np.random.default_rng(0))
        y = bench.query_many(archs, "accuracy")
        return archs[:300], y[:300], archs[300:], y[300:]

    def test_learns_a_learnable_target(self, predictor_cls, predictor_options, space, min_spearman) -> None:
        train, y, test, y_test = self._data(space)
        predictor = self.build(predictor_cls, predictor_options, space=space).fit(train, y, seed=0)
        pred = predictor.predict(test)
        assert pred.shape == (len(test),)
        assert spearman(pred, y_test) >= min_spearman

    def test_fit_is_deterministic_under_a_seed(self, predictor_cls, predictor_options, space) -> None:
        train, y, test, _ = self._data(space)
        a = self.build(predictor_cls, predictor_options, space=space).fit(train, y, seed=3).predict(test[:50])
        b = self.build(predictor_cls, predictor_options, space=space).fit(train, y, seed=3).predict(test[:50])
        np.testing.assert_allclose(a, b)

    def test_embed_gives_one_row_per_architecture(self, predictor_cls, predictor_options, space) -> None:
        train, y, test, _ = self._data(space)
        predictor = self.build(predictor_cls, predictor_options, space=space).fit(train, y, seed=0)
        z = predictor.embed(test[:20])
        assert z.ndim == 2 and z.shape[0] == 20 and np.all(np.isfinite(z))

    def test_clone_is_unfitted_with_the_same_config(self, predictor_cls, predictor_options, space) -> None:
        predictor = self.build(predictor_cls, predictor_options, space=space)
        twin = predictor.clone()
        assert type(twin) is type(predictor) and twin.config == predictor.config and twin is not predictor


class _RidgePredictor(Predictor):
    """Test helper: ridge regression on per-slot one-hot digits of the toy space."""

    def _x(self, archs: Any) -> np.ndarray:
        c = self.space.config.choices
        return np.array([np.eye(c)[[int(ch) for ch in a]].ravel() for a in archs], dtype=float)

    def fit(self, archs, y, *, seed=0):
        x = self._x(archs)
        self.w = np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ (np.asarray(y) - np.mean(y)))
        self.b = float(np.mean(y))
        return self

    def predict(self, archs):
        return self._x(archs) @ self.w + self.b

    def embed(self, archs):
        return self._x(archs)


class SamplerConformance(_PartSuite):
    """Provide ``sampler_cls`` (and optionally ``sampler_options``). The sampler selects from a
    256-architecture toy pool with a ridge predictor trained on the labelled set."""

    @pytest.fixture
    def sampler_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def space(self) -> Any:
        return ToySpace(ToySpace.Config(positions=4, choices=4))

    def _context(self, space: Any, labelled: list[int], seed: int = 0, round: int = 1) -> SelectionContext:
        pool = list(space.enumerate())
        bench = space.load_benchmark()
        y = bench.query_many(pool, "accuracy")
        labelled_arr = np.asarray(labelled, dtype=int)
        predictor = _RidgePredictor(space=space).fit([pool[i] for i in labelled], y[labelled_arr]) if labelled else None
        return SelectionContext(space=space, pool=pool, labelled=labelled_arr, labels=y[labelled_arr],
                                predictor=predictor, rng=np.random.default_rng(seed), round=round,
                                new_predictor=lambda: _RidgePredictor(space=space))

    def test_selects_k_distinct_unlabelled(self, sampler_cls, sampler_options, space) -> None:
        sampler = self.build(sampler_cls, sampler_options, space=space)
        labelled = list(range(0, 256, 16))
        chosen = sampler.select(self._context(space, labelled), 10)
        assert len(chosen) == 10 and len(set(chosen)) == 10
        assert not set(chosen) & set(labelled)
        assert all(0 <= i < 256 for i in chosen)

    def test_is_deterministic_under_a_seed(self, sampler_cls, sampler_options, space) -> None:
        labelled = list(range(0, 256, 16))
        a = self.build(sampler_cls, sampler_options, space=space).select(self._context(space, labelled, seed=5), 8)
        b = self.build(sampler_cls, sampler_options, space=space).select(self._context(space, labelled, seed=5), 8)
        assert list(a) == list(b)

    def test_rejects_k_larger_than_the_unlabelled_pool(self, sampler_cls, sampler_options, space) -> None:
        sampler = self.build(sampler_cls, sampler_options, space=space)
        with pytest.raises(BudgetError):
            sampler.select(self._context(space, list(range(250))), 7)

    def test_successive_rounds_never_relabel(self, sampler_cls, sampler_options, space) -> None:
        sampler = self.build(sampler_cls, sampler_options, space=space)
        labelled = list(range(0, 256, 32))
        for round in range(1, 5):
            chosen = sampler.select(self._context(space, labelled, seed=round, round=round), 6)
            assert not set(chosen) & set(labelled)
            labelled += chosen
        assert len(set(labelled)) == len(labelled)

    def test_runs_without_a_predictor_when_it_says_so(self, sampler_cls, sampler_options, space) -> None:
        sampler = self.build(sampler_cls, sampler_options, space=space)
        if sampler.needs_predictor:
            pytest.skip("sampler declares it needs a trained predictor")
        assert len(sampler.select(self._context(space, [], round=0), 5)) == 5

    def _predict_config(self, sampler_options: dict, store: Any, initial_sampler: str = "random") -> dict[str, Any]:
        return {"kind": "predict", "seed": 3, "space": {"name": "toy", "positions": 4, "choices": 4},
                "sampler": {"name": "under-test", **sampler_options}, "predictor": {"name": "ridge-conformance"},
                "predict": {"metric": "accuracy", "initial": 10, "per_round": 8, "rounds": 3, "top_k": [10],
                            "initial_sampler": initial_sampler, "dedupe": "none"},
                "store": {"path": str(store)}}

    def test_a_predict_run_resumes_after_interruption_with_the_same_labels(self, sampler_cls, sampler_options, tmp_path) -> None:
        """Through the real runner and store: a run interrupted mid-way and resumed labels what an
        uninterrupted one labels. A sampler that keeps state between rounds (which a resumed run
        rebuilds from nothing) fails here."""
        from nasplug.core.runs import run
        from nasplug.core.store import Store

        reg = Registry()
        reg.register("space", "toy", ToySpace)
        reg.register("sampler", "under-test", sampler_cls)
        reg.register("predictor", "ridge-conformance", _RidgePredictor)
        full = run(self._predict_config(sampler_options, tmp_path / "full.db"), registry=reg)
        config = self._predict_config(sampler_options, tmp_path / "cut.db")
        with interrupt_after(22), pytest.raises(KeyboardInterrupt):
            run(config, registry=reg)
        rule = "a sampler must not keep state between rounds that it cannot recompute from the SelectionContext"
        try:
            resumed = run(config, registry=reg, resume=True)
        except StoreError as exc:
            raise AssertionError(f"{sampler_cls.__name__}: resuming an interrupted predict run failed ({exc}); {rule}") from None
        with Store(tmp_path / "full.db") as a, Store(tmp_path / "cut.db") as b:
            expected = [e.arch for e in a.evaluations(full.id)]
            got = [e.arch for e in b.evaluations(resumed.id)]
        assert len(expected) == 34, f"the uninterrupted run labelled {len(expected)} architectures, expected 10 + 3 x 8"
        first = next((i for i, (x, y) in enumerate(zip(expected, got)) if x != y), None)
        assert got == expected, (
            f"{sampler_cls.__name__}: the resumed run's label {first} is {got[first] if first is not None and first < len(got) else None}, "
            f"the uninterrupted run's is {expected[first] if first is not None else None}; {rule}")
        assert resumed.result["final"] == full.result["final"]

    #: Behavioural check: after ``behaviour_rounds`` rounds of ``behaviour_k`` picks from
    #: ``behaviour_initial`` random labels, a ridge predictor trained on the sampler's labels must
    #: rank the rest of the pool (Spearman, mean over ``behaviour_seeds``) no worse than one
    #: trained on as many random labels, less ``behaviour_tolerance``.
    #: Measured with these defaults (mean of 6 seeds; random labels 0.936): CoreSet 0.963, DARE
    #: 0.940, BAL 0.927, uncertainty 0.909 (pure uncertainty sampling lags random at a cold
    #: start), while labelling the predicted best (a search rule, not a sampler) gives 0.876.
    #: A sampler that is a search rule rather than a labelling rule (e.g. greedy on the
    #: prediction) sets this False and says why in ``behaviour_reason``.
    behaviour_check: bool = True
    behaviour_reason: str = ""
    behaviour_seeds: int = 6
    behaviour_initial: int = 10
    behaviour_rounds: int = 2
    behaviour_k: int = 5
    behaviour_tolerance: float = 0.05

    def _labels_rank_quality(self, space: Any, seed: int, sampler: Any | None) -> float:
        pool = list(space.enumerate())
        y = space.load_benchmark().query_many(pool, "accuracy")
        rng = np.random.default_rng(seed)
        labelled = [int(i) for i in rng.choice(len(pool), self.behaviour_initial, replace=False)]
        for round in range(1, self.behaviour_rounds + 1):
            if sampler is None:
                rest = np.setdiff1d(np.arange(len(pool)), labelled)
                chosen = [int(i) for i in rng.choice(rest, self.behaviour_k, replace=False)]
            else:
                chosen = [int(i) for i in sampler.select(self._context(space, labelled, seed=seed * 1000 + round, round=round), self.behaviour_k)]
            assert len(set(chosen)) == self.behaviour_k and not set(chosen) & set(labelled)
            labelled += chosen
        rest = np.setdiff1d(np.arange(len(pool)), labelled)
        predictor = _RidgePredictor(space=space).fit([pool[i] for i in labelled], y[labelled])
        return spearman(predictor.predict([pool[i] for i in rest]), y[rest])

    def test_labels_train_a_predictor_as_well_as_random_labels(self, sampler_cls, sampler_options, space) -> None:
        if not self.behaviour_check:
            pytest.skip(self.behaviour_reason or "sampler opts out of the behavioural check")
        ours = [self._labels_rank_quality(space, seed, self.build(sampler_cls, sampler_options, space=space))
                for seed in range(self.behaviour_seeds)]
        random = [self._labels_rank_quality(space, seed, None) for seed in range(self.behaviour_seeds)]
        assert np.mean(ours) >= np.mean(random) - self.behaviour_tolerance, (
            f"a predictor trained on {sampler_cls.__name__}'s labels ranks the pool with mean Spearman "
            f"{np.mean(ours):.3f}, random labels give {np.mean(random):.3f} (tolerance {self.behaviour_tolerance})")


class ProxyConformance(_PartSuite):
    """Provide ``proxy_cls`` (and optionally ``proxy_options``, ``space``)."""

    @pytest.fixture
    def proxy_options(self) -> dict[str, Any]:
        return {}

    def _ctx(self, proxy: Any, seed: int = 0) -> ProxyContext:
        batch = None
        if proxy.needs_data:
            import torch

            g = torch.Generator().manual_seed(0)
            batch = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
        return ProxyContext(seed=seed, batch=batch, num_classes=10)

    def test_declares_direction_and_needs(self, proxy_cls) -> None:
        assert proxy_cls.direction in ("max", "min")
        assert proxy_cls.cost in ("cheap", "expensive")
        assert isinstance(proxy_cls.needs_data, bool) and isinstance(proxy_cls.needs_labels, bool)
        assert not (proxy_cls.needs_labels and not proxy_cls.needs_data)

    def test_scores_are_floats_and_deterministic(self, proxy_cls, proxy_options, space) -> None:
        proxy = self.build(proxy_cls, proxy_options, space=space)
        rng = np.random.default_rng(0)
        for arch in [space.sample(rng) for _ in range(3)]:
            a = proxy.score(arch, self._ctx(proxy, seed=11))
            b = proxy.score(space.parse(space.canonical(arch)), self._ctx(proxy, seed=11))
            assert isinstance(a, float)
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=0)

    def test_fitness_follows_direction(self, proxy_cls, proxy_options, space) -> None:
        proxy = self.build(proxy_cls, proxy_options, space=space)
        assert proxy.fitness(2.0) > proxy.fitness(1.0) if proxy.direction == "max" else proxy.fitness(2.0) < proxy.fitness(1.0)

    #: Set False (with ``direction_reason``) for a proxy whose sign is not fixed by its
    #: definition, e.g. a learned scorer that is only as good as its training.
    direction_check: bool = True
    direction_reason: str = ""
    #: The direction-adjusted Spearman on the reference task must reach this.
    min_direction_rho: float = 0.15

    @pytest.fixture
    def reference_task(self) -> Any:
        """NAS-Bench-201 / CIFAR-10 (see :mod:`nasplug.core.testing.reference`); override with
        a :class:`~nasplug.core.testing.reference.ReferenceTask` of your own space."""
        from nasplug.core.errors import ConfigError
        from nasplug.core.testing.reference import benchmark_reference_task

        try:
            return benchmark_reference_task()
        except ConfigError as exc:
            pytest.skip(f"no reference task: {exc}")

    @pytest.fixture
    def direction_options(self, proxy_options: dict[str, Any]) -> dict[str, Any]:
        """Options for the direction check; defaults to ``proxy_options``. The task's
        ``module_options`` are added when the proxy's config has that field and it is unset."""
        return proxy_options

    def test_declared_direction_agrees_with_trained_accuracy(self, proxy_cls, direction_options, reference_task) -> None:
        if not self.direction_check:
            pytest.skip(self.direction_reason or "proxy opts out of the direction check")
        options = dict(direction_options)
        if "module_options" in {f.name for f in attrs.fields(proxy_cls.Config)} and "module_options" not in options:
            options["module_options"] = dict(reference_task.module_options)
        proxy = self.build(proxy_cls, options, space=reference_task.space)
        rho, finite = reference_task.correlation(proxy)
        adjusted = rho if proxy.direction == "max" else -rho
        assert finite >= 0.8 * len(reference_task.archs), f"only {finite} of {len(reference_task.archs)} scores are finite"
        assert adjusted >= self.min_direction_rho, (
            f"{proxy_cls.__name__} declares direction '{proxy.direction}' but its Spearman with "
            f"{reference_task.name} is {rho:+.3f} over {finite} architectures")


class ObjectiveConformance(_PartSuite):
    """Provide ``objective_cls`` (and optionally ``objective_options``, ``space``, ``archs``).
    The objective is built as a search run builds it and checked for what the runner relies on:
    finite, deterministic values for members, a fitness that follows ``direction``, an early
    ``check``, and a real search run whose best is the best stored value."""

    @pytest.fixture
    def objective_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def space(self) -> Any:
        return ToySpace()

    @pytest.fixture
    def archs(self, space: Any) -> list[Any]:
        return space.sample_many(6, np.random.default_rng(0))

    def make(self, objective_cls: type, options: dict[str, Any], space: Any, seed: int = 0) -> Any:
        return objective_cls(build_config(objective_cls.Config, options, "objective"), space=space, seed=seed)

    def test_values_are_finite_and_deterministic(self, objective_cls, objective_options, space, archs) -> None:
        from nasplug.core.executors.tasks import seeded

        objective = self.make(objective_cls, objective_options, space)
        objective.check()
        values = []
        for arch in archs:
            with seeded(0):
                first = objective.evaluate(arch)
            with seeded(0):
                again = self.make(objective_cls, objective_options, space).evaluate(arch)
            assert isinstance(first.value, float) and math.isfinite(first.value), (
                f"{objective_cls.__name__}.evaluate({space.canonical(arch)}) gave {first.value!r}, expected a finite float")
            assert again.value == first.value, (
                f"{objective_cls.__name__} is not deterministic: {first.value!r} then {again.value!r} for {space.canonical(arch)}")
            assert first.cost >= 0 and isinstance(first.info, dict)
            values.append(first.value)
        assert len(set(values)) > 1, f"{objective_cls.__name__} gave one value {values[0]!r} to {len(archs)} different architectures"

    def test_fitness_follows_the_direction(self, objective_cls, objective_options, space) -> None:
        objective = self.make(objective_cls, objective_options, space)
        assert objective.direction in ("max", "min"), f"direction is {objective.direction!r}, expected 'max' or 'min'"
        low, high = objective.fitness(1.0), objective.fitness(2.0)
        assert (high > low) if objective.direction == "max" else (high < low), (
            f"fitness(1.0) = {low}, fitness(2.0) = {high} under direction {objective.direction!r}")
        assert objective.fitness(math.nan) == -math.inf

    def test_a_search_run_reports_the_best_stored_value(self, objective_cls, objective_options, tmp_path) -> None:
        from nasplug.core.runs import run
        from nasplug.core.store import Store

        reg = Registry()
        reg.register("space", "toy", ToySpace)
        reg.register("objective", "under-test", objective_cls)
        reg.register("strategy", "random-conformance", UniformRandom)
        config = {"kind": "search", "seed": 1, "space": {"name": "toy"}, "strategy": {"name": "random-conformance"},
                  "objective": {"name": "under-test", **objective_options}, "search": {"queries": 12},
                  "store": {"path": str(tmp_path / "o.db")}}
        result = run(config, registry=reg).result
        with Store(tmp_path / "o.db") as store:
            stored = [e for e in store.evaluations(1) if not e.info.get("repeat")]
        assert result["queries"] == len(stored) == 12
        best = max(stored, key=lambda e: e.fitness)
        assert result["best_value"] == best.value and result["best_arch"] == best.arch, (
            f"the run reports {result['best_arch']} = {result['best_value']}, the best stored is {best.arch} = {best.value}")


class _Interrupt:
    """Hook plugin raising ``KeyboardInterrupt`` after ``after`` stored evaluations."""

    def __init__(self, after: int) -> None:
        self.after, self.count = after, 0

    @hookimpl
    def nasplug_after_evaluation(self, run: Any, record: Any) -> None:
        self.count += 1
        if self.count >= self.after:
            raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_after(evaluations: int) -> Iterator[None]:
    """Within the block, a run is interrupted (``KeyboardInterrupt``, as Ctrl-C) once
    ``evaluations`` evaluations have been handed to the store: for resume tests."""
    interrupt = _Interrupt(after=evaluations)
    plugin_manager().register(interrupt)
    try:
        yield
    finally:
        plugin_manager().unregister(interrupt)


class StrategyConformance:
    """Provide ``strategy_cls`` (and optionally ``strategy_options``). The strategy searches the
    toy space's synthetic benchmark through the real runner and store.

    Besides the contract (members, budget, determinism, resume), a behavioural test: over
    ``behaviour_seeds`` seeds of ``behaviour_queries`` queries on the toy benchmark, the strategy's
    mean regret must be below uniform random search's by at least ``behaviour_margin`` (accuracy
    points). A baseline, or a strategy whose guidance the toy benchmark cannot reward (e.g. a proxy
    that does not track it), sets ``beats_random = False`` and gives ``beats_random_reason``."""

    budget = 30
    beats_random = True
    beats_random_reason = ""
    behaviour_seeds = 10
    behaviour_queries = 50
    behaviour_margin = 0.0
    #: Extra options of the toy benchmark objective (e.g. ``{"extra_metrics": ["latency"]}``
    #: for a multi-objective strategy).
    objective_options: dict[str, Any] = {}

    @pytest.fixture
    def strategy_options(self) -> dict[str, Any]:
        return {}

    def _registry(self, strategy_cls: type) -> Registry:
        reg = Registry()
        reg.register("space", "toy", ToySpace)
        reg.register("strategy", "under-test", strategy_cls)
        return reg

    def _config(self, strategy_options: dict, store: Any, seed: int = 0, batch_size: int = 1) -> dict[str, Any]:
        return {"kind": "search", "seed": seed, "space": {"name": "toy"},
                "strategy": {"name": "under-test", **strategy_options},
                "objective": {"name": "benchmark", "metric": "accuracy", **self.objective_options},
                "search": {"queries": self.budget, "batch_size": batch_size}, "store": {"path": str(store)}}

    def _archs(self, store_path: Any, run_id: int) -> list[str]:
        from nasplug.core.store import Store

        with Store(store_path) as store:
            return [e.arch for e in store.evaluations(run_id)]

    def test_beats_random_search_on_the_toy_benchmark(self, strategy_cls, strategy_options) -> None:
        from nasplug.core.drive import drive
        from nasplug.core.objectives import BenchmarkObjective
        from nasplug.core.seeding import derive_seed

        if not self.beats_random:
            pytest.skip(f"declared not to beat random search: {self.beats_random_reason or 'a baseline'}")
        space = ToySpace()
        objective = BenchmarkObjective(build_config(BenchmarkObjective.Config, {"metric": "accuracy", **self.objective_options},
                                                    "objective"), space=space)
        optimum = max(objective.evaluate(a).value for a in space.enumerate())

        def mean_regret(make: Any) -> float:
            regrets = []
            for seed in range(self.behaviour_seeds):
                seen = drive(make(derive_seed(seed, "strategy")), objective.evaluate, queries=self.behaviour_queries)
                regrets.append(optimum - max(seen.values()))
            return float(np.mean(regrets))

        config = build_config(strategy_cls.Config, strategy_options, "strategy")
        ours = mean_regret(lambda seed: strategy_cls(config, space=space, seed=seed))
        random = mean_regret(lambda seed: UniformRandom(space=space, seed=seed))
        assert ours <= random - self.behaviour_margin, (
            f"{strategy_cls.__name__}: mean regret {ours:.3f} over {self.behaviour_seeds} seeds x {self.behaviour_queries} "
            f"queries is not below uniform random search's {random:.3f} by {self.behaviour_margin}")

    def test_ask_tell_proposes_members(self, strategy_cls, strategy_options) -> None:

        space = ToySpace()
        bench = space.load_benchmark()
        strategy = strategy_cls(build_config(strategy_cls.Config, strategy_options, "strategy"), space=space, seed=0)
        for _ in range(15):
            proposals = strategy.ask(2)
            assert 1 <= len(proposals) <= 2
            for arch in proposals:
                assert space.contains(arch)
            strategy.tell([Told(a, bench.query(a, "accuracy"), bench.query(a, "accuracy"),
                                {m: bench.query(a, m) for m in bench.metrics}) for a in proposals])

    def test_respects_the_query_budget(self, strategy_cls, strategy_options, tmp_path) -> None:
        from nasplug.core.runs import run

        result = run(self._config(strategy_options, tmp_path / "s.db"), registry=self._registry(strategy_cls))
        assert result.result["queries"] == self.budget
        archs = self._archs(tmp_path / "s.db", result.id)
        assert len(archs) >= self.budget

    def test_is_deterministic_under_a_seed(self, strategy_cls, strategy_options, tmp_path) -> None:
        from nasplug.core.runs import run

        reg = self._registry(strategy_cls)
        a = run(self._config(strategy_options, tmp_path / "a.db", seed=4), registry=reg)
        b = run(self._config(strategy_options, tmp_path / "b.db", seed=4), registry=reg)
        assert self._archs(tmp_path / "a.db", a.id) == self._archs(tmp_path / "b.db", b.id)
        assert a.result["best_value"] == b.result["best_value"]

    @pytest.mark.parametrize("batch_size", [1, 4])
    def test_resumes_after_interruption_with_the_same_result(self, strategy_cls, strategy_options, tmp_path, batch_size) -> None:
        from nasplug.core.runs import run

        reg = self._registry(strategy_cls)
        full = run(self._config(strategy_options, tmp_path / "full.db", batch_size=batch_size), registry=reg)
        config = self._config(strategy_options, tmp_path / "cut.db", batch_size=batch_size)
        with interrupt_after(self.budget // 2 + 1), pytest.raises(KeyboardInterrupt):
            run(config, registry=reg)
        resumed = run(config, registry=reg, resume=True)
        assert resumed.id == 1
        assert self._archs(tmp_path / "cut.db", 1) == self._archs(tmp_path / "full.db", full.id)
        assert resumed.result["best_arch"] == full.result["best_arch"]
        assert resumed.result["queries"] == full.result["queries"]


class OneShotMethodConformance:
    """Provide ``method_cls`` (and optionally ``method_options``, ``space``, ``supernet_options``).
    The default space is NAS-Bench-201 (``nb201`` from the registry; the suite skips without it)
    with a tiny supernet: the method's paths must be members, drawn deterministically from the
    step's generator, and its updates must train the supernet (the loss on a fixed batch falls)."""

    @pytest.fixture
    def method_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def space(self) -> Any:
        from nasplug.core.registry import registry

        if "nb201" not in registry().names("space"):
            pytest.skip("no space with a supernet installed (nb201 from nasplug-spaces); override the space fixture")
        return registry().create("space", "nb201")

    @pytest.fixture
    def supernet_options(self) -> dict[str, Any]:
        return {"channels": 4, "cells_per_stage": 1}

    def _method(self, method_cls: type, options: dict[str, Any], space: Any) -> Any:

        return method_cls(build_config(method_cls.Config, options, method_cls.__name__), space=space)

    def test_paths_are_members_of_the_space(self, method_cls, method_options, space, supernet_options) -> None:
        method = self._method(method_cls, method_options, space)
        supernet = space.supernet(**supernet_options)
        for seed in range(10):
            paths = method.paths(supernet, np.random.default_rng(seed))
            assert paths, "a step trains at least one path"
            for path in paths:
                assert len(path) == len(supernet.decisions)
                assert all(0 <= int(p) < d for p, d in zip(path, supernet.decisions))
                assert space.contains(supernet.arch_of(path))

    def test_paths_are_deterministic_under_the_step_generator(self, method_cls, method_options, space, supernet_options) -> None:
        method = self._method(method_cls, method_options, space)
        supernet = space.supernet(**supernet_options)
        a = [method.paths(supernet, np.random.default_rng(s)) for s in range(5)]
        b = [method.paths(supernet, np.random.default_rng(s)) for s in range(5)]
        assert a == b and len({tuple(map(tuple, p)) for p in a}) > 1

    def test_updates_train_the_supernet(self, method_cls, method_options, space, supernet_options) -> None:
        import torch

        torch.manual_seed(0)
        method = self._method(method_cls, method_options, space)
        supernet = space.supernet(**supernet_options)
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)
        optimizer = torch.optim.SGD(supernet.parameters(), lr=0.05, momentum=0.9)
        probes = [p for s in range(100, 106) for p in method.paths(supernet, np.random.default_rng(s))]

        def probe_loss() -> float:  # mean loss of fixed paths on the batch (batch statistics, no update)
            with torch.no_grad():
                return float(np.mean([float(torch.nn.functional.cross_entropy(supernet(x, path=p), y)) for p in probes]))

        before = probe_loss()
        losses = [method.train_step(supernet, x, y, optimizer, np.random.default_rng(step), 5.0)["loss"] for step in range(30)]
        assert all(math.isfinite(v) for v in losses)
        after = probe_loss()
        assert after < 0.9 * before, f"the paths' loss on the trained batch went from {before:.3f} to {after:.3f}"

    def test_state_round_trips(self, method_cls, method_options, space) -> None:
        method = self._method(method_cls, method_options, space)
        twin = self._method(method_cls, method_options, space)
        twin.load_state_dict(method.state_dict())
        assert set(twin.state_dict()) == set(method.state_dict())
