"""``nsga2_de``: FT-ScoreNet's NSGA-II-with-DE search as a registered strategy on any positional
space. It must reproduce the search as it ran inside nasplug-proxies (a reference recorded from
that implementation, ``data/nsga2_de_reference.json``), run through the real runner, and keep
its defining rules (DE on ordered positions only, survivors non-dominated first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasplug.core.drive import drive
from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.interfaces.strategy import Told
from nasplug.core.options import build_config
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.testing import ToySpace
from nasplug.search.nsga2_de import NSGA2DE, crowding_distance, snap

pytest.importorskip("nasplug.spaces.zen_resnet")
from nasplug.spaces.zen_resnet.space import ZenResNetSpace  # noqa: E402

REFERENCE = json.loads((Path(__file__).parent / "data" / "nsga2_de_reference.json").read_text())


def stand_in(arch: Any) -> float:
    """A cheap objective: deep, wide-bottleneck networks score high."""
    return float(sum(b.sub_layers * b.bottleneck for b in arch.blocks))


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_reproduces_the_reference_implementation(case):
    size, seed = case.split("@")
    population, generations = map(int, size.split("x"))
    space = ZenResNetSpace()
    config = build_config(NSGA2DE.Config, {"population": population, "generations": generations}, "strategy")
    strategy = NSGA2DE(config, space=space, seed=int(seed))
    drive(strategy, stand_in)  # a whole generation per ask, repeats answered, as the runner does
    result, ref = strategy.results(), REFERENCE[case]
    front = [{"arch": r["arch"], "score": r["score"], "size": int(r["model_size"])} for r in result["front"]]
    assert front == ref["front"]
    assert result["best"]["arch"] == ref["best"]["arch"] and result["evaluations"] == ref["evaluations"]
    assert [h["best_score"] for h in result["history"]] == [h["best_score"] for h in ref["history"]]


class StandIn(Objective):
    """The stand-in score as a search objective."""

    def evaluate(self, arch: Any) -> Evaluation:
        return Evaluation(value=stand_in(self.space.parse(arch)))


def test_runs_through_the_runner_until_its_generations_end(tmp_path):
    reg = Registry()
    reg.register("objective", "stand-in", StandIn)
    config = {"kind": "search", "seed": 1, "space": "zen_resnet",
              "strategy": {"name": "nsga2_de", "population": 10, "generations": 2},
              "objective": "stand-in", "search": {"queries": 1000}, "store": {"path": str(tmp_path / "z.db")}}
    result = run(config, registry=reg).result
    assert result["queries"] < 1000  # the strategy ended the search, not the budget
    front = result["strategy"]["front"]
    assert front and all(r["model_size"] <= 1_000_000 for r in front)
    for r in front:  # mutually non-dominated, both maximised
        assert not any(o["score"] >= r["score"] and o["model_size"] >= r["model_size"] and o != r for o in front)
    assert result["strategy"]["best"] in front and len(result["strategy"]["history"]) == 2


def _first_generation(options: dict) -> tuple[NSGA2DE, list[tuple[int, ...]]]:
    space = ZenResNetSpace()
    strategy = NSGA2DE(build_config(NSGA2DE.Config, {"population": 8, "generations": 1, **options}, "strategy"),
                       space=space, seed=3)
    archs = strategy.ask(strategy.ready())
    strategy.tell([Told(a, stand_in(a), stand_in(a)) for a in archs])
    return strategy, [ind.positions for ind in strategy.population]


def test_without_crossover_or_mutation_children_are_copies_of_tournament_winners():
    strategy, parents = _first_generation({"ga_crossover": 0.0, "ga_mutation": 0.0, "de_crossover": 0.0})
    assert all(child.positions in parents for child in strategy.batch)


def test_de_changes_only_ordered_positions():
    strategy, parents = _first_generation({"ga_crossover": 0.0, "ga_mutation": 0.0, "de_crossover": 1.0})
    from nasplug.spaces.zen_resnet.space import GENE_KINDS

    assert {GENE_KINDS[i] for i in strategy.ordered} == {"channels", "bottleneck", "sub_layers"}
    categorical = strategy.categorical
    parent_parts = {tuple(p[i] for i in categorical) for p in parents}
    assert all(tuple(c.positions[i] for i in categorical) in parent_parts for c in strategy.batch)
    assert any(c.positions not in parents for c in strategy.batch)  # DE moved ordered genes


def test_survivors_are_the_best_ranked_of_parents_and_children():
    from nasplug.search.nsga2_de import rank_and_crowd

    strategy, _ = _first_generation({})
    merged = list(strategy.population) + list(strategy.batch)
    archs = strategy.ask(strategy.ready())
    strategy.tell([Told(a, stand_in(a), stand_in(a)) for a in archs])
    kept = strategy.population
    rank_and_crowd(merged)  # recomputed from the objectives alone
    dropped = [m for m in merged if not any(m is k for k in kept)]
    assert len(kept) == 8 and len(dropped) == 8
    worst_kept = max((k.rank, -k.crowding) for k in kept)
    assert all((d.rank, -d.crowding) >= worst_kept for d in dropped)
    assert any(k.rank == 0 for k in kept) and all(d.rank > 0 or d.crowding <= min(k.crowding for k in kept if k.rank == 0)
                                                   for d in dropped)


def test_runs_on_a_space_without_ordered_positions():
    space = ToySpace()
    strategy = NSGA2DE(build_config(NSGA2DE.Config, {"population": 8, "generations": 2, "secondary": "latency"},
                                    "strategy"), space=space, seed=0)
    assert strategy.ordered == [] and strategy.categorical == list(range(6))
    bench = space.load_benchmark()
    while archs := strategy.ask(8):
        strategy.tell([Told(a, bench.query(a, "accuracy"), 0.0, {"latency": bench.query(a, "latency")}) for a in archs])
    front = strategy.results()["front"]
    assert front and all(space.contains(r["arch"]) for r in front) and len(strategy.history) == 2


def test_secondary_must_exist():
    from nasplug.core.errors import ConfigError

    with pytest.raises(ConfigError, match="model_size"):
        NSGA2DE(build_config(NSGA2DE.Config, {}, "strategy"), space=ToySpace(), seed=0)


def test_de_snapping_and_raw_crowding_distance():
    rng = np.random.default_rng(0)
    grid = (8, 16, 24)
    assert snap(-5, grid, rng) == 8 and snap(99, grid, rng) == 24 and snap(16.0, grid, rng) == 16
    assert {snap(12.5, grid, rng) for _ in range(50)} == {8, 16}
    d = crowding_distance(np.array([[0.0, 10.0], [1.0, 5.0], [3.0, 0.0]]))
    assert np.isinf(d[0]) and np.isinf(d[2]) and d[1] == pytest.approx(3.0 + 10.0)
