"""Multi-fidelity evaluation: one objective, an ordered ladder of cheaper-to-dearer fidelities.

A ``multi_fidelity`` objective holds a list of objectives, cheapest first (e.g. a zero-cost proxy,
then a benchmark's 12-epoch validation accuracy, then its 200-epoch one; or real training for 1, 3
and 9 epochs). Strategies that use fidelities (successive halving, Hyperband) propose
:class:`AtFidelity` pairs; the search runner stores each as its own evaluation, keyed
``<architecture>@<level>`` below the top level and by the bare architecture at the top level, and
charges each one its level's cost: the declared ``costs`` (simulated seconds per evaluation, for
benchmark columns that record no training time) or the level objective's own (measured seconds for
real training). Every evaluation at any level is a query of ``search.queries``; ``search.seconds``
budgets their summed cost. A plain architecture proposed to this objective is evaluated at the top
level, so any strategy can run on it.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import attrs

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.options import part_spec_list, spec_name

#: Separates an architecture's canonical string from a lower fidelity level in stored keys.
LEVEL_MARK = "@"


@attrs.frozen
class AtFidelity:
    """A proposal: evaluate ``arch`` at fidelity ``level`` (0 = cheapest) of the run's objective."""

    arch: Hashable
    level: int


def unwrap(proposal: Any) -> tuple[Hashable, int | None]:
    """``(architecture, level)`` of a proposal; ``level`` None for a plain architecture."""
    if isinstance(proposal, AtFidelity):
        return proposal.arch, int(proposal.level)
    return proposal, None


def proposal_key(space: Any, proposal: Any, top: int | None) -> str:
    """The stored key of a proposal: the architecture's canonical string, with ``@level`` appended
    below the ``top`` level (a top-level evaluation is an ordinary evaluation of the architecture)."""
    arch, level = unwrap(proposal)
    key = space.canonical(arch)
    if level is None or top is None or level == top:
        return key
    return f"{key}{LEVEL_MARK}{level}"


def level_of(record_info: dict) -> int | None:
    """The fidelity level an evaluation was made at (from its stored ``info``), None if unknown."""
    level = record_info.get("fidelity")
    return None if level is None else int(level)


def _fidelity_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    part_spec_list(_inst, attribute, value)
    if len(value) < 2:
        raise ValueError(f"{attribute.name}: expected a list of at least two objectives, cheapest first, got {value!r}")


def _costs(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (list, tuple)) or any(
            isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c < 0 for c in value):
        raise ValueError(f"{attribute.name}: expected a list of finite costs >= 0 (seconds per evaluation), got {value!r}")


@attrs.frozen
class MultiFidelityConfig:
    """``fidelities``: the objectives of the ladder, cheapest first, each a name or a table
    (``{name = "benchmark", metric = "cifar10_val_12ep"}``); the last one is the fidelity the
    search optimises. ``costs``: simulated seconds charged per evaluation at each level (one
    number per fidelity), or absent to charge each objective's own cost."""

    fidelities: list = attrs.field(factory=lambda: [{"name": "proxy", "proxy": "naswot"},
                                                    {"name": "benchmark", "metric": "cifar10_val_12ep"}],
                                   validator=_fidelity_list)
    costs: list | None = attrs.field(default=None, validator=_costs)

    def __attrs_post_init__(self) -> None:
        if self.costs is not None and len(self.costs) != len(self.fidelities):
            raise ValueError(f"costs: expected one cost per fidelity ({len(self.fidelities)}), got {len(self.costs)}")


class MultiFidelityObjective(Objective):
    """An ordered ladder of objectives (see the module docstring); its direction is the top
    level's. ``fidelity_names`` labels the levels (``"benchmark:cifar10_val_12ep"``). Every level
    gets the run's objective seed, so levels that train share their data split and differ only
    in their own options (e.g. ``epochs``)."""

    Config = MultiFidelityConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        from nasplug.core.registry import create_part

        self.levels: list[Objective] = []
        for i, spec in enumerate(self.config.fidelities):
            if spec_name(spec) == "multi_fidelity":
                raise ConfigError(f"objective.fidelities[{i}] is multi_fidelity itself; list plain objectives")
            self.levels.append(create_part("objective", spec, f"objective.fidelities[{i}]", space=self.space,
                                           benchmark_path=self.benchmark_path, seed=self.seed,
                                           data=self.data))
        self.direction = self.levels[-1].direction
        self.fidelity_names = [_label(spec) for spec in self.config.fidelities]

    @property
    def top(self) -> int:
        return len(self.levels) - 1

    def check(self) -> None:
        for level in self.levels:
            level.check()

    @property
    def charges_cost(self) -> bool:
        return self.config.costs is not None or all(level.charges_cost for level in self.levels)

    def level(self, proposal: Any) -> int:
        _, level = unwrap(proposal)
        if level is None:
            return self.top
        if not 0 <= level <= self.top:
            raise ConfigError(f"fidelity level {level} is outside the objective's {len(self.levels)} fidelities")
        return level

    def fitness_of(self, proposal: Any, value: float) -> float:
        return self.levels[self.level(proposal)].fitness(value)

    def subtasks(self, proposal: Any) -> int:
        return self.levels[self.level(proposal)].subtasks(unwrap(proposal)[0])

    def evaluate_subtask(self, proposal: Any, index: int) -> Any:
        return self.levels[self.level(proposal)].evaluate_subtask(unwrap(proposal)[0], index)

    def combine(self, proposal: Any, results: list[Any]) -> Evaluation:
        level = self.level(proposal)
        return self._charged(level, self.levels[level].combine(unwrap(proposal)[0], results))

    def evaluate(self, proposal: Any) -> Evaluation:
        level = self.level(proposal)
        return self._charged(level, self.levels[level].evaluate(unwrap(proposal)[0]))

    def _charged(self, level: int, evaluation: Evaluation) -> Evaluation:
        cost = evaluation.cost if self.config.costs is None else float(self.config.costs[level])
        info = {**evaluation.info, "fidelity": level, "fidelity_name": self.fidelity_names[level]}
        if self.config.costs is not None:
            info["own_cost"] = float(evaluation.cost)
        return Evaluation(value=evaluation.value, cost=cost, info=info)


def _label(spec: Any) -> str:
    """``name`` or ``name:detail`` (the metric, the proxy, or the training epochs)."""
    name = spec_name(spec)
    if not isinstance(spec, dict):
        return name
    if spec.get("metric"):
        return f"{name}:{spec['metric']}"
    if spec.get("proxy"):
        return f"{name}:{spec_name(spec['proxy'])}"
    if "epochs" in spec:
        return f"{name}:{spec['epochs']}ep"
    return name


def fidelity_levels(objective: Any) -> Sequence[str] | None:
    """The level names of a multi-fidelity objective, None for any other objective."""
    return getattr(objective, "fidelity_names", None)
