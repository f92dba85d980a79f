"""The dashboard's data: read-only views of a :class:`~nasplug.core.store.Store` as plain dicts.

Every function opens nothing itself and writes nothing; charts are downsampled here, on the
server, so a run with hundreds of thousands of evaluations costs the browser a few thousand points.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from typing import Any, Iterator

import numpy as np

from nasplug.core.store import Store, finite

#: At most this many points per drawn series (scatter plots are subsampled, curves thinned).
MAX_POINTS = 2000


def _parts(config: dict[str, Any], kind: str) -> str:
    skip = {"kind", "name", "seed", "seeds", "store", "benchmark", "executor", "data", "fail_share", kind}
    out = []
    for key, value in config.items():
        if key in skip:
            continue
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str):
            out.append(f"{key}={name}")
    return ", ".join(out)


def _progress(run: Any, evaluations: int, rounds: int, epochs: int) -> tuple[int, int | None]:
    """(done, total) in the run kind's unit, from its config (None when the total is open)."""
    c = run.config
    if run.kind == "search":
        return evaluations, (c.get("search") or {}).get("queries", 100)
    if run.kind == "predict":
        return rounds, int((c.get("predict") or {}).get("rounds", 5)) + 1
    if run.kind == "oneshot":
        return epochs, (c.get("oneshot") or {}).get("epochs")
    if run.kind == "tune":
        return evaluations, (c.get("tune") or {}).get("configurations", 200)
    return evaluations, None


def runs_table(store: Store, *, kind: str | None = None, status: str | None = None, text: str | None = None) -> list[dict[str, Any]]:
    """One row per run: id, kind, name, parts, status (``running`` / ``interrupted`` / ...),
    progress, best value, started, duration; filtered by kind, status and a text match."""
    rounds = dict(store._db.execute("SELECT run_id, COUNT(*) FROM rounds GROUP BY run_id").fetchall())
    epochs = dict(store._db.execute("SELECT run_id, COUNT(*) FROM epochs GROUP BY run_id").fetchall())
    # proposals answered from the run's record cost no query; progress counts queries
    repeats = store.repeat_counts()
    out = []
    for run, count, best_fitness, last in store.run_summaries():
        state = store.effective_status(run)
        parts = _parts(run.config, run.kind)
        if (kind and run.kind != kind) or (status and state != status) or \
                (text and text.lower() not in f"{run.id} {run.name} {parts}".lower()):
            continue
        result = run.result or {}
        best = result.get("best_value")
        if best is None and run.kind == "predict":
            best = (result.get("final") or {}).get("kendall_tau")
        if best is None and run.kind == "score":
            first = next(iter((result.get("correlations") or {}).values()), None)
            best = first.get("spearman") if isinstance(first, dict) else None
        if best is None and best_fitness is not None and math.isfinite(best_fitness):
            direction = result.get("objective_direction") or "max"
            best = best_fitness if direction == "max" else -best_fitness
        done, total = _progress(run, count - int(repeats.get(run.id) or 0), rounds.get(run.id, 0), epochs.get(run.id, 0))
        end = run.updated if state in ("finished", "failed") else max(run.updated, last or run.created)
        out.append({"id": run.id, "kind": run.kind, "name": run.name, "parts": parts, "status": state, "seed": run.seed,
                    "evaluations": count, "progress": done, "total": total, "best": best,
                    "started": run.created, "duration": max(0.0, (time.time() if state == "running" else end) - run.created)})
    return finite(out)


def _toml(value: Any, prefix: str = "") -> list[str]:
    """A run's stored config written back as TOML (tables after plain keys, as a user writes it)."""
    lines, tables = [], []
    for key, item in value.items():
        if isinstance(item, dict):
            tables.append((key, item))
        elif item is None:  # TOML has no null: an unset option is left out, as a user leaves it out
            continue
        else:
            lines.append(f"{key} = {json.dumps(item)}")
    for key, item in tables:
        lines += ["", f"[{prefix}{key}]", *_toml(item, f"{prefix}{key}.")]
    return lines


def run_detail(store: Store, run_id: int) -> dict[str, Any]:
    run = store.run(run_id)
    return finite({"id": run.id, "kind": run.kind, "name": run.name, "status": store.effective_status(run), "seed": run.seed,
                    "parts": _parts(run.config, run.kind), "config": run.config, "config_toml": "\n".join(_toml(run.config)).strip() + "\n",
                    "result": run.result, "evaluations": store.count_evaluations(run.id), "created": run.created,
                    "updated": run.updated})


