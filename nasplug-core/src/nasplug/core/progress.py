"""Progress bars as a hook plugin: one tqdm bar per run on stderr, silent when stderr is not a
terminal (CI, pipes, logs), so output stays clean where nobody watches."""

from __future__ import annotations

import sys
from typing import Any

from nasplug.core.hookspecs import hookimpl


class ProgressBars:
    """Shows evaluations (search, score), rounds (predict) or epochs (oneshot, with the epoch's
    loss, accuracy and seconds) done out of the run's total."""

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
    def nasplug_after_epoch(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        bar = self._bars.get(run.id)
        if bar is not None:
            bar.set_postfix(loss=f"{metrics.get('train_loss', float('nan')):.3f}",
                            acc=f"{metrics.get('train_accuracy', float('nan')):.1f}",
                            s=f"{metrics.get('seconds', float('nan')):.0f}", refresh=False)
        self._advance(run)

    @hookimpl
    def nasplug_run_end(self, run: Any, result: dict[str, Any]) -> None:
        bar = self._bars.pop(run.id, None)
        if bar is not None:
            bar.close()
