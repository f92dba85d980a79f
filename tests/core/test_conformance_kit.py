"""The conformance kit bites: the objective suite on the core's objectives, and the sampler suite's
run-and-resume test against a sampler that breaks the no-state rule."""

import numpy as np
import pytest

from nasplug.core.interfaces.sampler import Sampler
from nasplug.core.objectives import BenchmarkObjective
from nasplug.core.testing import ObjectiveConformance, SamplerConformance


class TestBenchmarkObjective(ObjectiveConformance):
    @pytest.fixture
    def objective_cls(self):
        return BenchmarkObjective

    @pytest.fixture
    def objective_options(self):
        return {"metric": "accuracy"}


class TestBenchmarkObjectiveMinimising(TestBenchmarkObjective):
    @pytest.fixture
    def objective_options(self):
        return {"metric": "accuracy", "direction": "min"}


class Counting(Sampler):
    """Keeps a counter across rounds (forbidden): a resumed run starts it again from zero."""

    def __init__(self, config=None, *, space):
        super().__init__(config, space=space)
        self.calls = 0

    def choose(self, ctx, k):
        self.calls += 1
        return np.roll(ctx.unlabelled, -13 * self.calls)[:k]


class Stateless(Sampler):
    def choose(self, ctx, k):
        return ctx.rng.choice(ctx.unlabelled, size=k, replace=False)


def test_the_sampler_suite_catches_state_kept_between_rounds(tmp_path):
    suite = SamplerConformance()
    suite.test_a_predict_run_resumes_after_interruption_with_the_same_labels(Stateless, {}, tmp_path / "ok")
    with pytest.raises(AssertionError, match="must not keep state between rounds"):
        suite.test_a_predict_run_resumes_after_interruption_with_the_same_labels(Counting, {}, tmp_path / "bad")


class Constant(BenchmarkObjective):
    def evaluate(self, arch):
        import attrs

        return attrs.evolve(super().evaluate(arch), value=1.0)


def test_the_objective_suite_names_the_values_it_rejects(tmp_path):
    suite = ObjectiveConformance()
    from nasplug.core.testing import ToySpace

    space = ToySpace()
    archs = space.sample_many(6, np.random.default_rng(0))
    with pytest.raises(AssertionError, match="gave one value 1.0 to 6 different architectures"):
        suite.test_values_are_finite_and_deterministic(Constant, {"metric": "accuracy"}, space, archs)


def test_a_failing_conformance_test_shows_the_values_it_compared(tmp_path):
    """pytest rewrites the kit's assertions (nasplug-core's pytest11 plugin): a plugin author sees
    both selections, not a bare AssertionError."""
    import os
    import subprocess
    import sys

    (tmp_path / "test_mine.py").write_text('''
import numpy as np
import pytest
from nasplug.core.interfaces.sampler import Sampler
from nasplug.core.testing import SamplerConformance

class Unseeded(Sampler):
    def choose(self, ctx, k):
        return np.random.default_rng().choice(ctx.unlabelled, size=k, replace=False)

class TestUnseeded(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return Unseeded
''')
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py", "-k", "deterministic"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1, done.stdout
    assert "assert [" in done.stdout and "At index 0 diff" in done.stdout, done.stdout[-2000:]