def _thin(x: np.ndarray, *ys: np.ndarray, limit: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """Every ``len/limit``-th point, the last one always kept."""
    if len(x) <= limit:
        return (x, *ys)
    keep = np.unique(np.concatenate([np.linspace(0, len(x) - 1, limit).astype(int), [len(x) - 1]]))
    return (x[keep], *(y[keep] for y in ys))


def best_so_far(store: Store, run_id: int, direction: str = "max") -> dict[str, list]:
    """The best value after each query and after each simulated / wall second: only the points
    where the best changes (plus the last), which is exact and small."""
    cols = store.evaluation_columns(run_id)
    fitness = np.where(np.isfinite(cols["fitness"]), cols["fitness"], -np.inf)
    repeat = np.zeros(len(fitness), dtype=bool)
    if len(fitness):
        # repeats cost nothing; the x axis counts distinct evaluations (queries)
        repeated = store.repeat_seqs(run_id)
        repeat = np.array([int(s) in repeated for s in cols["seq"]])
    fitness, value = fitness[~repeat], cols["value"][~repeat]
    cost, wall = np.cumsum(cols["cost"][~repeat]), np.cumsum(cols["wall"][~repeat])
    if not len(fitness):
        return {"queries": [], "best": [], "seconds": [], "wall": []}
    running = np.maximum.accumulate(fitness)
    improved = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])
    change = np.unique(np.r_[improved, len(running) - 1])
    best_value = value[improved[np.searchsorted(improved, change, side="right") - 1]]
    queries, best, seconds, walls = _thin(change + 1.0, best_value, cost[change], wall[change])
    return finite({"queries": queries.tolist(), "best": best.tolist(), "seconds": seconds.tolist(), "wall": walls.tolist(),
                    "direction": direction})


