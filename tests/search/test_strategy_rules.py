"""Scripted ask/tell checks of each strategy's defining rule, with results chosen by the test."""

from __future__ import annotations

import math

import pytest

from nasplug.core.interfaces.strategy import Told
from nasplug.core.options import build_config
from nasplug.core.testing.toy import ToySpace
from nasplug.search.dsm_nas import DSMNAS
from nasplug.search.local_search import LocalSearch
from nasplug.search.reinforce import Reinforce


def _told(arch, fitness):
    return Told(arch, fitness, fitness)


def _dsm(**options):
    strategy = DSMNAS(build_config(DSMNAS.Config, options, "strategy"), space=ToySpace(), seed=5)
    first = strategy.ask(strategy.k)
    strategy.tell([_told(a, float(10 * i)) for i, a in enumerate(first)])  # centres 0, 10, 20, 30
    return strategy


def test_dsm_nas_replaces_a_centre_only_with_a_better_child():
    strategy = _dsm()
    before = [(c.arch, c.fitness) for c in strategy.centres]
    (child,) = strategy.ask(1)
    k = strategy._pending[0]
    strategy.tell([_told(child, before[k][1] - 1.0)])  # worse than its centre: nothing moves
    assert [(c.arch, c.fitness) for c in strategy.centres] == before
    (child,) = strategy.ask(1)
    k = strategy._pending[0]
    strategy.tell([_told(child, before[k][1] + 5.0)])  # better: it takes centre k's place, nothing else moves
    after = [(c.arch, c.fitness) for c in strategy.centres]
    assert after[k] == (child, before[k][1] + 5.0)
    assert [a for i, a in enumerate(after) if i != k] == [b for i, b in enumerate(before) if i != k]
    assert strategy.results()["iterations"] == 2  # one per told child, the initial centres not counted


def test_dsm_nas_rewards_the_improvement_over_the_centre():
    strategy = _dsm()
    scale = strategy.config.accuracy_scale
    (child,) = strategy.ask(1)
    k = strategy._pending[0]
    centre = strategy.centres[k].fitness
    strategy.tell([_told(child, centre + 7.0)])
    assert strategy.baseline == pytest.approx(7.0 * scale)  # first reward: acc_child - acc_centre
    (child,) = strategy.ask(1)
    k = strategy._pending[0]
    centre = strategy.centres[k].fitness
    strategy.tell([_told(child, centre - 3.0)])
    decay = strategy.config.baseline_decay
    assert strategy.baseline == pytest.approx(decay * 7.0 * scale + (1 - decay) * (-3.0 * scale))
    absolute = _dsm(reward="absolute")
    (child,) = absolute.ask(1)
    absolute.tell([_told(child, 42.0)])
    assert absolute.baseline == pytest.approx(42.0 * absolute.config.accuracy_scale)


def _first_order_change(strategy, quantity, tell):
    """How ``quantity`` (a tensor of the pending sample) changes to first order under the
    controller update that ``tell()`` makes: sum of d(quantity)/d(theta) * delta theta."""
    import torch

    params = [p for p in strategy.controller.parameters() if p.requires_grad]
    grads = torch.autograd.grad(quantity, params, retain_graph=True, allow_unused=True)
    before = [p.detach().clone() for p in params]
    tell()
    return sum(float((g * (p.detach() - b)).sum()) for g, p, b in zip(grads, params, before) if g is not None)


def test_dsm_nas_policy_gradient_raises_the_probability_of_an_improving_edit():
    strategy = _dsm(entropy_weight=0.0)
    (child,) = strategy.ask(1)
    strategy.tell([_told(child, strategy.centres[strategy._pending[0]].fitness + 10.0)])  # baseline: 10 x scale
    # +30 beats the moving baseline (advantage > 0); +2 is an improvement but below it (advantage < 0)
    for delta, sign in ((+30.0, 1), (+2.0, -1), (-40.0, -1)):
        (child,) = strategy.ask(1)
        k, logp, _ = strategy._pending
        centre = strategy.centres[k].fitness
        change = _first_order_change(strategy, logp, lambda: strategy.tell([_told(child, centre + delta)]))
        assert sign * change > 0, f"reward {delta:+}: log-probability of the sampled edits changed by {change:+.2e}"


