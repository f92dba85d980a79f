"""A run kind defined outside the core: ``census`` evaluates the objective on every ``step``-th
architecture of a finite space (seeded offset) and reports the best; found through the
``nasplug.runs`` entry point that ``test_run_kinds`` installs."""

from __future__ import annotations

from typing import Any

import attrs

from nasplug.core.options import positive_int
from nasplug.core.runs.base import RunContext, RunKind
from nasplug.core.seeding import derive_rng, derive_seed
from nasplug.core.store import EvaluationRecord


@attrs.frozen
class CensusOptions:
    step: int = attrs.field(default=10, validator=positive_int)


class CensusRun(RunKind):
    """census: the objective on every step-th architecture of a finite space, resumable."""

    Config = CensusOptions
    tables = ("objective",)

    def __init__(self, config, registry, space) -> None:
        super().__init__(config, registry, space)
        self.objective = registry.create("objective", config.parts["objective"], section="objective", space=space,
                                         benchmark_path=config.benchmark.path, seed=derive_seed(config.seed, "objective"))
        archs = sorted(space.canonical(a) for a in space.enumerate())
        offset = int(derive_rng(config.seed, "offset").integers(config.options.step))
        self.archs = archs[offset::config.options.step]

    def total(self) -> int:
        return len(self.archs)

    def execute(self, run: RunContext) -> dict[str, Any]:
        done = {r.seq: r for r in run.store.evaluations(run.id)}
        run.completed = len(done)
        records = []
        for seq, arch in enumerate(self.archs):
            if seq not in done:
                run.starting(seq, arch)
                value = float(self.objective.evaluate(self.space.parse(arch)).value)
                done[seq] = EvaluationRecord(run.id, seq, arch, value, self.objective.fitness(value), 0.0, 0.0, {})
                run.record(done[seq])
            records.append(done[seq])
        best = max(records, key=lambda r: r.fitness)
        return {"evaluated": len(records), "best_arch": best.arch, "best_value": best.value}
