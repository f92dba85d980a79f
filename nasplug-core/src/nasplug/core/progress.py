"""Progress bars as a hook plugin: one tqdm bar per run on stderr, silent when stderr is not a
terminal (CI, pipes, logs), so output stays clean where nobody watches."""

from __future__ import annotations

import sys
from typing import Any

from nasplug.core.hookspecs import hookimpl


class ProgressBars:
    """Shows evaluations (search, score) or rounds (predict) done out of the run's total."""

    def __init__(self) -> None:
        self._bars: dict[int, Any] = {}

    @hookimpl
    def nasplug_run_start(self, run: Any) -> None:
        from tqdm import tqdm

        self._bars[run.id] = tqdm(total=run.total, initial=run.completed, desc=f"run {run.id} {run.kind}",
                                  unit=run.unit, file=sys.stderr, disable=None, leave=False, dynamic_ncols=True)

    def _advance(self, run: Any) -> None:
        bar = self._bars.get(run.id)
        if bar is not None:
            bar.update(run.completed - bar.n)

    @hookimpl
    def nasplug_after_evaluation(self, run: Any, record: Any) -> None:
        self._advance(run)

    @hookimpl
    def nasplug_after_round(self, run: Any, round: int, labelled: list[int], metrics: dict[str, float]) -> None:
        self._advance(run)

    @hookimpl
    def nasplug_run_end(self, run: Any, result: dict[str, Any]) -> None:
        bar = self._bars.pop(run.id, None)
        if bar is not None:
            bar.close()