def test_dsm_nas_entropy_bonus_raises_the_entropy():
    strategy = _dsm(entropy_weight=1.0)
    (child,) = strategy.ask(1)
    _, _, entropy = strategy._pending
    # the first reward is the baseline itself: zero advantage, only the entropy term moves the controller
    change = _first_order_change(strategy, entropy, lambda: strategy.tell([_told(child, 123.0)]))
    assert change > 0


def test_dsm_nas_punishes_a_failed_child_by_its_centres_accuracy():
    strategy = _dsm()
    scale = strategy.config.accuracy_scale
    (child,) = strategy.ask(1)
    strategy.centres[strategy._pending[0]].fitness = 5.0
    strategy.tell([_told(child, float("-inf"))])
    assert strategy.baseline == pytest.approx(-5.0 * scale)
    other = _dsm()
    (child,) = other.ask(1)
    other.centres[other._pending[0]].fitness = float("-inf")
    other.tell([_told(child, float("nan"))])
    assert other.baseline == pytest.approx(-1.0 * scale)


def test_dsm_nas_in_place_drift_moves_the_centre_to_every_child():
    strategy = _dsm(inplace_drift=True, update_subspaces=False)
    (child,) = strategy.ask(1)
    k = strategy._pending[0]
    fitness = strategy.centres[k].fitness
    strategy.tell([_told(child, fitness - 50.0)])  # worse, yet the drifting centre follows it
    centre = strategy.centres[k]
    assert centre.arch == child and centre.positions == list(strategy.space.to_positions(child))
    assert centre.fitness == fitness  # its recorded accuracy is the original centre's


def test_dsm_nas_keeps_a_centre_when_the_child_only_ties_it():
    strategy = _dsm()
    before = [(c.arch, c.fitness) for c in strategy.centres]
    (child,) = strategy.ask(1)
    strategy.tell([_told(child, before[strategy._pending[0]][1])])
    assert [(c.arch, c.fitness) for c in strategy.centres] == before


def test_reinforce_raises_the_probability_of_a_rewarded_action():
    import torch

    space = ToySpace()
    strategy = Reinforce(build_config(Reinforce.Config, {"lr": 0.1}, "strategy"), space=space, seed=0)
    (first,) = strategy.ask(1)
    strategy.tell([_told(first, 0.0)])  # sets the baseline at 0
    (arch,) = strategy.ask(1)
    positions = space.to_positions(arch)
    with torch.no_grad():
        before = strategy._distribution().log_prob(torch.tensor(positions)).sum().item()
    strategy.tell([_told(arch, 10.0)])  # above the baseline: its log-probability must rise
    with torch.no_grad():
        after = strategy._distribution().log_prob(torch.tensor(positions)).sum().item()
    assert after > before
    (arch,) = strategy.ask(1)
    positions = space.to_positions(arch)
    with torch.no_grad():
        before = strategy._distribution().log_prob(torch.tensor(positions)).sum().item()
    strategy.tell([_told(arch, -100.0)])  # far below the baseline: it must fall
    with torch.no_grad():
        after = strategy._distribution().log_prob(torch.tensor(positions)).sum().item()
    assert after < before


