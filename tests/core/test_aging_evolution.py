"""The core's aging evolution (REA, proxy-REA and DPS share it): scripted ask/tell checks of its
defining rules, and the runner evaluating its random initial population as one batch."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.core.evolution import AgingEvolution
from nasplug.core.hookspecs import hookimpl
from nasplug.core.interfaces.strategy import Told
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.testing import ToySpace


class _Recorder:
    """A space whose mutate returns ``child-of-<parent>``, so the chosen parent is visible."""

    def __init__(self):
        self.toy = ToySpace()

    def sample(self, rng):
        return self.toy.sample(rng)

    def mutate(self, arch, rng):
        return f"child-of-{arch}"


def _told(arch, fitness):
    return Told(arch, fitness, fitness)


def test_the_tournament_takes_the_best_sampled_member_and_the_oldest_dies():
    space = _Recorder()
    evo = AgingEvolution(AgingEvolution.Config(population_size=4, sample_size=4), space=space, seed=0)
    assert evo.ready() == 4
    first = evo.ask(10)
    assert len(first) == 4 and evo.ready() == 0  # never more than the initial population
    evo.tell([_told("a", 1.0), _told("b", 5.0), _told("c", 3.0), _told("d", 2.0)])
    assert evo.ask(1) == ["child-of-b"]  # tournament of all 4: the fittest
    evo.tell([_told("e", 0.0)])
    assert [t.arch for t in evo.population] == ["b", "c", "d", "e"]  # "a", the oldest, died
    evo.tell([_told("f", 0.0)])
    assert [t.arch for t in evo.population] == ["c", "d", "e", "f"]  # the best dies too, by age
    assert evo.ask(1) == ["child-of-c"]


def test_the_initial_population_is_asked_in_parts_without_overshooting():
    evo = AgingEvolution(AgingEvolution.Config(population_size=5, sample_size=2), space=ToySpace(), seed=0)
    assert len(evo.ask(3)) == 3 and evo.ready() == 2
    assert len(evo.ask(10)) == 2 and evo.ready() == 0


def test_a_tournament_smaller_than_the_population_samples_without_replacement():
    space = _Recorder()
    evo = AgingEvolution(AgingEvolution.Config(population_size=5, sample_size=2), space=space, seed=3)
    evo.ask(5)
    members = [_told(str(i), float(i)) for i in range(5)]
    evo.tell(members)
    rng = np.random.default_rng(3)
    for _ in range(5):
        space.toy.sample(rng)  # the initial draws
    expected = []
    for _ in range(20):
        picks = rng.choice(5, size=2, replace=False)
        expected.append(f"child-of-{max(picks)}")
    got = [evo.ask(1)[0] for _ in range(20)]
    assert got == expected
    assert "child-of-0" not in got  # the worst member can never win a tournament of two distinct


def test_the_runner_evaluates_the_initial_population_as_one_batch(tmp_path):
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "aging", AgingEvolution)
    events = []

    class Log:
        @hookimpl
        def nasplug_before_evaluation(self, run, seq, arch):
            events.append(("submit", seq))

        @hookimpl
        def nasplug_after_evaluation(self, run, record):
            events.append(("done", record.seq))

    log = Log()
    plugin_manager().register(log)
    try:
        result = run({"kind": "search", "seed": 2, "space": "toy", "strategy": {"name": "aging", "population_size": 6},
                      "objective": {"name": "benchmark", "metric": "accuracy"}, "search": {"queries": 12},
                      "store": {"path": str(tmp_path / "a.db")}}, registry=reg)
    finally:
        plugin_manager().unregister(log)
    submitted_first = [e for e in events[:6]]
    assert all(kind == "submit" for kind, _ in submitted_first)  # six submitted before any result
    after = events[12:]
    assert after[:2] == [("submit", after[0][1]), ("done", after[0][1])]  # children one at a time
    assert result.result["queries"] == 12


@pytest.mark.parametrize("batch", [1, 3])
def test_batching_the_initial_population_changes_no_result(tmp_path, batch):
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "aging", AgingEvolution)
    from nasplug.core.store import Store

    config = {"kind": "search", "seed": 5, "space": "toy", "strategy": "aging",
              "objective": {"name": "benchmark", "metric": "accuracy"}, "search": {"queries": 30, "batch_size": batch},
              "store": {"path": str(tmp_path / f"{batch}.db")}}
    out = run(config, registry=reg)
    with Store(out.store) as store:
        seqs = [(e.seq, e.arch, e.value) for e in store.evaluations(out.id)]
    # the same strategy driven one proposal at a time by hand
    space = ToySpace()
    from nasplug.core.seeding import derive_seed

    evo = AgingEvolution(space=space, seed=derive_seed(5, "strategy"))
    bench = space.load_benchmark(None)
    expected, seen = [], {}
    while len(seen) < 30:
        for arch in evo.ask(1):
            key = space.canonical(arch)
            value = seen.setdefault(key, float(bench.query(arch, "accuracy")))
            expected.append((len(expected), key, value))
            evo.tell([_told(arch, value)])
    if batch == 1:  # the whole run equals one proposal at a time
        assert seqs == expected[:len(seqs)]
    else:  # children come batch_size at a time from one population state; the initial 10 match
        assert seqs[:10] == expected[:10] and seqs[10:] != expected[10:len(seqs)]


def test_drive_answers_repeats_from_the_record_and_stops_at_its_budget():
    from nasplug.core.drive import drive

    space = ToySpace()
    bench = space.load_benchmark()
    calls = []

    def evaluate(arch):
        calls.append(arch)
        return bench.query(arch, "accuracy")

    evo = AgingEvolution(AgingEvolution.Config(population_size=5, sample_size=2), space=space, seed=1)
    seen = drive(evo, evaluate, queries=40)
    assert len(seen) == 40 == len(calls) and len(set(calls)) == 40  # nothing evaluated twice
    assert list(seen) == [space.canonical(a) for a in calls]
    target = sorted(seen.values())[-1]
    again = drive(AgingEvolution(AgingEvolution.Config(population_size=5, sample_size=2), space=space, seed=1),
                  lambda a: bench.query(a, "accuracy"), queries=40, until=lambda _k, v: v >= target)
    assert list(again.values())[-1] == target and list(again) == list(seen)[:len(again)]
