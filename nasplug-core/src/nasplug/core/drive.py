"""Drive a strategy in this process against a plain function: the search loop without a store.

Benches and tests that query a lookup table or an in-memory scorer millions of times use this
instead of writing their own ask/tell loop; a search *run* (:mod:`nasplug.core.runs.search`) is
the same loop with storage, executors, budgets in simulated time and resume. As there, an
architecture proposed again is answered from the record (told with ``info.repeat``) and not
evaluated or counted again.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from nasplug.core.interfaces.strategy import Strategy, Told


def proposal_cap(queries: int | None, max_proposals: int | None = None) -> int:
    """How many proposals a search may ask before it stops: ``max_proposals`` when given, else
    20 x ``queries`` + 100 (repeats are free, so a converged strategy must still end), else 10**6."""
    if max_proposals is not None:
        return max_proposals
    return 20 * queries + 100 if queries else 10**6


def drive(strategy: Strategy, evaluate: Callable[[Hashable], Any], *, queries: int | None = None,
          max_proposals: int | None = None, batch_size: int | None = None,
          until: Callable[[str, float], bool] | None = None) -> dict[str, float]:
    """Ask/tell until the strategy stops, ``queries`` distinct evaluations are made,
    ``max_proposals`` proposals are asked (default: :func:`proposal_cap`, as a search run), or
    ``until(key, value)`` is true for a new evaluation. ``evaluate(arch)`` returns the value to
    maximise, or an :class:`~nasplug.core.interfaces.objective.Evaluation` whose ``info`` is told too
    (e.g. the second objective of a multi-objective strategy).
    ``batch_size``: proposals per ask (default: the strategy's :meth:`~Strategy.ready` batch,
    at least 1). Returns every distinct evaluation, canonical key -> value, in order."""
    space: Any = strategy.space
    limit = proposal_cap(queries, max_proposals)
    seen: dict[str, float] = {}
    infos: dict[str, dict] = {}
    proposals = 0
    while proposals < limit and (queries is None or len(seen) < queries):
        n = batch_size if batch_size is not None else max(1, strategy.ready())
        archs = strategy.ask(min(n, limit - proposals))
        if not archs:
            break
        told = []
        for arch in archs:
            key = space.canonical(arch)
            repeat = key in seen
            if not repeat:
                out = evaluate(arch)
                seen[key] = float(getattr(out, "value", out))
                infos[key] = dict(getattr(out, "info", {}))
                if (until is not None and until(key, seen[key])) or (queries is not None and len(seen) >= queries):
                    return seen
            told.append(Told(arch, seen[key], seen[key], {**infos[key], "repeat": True} if repeat else dict(infos[key])))
            proposals += 1
        strategy.tell(told)
    return seen