def test_local_search_moves_only_to_a_better_neighbour():
    space = ToySpace()
    strategy = LocalSearch(build_config(LocalSearch.Config, {"initial": 1}, "strategy"), space=space, seed=0)
    (start,) = strategy.ask(1)
    strategy.tell([_told(start, 50.0)])
    neighbours = set(space.neighbours(start))
    asked = []
    while len(asked) < len(neighbours):
        batch = strategy.ask(len(neighbours))
        asked += batch
        # every neighbour is worse except one, which is better
        strategy.tell([_told(a, 60.0 if a == sorted(neighbours)[3] else 40.0) for a in batch])
    assert set(asked) == neighbours  # the whole neighbourhood was evaluated from the start
    assert strategy.current.arch == sorted(neighbours)[3] and strategy.current.fitness == 60.0
    second = set(space.neighbours(strategy.current.arch))
    asked = []
    while len(asked) < len(second):
        batch = strategy.ask(len(second))
        asked += batch
        strategy.tell([_told(a, 10.0) for a in batch])  # nothing better: no move, a restart follows
    assert strategy.current.fitness == 60.0 and strategy._restart_pending
    assert not math.isnan(strategy.current.fitness)


def _dominates(a, b):
    """``a`` and ``b`` are (fitness to maximise, secondary to minimise)."""
    return a[0] >= b[0] and a[1] <= b[1] and a != b


def test_nsga2_keeps_the_non_dominated_front():
    from nasplug.search.nsga2 import NSGA2

    space = ToySpace(ToySpace.Config(positions=4, choices=4))
    strategy = NSGA2(build_config(NSGA2.Config, {"population": 8}, "strategy"), space=space, seed=3)
    scripted, sizes = {}, []
    for generation in range(4):
        batch = strategy.ask(8)
        results = []
        for arch in batch:
            digits = [int(ch) for ch in arch]
            # fitness and cost pull against each other: a real trade-off with a known front
            fitness, params = float(sum(digits) + digits[0]), float(sum(d * d for d in digits) - 2 * digits[3])
            scripted[arch] = (fitness, params)
            results.append(Told(arch, fitness, fitness, info={"params": params}))
        strategy.tell(results)
        expected = {a for a, v in scripted.items() if not any(_dominates(w, v) for w in scripted.values())}
        front = strategy.front()
        assert {row["arch"] for row in front} == expected
        assert [row["params"] for row in front] == sorted(row["params"] for row in front)
        # elitism: the next parent population is filled from the front first (all of it when
        # it fits; otherwise the population is front members only, cut by crowding distance)
        survivors = {space.from_positions(x) for x in strategy.algorithm.pop.get("X").astype(int)}
        assert expected <= survivors if len(expected) <= 8 else survivors <= expected
        sizes.append(len(expected))
    assert min(sizes) < 8 < max(sizes)  # both cases were exercised


def test_predictor_guided_search_queries_the_predicted_best_first():
    from nasplug.search.guided import PredictorGuidedSearch

    space = ToySpace(ToySpace.Config(positions=4, choices=4))
    bench = space.load_benchmark()
    options = {"sampler": "random", "predictor": {"name": "sklearn", "model": "ridge"},
               "initial": 6, "per_round": 6, "rounds": 1}
    strategy = PredictorGuidedSearch(build_config(PredictorGuidedSearch.Config, options, "strategy"), space=space, seed=2)
    labelled = []
    while strategy.ranking is None:
        batch = strategy.ask(6)
        labelled += batch
        strategy.tell([_told(a, bench.query(a, "accuracy")) for a in batch])
    assert len(labelled) == 12
    predicted = dict(zip(strategy.pool, strategy.learning.predictor.predict(strategy.pool)))
    exploit = strategy.ask(10)
    assert not set(exploit) & set(labelled)
    unlabelled = [a for a in strategy.pool if a not in set(labelled)]
    best = sorted(unlabelled, key=lambda a: -predicted[a])[:10]
    assert [predicted[a] for a in exploit] == [predicted[a] for a in best]
    # and the predictor was trained on the labels told: it ranks the truth far better than chance
    from nasplug.core.metrics import spearman

    truth = bench.query_many(unlabelled, "accuracy")
    assert spearman([predicted[a] for a in unlabelled], truth) > 0.5
