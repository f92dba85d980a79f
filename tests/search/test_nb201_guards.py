"""NAS-Bench-201 guards: with the real table, each search strategy must beat random search's mean
regret over 10 seeds at 100 queries. A strategy whose search logic is broken (evicting the
youngest, a tournament that returns the worst member, a DSM-NAS centre replaced by a worse child)
falls to or below random search here, while its membership, budget and determinism tests stay green."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.core.drive import drive
from nasplug.core.registry import registry
from nasplug.core.seeding import derive_seed

pytest.importorskip("nasplug.spaces.nb201")

METRIC = "cifar10_valid_val"
SEEDS = range(10)
QUERIES = 100


@pytest.fixture(scope="module")
def table(benchmarks):
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    optimum = float(np.nanmax(bench.query_many(bench.architectures(), METRIC)))
    return space, bench, optimum


def mean_regret(table, spec) -> float:
    space, bench, optimum = table
    regrets = []
    for seed in SEEDS:
        strategy = registry().create("strategy", spec, space=space, seed=derive_seed(seed, "strategy"))
        seen = drive(strategy, lambda arch: bench.query(arch, METRIC), queries=QUERIES)
        regrets.append(optimum - max(seen.values()))
    return float(np.mean(regrets))


@pytest.fixture(scope="module")
def random_regret(table):
    return mean_regret(table, "random")


@pytest.mark.parametrize("spec", ["rea", "local_search", {"name": "dsm_nas"}], ids=["rea", "local_search", "dsm_nas"])
def test_beats_random_search_on_nb201(table, random_regret, spec):
    regret = mean_regret(table, spec)
    assert regret < random_regret, f"{spec}: mean regret {regret:.3f} is not below random search's {random_regret:.3f}"