def scatter(store: Store, run_id: int, metric: str, limit: int = MAX_POINTS) -> dict[str, Any]:
    """Proxy value against a benchmark metric (score runs store it in ``info``), seeded subsample."""
    rows = store._db.execute("SELECT value, info FROM evaluations WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
    if len(rows) > limit:
        pick = np.sort(np.random.default_rng(0).choice(len(rows), limit, replace=False))
        rows = [rows[i] for i in pick]
    xs, ys = [], []
    for value, info in rows:
        truth = json.loads(info).get(metric)
        if value is not None and truth is not None:
            xs.append(value)
            ys.append(truth)
    return finite({"x": xs, "y": ys, "metric": metric, "total": store.count_evaluations(run_id)})


def charts(store: Store, run_id: int) -> dict[str, Any]:
    """What the run page draws, by kind: best-so-far (search, tune), metrics against labels
    (predict), proxy-accuracy scatter (score), training curves (oneshot), the Pareto front
    (multi-objective searches)."""
    run = store.run(run_id)
    out: dict[str, Any] = {"kind": run.kind}
    result = run.result or {}
    if run.kind in ("search", "tune"):
        out["best_so_far"] = best_so_far(store, run_id, result.get("objective_direction", "max"))
        strategy = result.get("strategy") or {}
        front, secondary = strategy.get("front"), strategy.get("secondary")
        if front and secondary:  # a multi-objective search (nsga2): value against the second objective
            out["pareto"] = {"x": [p.get(secondary) for p in front], "y": [p.get("value") for p in front],
                             "arch": [p.get("arch") for p in front], "secondary": secondary}
    if run.kind == "predict":
        rounds = store.rounds(run_id)
        names = [k for k in (rounds[0].metrics if rounds else {}) if not k.endswith("_seconds") and k != "labels"]
        out["rounds"] = {"labels": [r.metrics.get("labels") for r in rounds],
                         **{k: [r.metrics.get(k) for r in rounds] for k in names}}
    if run.kind == "score":
        metrics = list(((run.config.get("score") or {}).get("metrics")) or result.get("correlations", {}).keys())
        out["scatter"] = [scatter(store, run_id, m) for m in metrics]
        out["correlations"] = result.get("correlations")
    if run.kind == "oneshot":
        epochs = store.epochs(run_id)
        keys = sorted({k for e in epochs for k, v in e.items() if isinstance(v, (int, float)) and k != "epoch"})
        out["epochs"] = {"epoch": [e["epoch"] for e in epochs], **{k: [e.get(k) for e in epochs] for k in keys}}
        with_alpha = [e for e in epochs if isinstance(e.get("alpha"), list) and e["alpha"]]
        if with_alpha:  # differentiable methods: the op distribution per edge
            ops = _op_names(run.config, len(with_alpha[-1]["alpha"][0]))
            shares = np.array([np.mean(np.asarray(e["alpha"], dtype=float), axis=0) for e in with_alpha])
            out["alpha"] = {"epoch": [e["epoch"] for e in with_alpha], "ops": ops, "last": with_alpha[-1]["alpha"],
                            "share": {op: shares[:, i].tolist() for i, op in enumerate(ops)}}
    return finite(out)


def _op_names(config: dict[str, Any], count: int) -> list[str]:
    """The space's candidate operations when it names them (``ops``), else op0, op1, ..."""
    try:
        from nasplug.core.registry import registry

        ops = list(getattr(registry().load("space", (config.get("space") or {}).get("name", "")), "ops", ()) or ())
    except Exception:  # an uninstalled space: the page still draws, with generic names
        ops = []
    return ops if len(ops) == count else [f"op{i}" for i in range(count)]


def evaluations_page(store: Store, run_id: int, *, order: str = "seq", descending: bool = False, offset: int = 0,
                     limit: int = 100) -> dict[str, Any]:
    rows = store.evaluation_page(run_id, order=order, descending=descending, offset=offset, limit=min(int(limit), 1000))
    return finite({"total": store.count_evaluations(run_id), "offset": offset,
                    "rows": [{"seq": r.seq, "arch": r.arch, "value": r.value, "fitness": r.fitness, "cost": r.cost,
                              "wall": r.wall, "info": r.info} for r in rows]})


def evaluations_csv(store: Store, run_id: int) -> Iterator[str]:
    """The run's evaluations as CSV, streamed in chunks (``info`` as JSON text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "arch", "value", "fitness", "cost", "wall", "info"])
    cursor = store._db.execute("SELECT seq, arch, value, fitness, cost, wall, info FROM evaluations WHERE run_id=? ORDER BY seq",
                               (run_id,))
    while True:
        rows = cursor.fetchmany(5000)
        if not rows:
            break
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def compare(store: Store, run_ids: list[int]) -> dict[str, Any]:
    """Best-so-far curves of several search runs on a common query axis, and their mean with a
    one-standard-deviation band (runs of different lengths: the band covers the runs still going)."""
    curves = {}
    for rid in run_ids:
        curve = best_so_far(store, rid)
        if curve["queries"]:
            curves[rid] = curve
    if not curves:
        return {"runs": {}, "mean": None}
    length = int(max(max(c["queries"]) for c in curves.values()))
    grid = np.unique(np.linspace(1, length, min(length, MAX_POINTS)).astype(int))
    stacked = []
    for c in curves.values():
        q, b = np.asarray(c["queries"], dtype=float), np.asarray([np.nan if v is None else v for v in c["best"]], dtype=float)
        at = np.searchsorted(q, grid, side="right") - 1
        row = np.where((at >= 0) & (grid <= q[-1]), b[np.clip(at, 0, None)], np.nan)
        stacked.append(row)
    stacked = np.array(stacked)
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)
    return finite({"runs": curves, "mean": {"queries": grid.tolist(), "mean": mean.tolist(), "std": std.tolist()}})


def architecture(store: Store, run_id: int, arch: str) -> dict[str, Any]:
    """The cell of ``arch`` in the run's space as nodes and edges (op-on-node graph), for the page
    to draw; ``None`` graph when the space has no graph form."""
    from nasplug.core.interfaces.capabilities import Graphable
    from nasplug.core.registry import registry

    run = store.run(run_id)
    spec = run.config.get("space")
    space = registry().create("space", spec, section="space")
    if not isinstance(space, Graphable):
        return {"arch": arch, "graph": None}
    graph = space.graph(space.parse(arch))
    n = len(graph.ops)
    edges = [[int(i), int(j)] for i in range(n) for j in range(n) if graph.adjacency[i, j]]
    return {"arch": arch, "graph": {"ops": list(graph.ops), "edges": edges}}
