"""The SQLite result store: one file holding runs, their evaluations and predict rounds.

Every evaluation is committed as it finishes (WAL journal, so readers never block the writer and a
``kill -9`` loses at most the evaluation in flight). Evaluations are keyed by ``(run, seq)``, which
is what makes resume exact: a resumed run replays its decisions and finds each stored result at the
same sequence number instead of evaluating it again.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import attrs

from nasplug.core.errors import StoreError

SCHEMA_VERSION = 1
#: SQLite ``application_id`` of a nasplug store ("NASP"), written when a store is created, so a
#: store is told from another application's database without guessing.
APPLICATION_ID = 0x4E415350
#: The tables of a nasplug store (a database holding any other table is not ours).
_TABLES = frozenset({"meta", "runs", "evaluations", "rounds", "epochs", "leases", "sqlite_sequence"})

#: The store path of the run being built (the runner sets it while it builds the run's parts),
#: so a part that refers to another run of the same store (``from_run``) finds it.
current_store: contextvars.ContextVar[str | None] = contextvars.ContextVar("nasplug_store", default=None)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    result TEXT
);
CREATE TABLE IF NOT EXISTS evaluations (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    arch TEXT NOT NULL,
    value REAL,
    fitness REAL,
    cost REAL NOT NULL,
    wall REAL NOT NULL,
    info TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS rounds (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    labelled TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS leases (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL
);
"""
#: A run's lease is live while its process beats at least this often (seconds) ...
HEARTBEAT_SECONDS = 5.0
#: ... and stale once its last beat is older than this (or, on the same host, its process is gone).
LEASE_SECONDS = 30.0

#: SQL text match of an evaluation repeating an earlier one (``dumps`` writes ``"repeat": true``).
_REPEAT_MATCH = "info LIKE '%\"repeat\": true%'"


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _sql_num(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None`` and numpy scalars as Python numbers, for
    strict JSON readers (the CLI's ``--format json``, the dashboard): a bare ``NaN`` breaks parsers."""
    if hasattr(obj, "item") and not isinstance(obj, (list, tuple, dict, str)) and getattr(obj, "ndim", 0) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """JSON with NaN/inf kept (as JSON's non-standard literals) and numpy values converted."""
    return json.dumps(obj, sort_keys=True, default=_json_default)


@attrs.frozen
class EvaluationRecord:
    """One stored evaluation. ``value`` is the raw objective or proxy value, ``fitness`` its
    higher-is-better form, ``cost`` simulated seconds charged, ``wall`` real seconds taken."""

    run_id: int
    seq: int
    arch: str
    value: float
    fitness: float
    cost: float = 0.0
    wall: float = 0.0
    info: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class RunRecord:
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    config_hash: str
    seed: int
    status: str
    created: float
    updated: float
    result: dict[str, Any] | None


@attrs.frozen
class RoundRecord:
    run_id: int
    round: int
    labelled: list[int]
    metrics: dict[str, float]


class Store:
    """A SQLite database of runs. Safe to open from several processes (WAL, busy timeout)."""

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        """Open (``create``: or create) the store at ``path``. ``read_only`` opens it without
        write access (``mode=ro``; listing and showing work on read-only files and folders) and
        implies ``create=False``. A database of another application is refused before anything
        is written to it."""
        self.path = Path(path)
        if (read_only or not create) and not self.path.exists():
            raise StoreError(f"no result store at {self.path}; run a config first or pass --store PATH")
        if self.path.is_dir():
            raise StoreError(f"store path {self.path} is a folder; give a file path such as {self.path / 'runs.db'}")
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise StoreError(f"the store's folder {self.path.parent} is a file; choose another --store path")
        try:
            if not read_only and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.path.parent} ({exc.strerror}); choose a writable --store path") from None
        try:
            if read_only:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
            else:
                self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self._check_ours()
            self._db.execute("PRAGMA busy_timeout=30000")
            if not read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                if int(self._db.execute("PRAGMA application_id").fetchone()[0]) != APPLICATION_ID:
                    self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")  # only when needed: it rewrites the header
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if read_only or "readonly" in str(exc) or "unable to open" in str(exc):
                raise StoreError(f"cannot open the store {self.path} ({exc}); check that the file and its folder are readable"
                                 f"{'' if read_only else ' and writable'}") from None
            raise StoreError(f"{self.path} is not a nasplug result store ({exc}); choose another store path") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a nasplug result store ({exc}); choose another store path") from None
        if row is None and not read_only:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif row is not None and int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has store schema {row[0]}, this nasplug reads {SCHEMA_VERSION}; use a new store path")

    def _check_ours(self) -> None:
        """Refuse a database that another application made (read before anything is written):
        ours carries :data:`APPLICATION_ID`; an older store without it is recognised by holding
        only nasplug's tables and its ``meta`` row; an empty database becomes a new store."""
        app = int(self._db.execute("PRAGMA application_id").fetchone()[0])
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app == APPLICATION_ID or not tables:
            return
        if app == 0 and tables <= _TABLES and "meta" in tables and \
                self._db.execute("SELECT 1 FROM meta WHERE key='schema_version'").fetchone() is not None:
            return
        listing = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(f"{self.path} is another application's SQLite database (tables: {listing}), not a nasplug result store; "
                         "nothing was changed; choose another store path")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- runs -----------------------------------------------------------------------------
    def create_run(self, kind: str, name: str, config: dict[str, Any], config_hash: str, seed: int) -> int:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO runs (kind, name, config, config_hash, seed, status, created, updated) VALUES (?,?,?,?,?,?,?,?)",
            (kind, name, dumps(config), config_hash, seed, "running", now, now))
        return int(cur.lastrowid)

    def _run_from_row(self, row: tuple) -> RunRecord:
        return RunRecord(id=row[0], kind=row[1], name=row[2], config=json.loads(row[3]), config_hash=row[4],
                         seed=row[5], status=row[6], created=row[7], updated=row[8],
                         result=json.loads(row[9]) if row[9] else None)

    def run(self, run_id: int | str) -> RunRecord:
        try:
            rid = int(run_id)
        except (TypeError, ValueError):
            raise StoreError(f"run id must be an integer, not {run_id!r}; list runs with 'nasplug runs'") from None
        row = self._db.execute("SELECT * FROM runs WHERE id=?", (rid,)).fetchone()
        if row is None:
            known = [str(r.id) for r in self.runs()]
            listing = ", ".join(known[-10:]) if known else "none"
            raise StoreError(f"no run {rid} in {self.path} (runs: {listing}); list runs with 'nasplug runs'")
        return self._run_from_row(row)

    def runs(self) -> list[RunRecord]:
        return [self._run_from_row(r) for r in self._db.execute("SELECT * FROM runs ORDER BY id")]

    def latest_run(self) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return self._run_from_row(row) if row else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside is committed together, or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def finish_run(self, run_id: int, evaluations: Sequence[EvaluationRecord], rounds: Sequence[RoundRecord],
                   result: dict[str, Any]) -> None:
        """Store a run computed elsewhere (a worker of a multi-seed run) in one transaction:
        whatever an earlier attempt left of it is replaced, so it is never stored twice."""
        with self.transaction():
            self._db.execute("DELETE FROM evaluations WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM rounds WHERE run_id=?", (run_id,))
            for record in evaluations:
                self.add_evaluation(attrs.evolve(record, run_id=run_id))
            for r in rounds:
                self.add_round(run_id, r.round, r.labelled, r.metrics)
            self.set_status(run_id, "finished", result)

    def runs_with_hash(self, config_hash: str) -> list[RunRecord]:
        """Runs made from the configuration with this hash, oldest first."""
        return [self._run_from_row(r) for r in self._db.execute("SELECT * FROM runs WHERE config_hash=? ORDER BY id", (config_hash,))]

    def set_status(self, run_id: int, status: str, result: dict[str, Any] | None = None) -> None:
        self._db.execute("UPDATE runs SET status=?, updated=?, result=COALESCE(?, result) WHERE id=?",
                         (status, time.time(), dumps(result) if result is not None else None, run_id))

    # --- leases: one live process per run -----------------------------------------------------
    def acquire_lease(self, run_id: int) -> None:
        """Take run ``run_id`` for this process, or fail (``StoreError`` naming the holder) while
        another live process holds it. A lease whose heartbeat stopped (or whose process is gone,
        on this host) is taken over."""
        host, pid = socket.gethostname(), os.getpid()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT host, pid, heartbeat FROM leases WHERE run_id=?", (run_id,)).fetchone()
            if row is not None and (row[0], row[1]) != (host, pid) and _lease_alive(*row):
                seen = time.time() - row[2]
                raise StoreError(f"run {run_id} in {self.path} is being run by process {row[1]} on {row[0]} (last seen {seen:.0f} s ago); "
                                 f"wait for it to end or stop it (a run silent for {LEASE_SECONDS:.0f} s can be resumed)")
            self._db.execute("INSERT OR REPLACE INTO leases VALUES (?,?,?,?)", (run_id, host, pid, time.time()))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def release_lease(self, run_id: int) -> None:
        self._db.execute("DELETE FROM leases WHERE run_id=? AND host=? AND pid=?", (run_id, socket.gethostname(), os.getpid()))

    def effective_status(self, run: "RunRecord") -> str:
        """The run's status, with a ``running`` run whose lease is gone or stale shown as
        ``interrupted`` (its process was killed or lost)."""
        if run.status != "running":
            return run.status
        try:
            row = self._db.execute("SELECT host, pid, heartbeat FROM leases WHERE run_id=?", (run.id,)).fetchone()
        except sqlite3.OperationalError:  # a store from before leases
            row = None
        return "running" if row is not None and _lease_alive(*row) else "interrupted"

    # --- evaluations ----------------------------------------------------------------------
    def add_evaluation(self, record: EvaluationRecord) -> None:
        """Commit one evaluation. Adding the same ``(run, seq)`` twice is an error, so a resumed
        run can never duplicate work silently."""
        try:
            self._db.execute(
                "INSERT INTO evaluations (run_id, seq, arch, value, fitness, cost, wall, info, created) VALUES (?,?,?,?,?,?,?,?,?)",
                (record.run_id, record.seq, record.arch, _sql_num(record.value), _sql_num(record.fitness),
                 float(record.cost), float(record.wall), dumps(record.info), time.time()))
        except sqlite3.IntegrityError:
            raise StoreError(f"evaluation {record.seq} of run {record.run_id} is already stored; this is a resume bug") from None

    def evaluations(self, run_id: int) -> list[EvaluationRecord]:
        rows = self._db.execute(
            "SELECT run_id, seq, arch, value, fitness, cost, wall, info FROM evaluations WHERE run_id=? ORDER BY seq",
            (run_id,))
        return [EvaluationRecord(r[0], r[1], r[2], _num(r[3]), _num(r[4]), r[5], r[6], json.loads(r[7])) for r in rows]

    def failures(self, run_id: int) -> list[EvaluationRecord]:
        """The run's evaluations whose task failed (``info.failed``: error, attempts, traceback).
        Only rows whose text mentions a failure are decoded (``dumps`` writes ``"failed": true``),
        so a run without failures costs one scan of its rows, not a decode of each."""
        rows = self._db.execute(
            "SELECT run_id, seq, arch, value, fitness, cost, wall, info FROM evaluations "
            "WHERE run_id=? AND info LIKE '%\"failed\": true%' ORDER BY seq", (run_id,))
        records = (EvaluationRecord(r[0], r[1], r[2], _num(r[3]), _num(r[4]), r[5], r[6], json.loads(r[7])) for r in rows)
        return [e for e in records if e.info.get("failed")]

    def repeat_counts(self) -> dict[int, int]:
        """Per run, how many evaluations repeat an earlier one (``info.repeat``: answered from the
        run's record, no query spent); text-matched like :meth:`failures`, no JSON decoded."""
        return {int(r): int(n or 0) for r, n in self._db.execute(
            f"SELECT run_id, SUM({_REPEAT_MATCH}) FROM evaluations GROUP BY run_id")}

    def repeat_seqs(self, run_id: int) -> set[int]:
        """The ``seq`` of the run's evaluations that repeat an earlier one (see :meth:`repeat_counts`)."""
        return {int(r[0]) for r in self._db.execute(f"SELECT seq FROM evaluations WHERE run_id=? AND {_REPEAT_MATCH}", (run_id,))}

    def count_evaluations(self, run_id: int) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM evaluations WHERE run_id=?", (run_id,)).fetchone()[0])

    def run_summaries(self) -> list[tuple[RunRecord, int, float | None, float | None]]:
        """Every run with its number of evaluations, its best fitness and its last write time, in
        one grouped query (the dashboard's runs table stays fast on large stores)."""
        stats = {r[0]: (int(r[1]), _num(r[2]) if r[2] is not None else None, r[3]) for r in self._db.execute(
            "SELECT run_id, COUNT(*), MAX(fitness), MAX(created) FROM evaluations GROUP BY run_id")}
        return [(run, *stats.get(run.id, (0, None, None))) for run in self.runs()]

    def evaluation_columns(self, run_id: int, after_seq: int = -1) -> dict[str, Any]:
        """``seq``, ``value``, ``fitness``, ``cost`` and ``wall`` of a run's evaluations after
        ``after_seq`` as numpy arrays (NaN where missing), read without decoding ``info``."""
        import numpy as np

        rows = self._db.execute("SELECT seq, value, fitness, cost, wall FROM evaluations WHERE run_id=? AND seq>? ORDER BY seq",
                                (run_id, after_seq)).fetchall()
        table = np.array(rows, dtype=float).reshape(-1, 5)
        return {name: table[:, i] for i, name in enumerate(("seq", "value", "fitness", "cost", "wall"))}

    def evaluation_page(self, run_id: int, *, order: str = "seq", descending: bool = False, offset: int = 0,
                        limit: int = 100) -> list[EvaluationRecord]:
        """One page of a run's evaluations sorted by ``order`` (seq, arch, value, fitness, cost, wall)."""
        if order not in ("seq", "arch", "value", "fitness", "cost", "wall"):
            raise StoreError(f"cannot sort evaluations by {order!r}; use seq, arch, value, fitness, cost or wall")
        direction = "DESC" if descending else "ASC"
        rows = self._db.execute(
            f"SELECT run_id, seq, arch, value, fitness, cost, wall, info FROM evaluations WHERE run_id=? "
            f"ORDER BY {order} IS NULL, {order} {direction}, seq LIMIT ? OFFSET ?", (run_id, int(limit), int(offset)))
        return [EvaluationRecord(r[0], r[1], r[2], _num(r[3]), _num(r[4]), r[5], r[6], json.loads(r[7])) for r in rows]

    # --- rounds ---------------------------------------------------------------------------
    def add_round(self, run_id: int, round: int, labelled: list[int], metrics: dict[str, float]) -> None:
        self._db.execute("INSERT OR REPLACE INTO rounds VALUES (?,?,?,?,?)",
                         (run_id, round, dumps([int(i) for i in labelled]), dumps(metrics), time.time()))

    def rounds(self, run_id: int) -> list[RoundRecord]:
        rows = self._db.execute("SELECT run_id, round, labelled, metrics FROM rounds WHERE run_id=? ORDER BY round", (run_id,))
        return [RoundRecord(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]

    # --- epochs (oneshot runs) -------------------------------------------------------------
    def add_epoch(self, run_id: int, epoch: int, metrics: dict[str, Any]) -> None:
        """Commit one training epoch's metrics (again for the same epoch: replaced, since a run
        resumed from a checkpoint re-reports the epochs it holds)."""
        self._db.execute("INSERT OR REPLACE INTO epochs VALUES (?,?,?,?)", (run_id, epoch, dumps(metrics), time.time()))

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT epoch, metrics FROM epochs WHERE run_id=? ORDER BY epoch", (run_id,))
        return [{"epoch": r[0], **json.loads(r[1])} for r in rows]

    def iter_tables(self, run_id: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Rows of this run's evaluations, rounds and epochs, for export."""
        yield "evaluations", [attrs.asdict(e) for e in self.evaluations(run_id)]
        yield "rounds", [attrs.asdict(r) for r in self.rounds(run_id)]
        yield "epochs", self.epochs(run_id)


def _lease_alive(host: str, pid: int, heartbeat: float) -> bool:
    if time.time() - heartbeat > LEASE_SECONDS:
        return False
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by another user
            return True
    return True


class Heartbeat:
    """Keeps run ``run_id``'s lease fresh from a background thread (its own connection) until
    :meth:`stop`."""

    def __init__(self, path: str | Path, run_id: int, every: float = HEARTBEAT_SECONDS) -> None:
        self.path, self.run_id, self.every = str(path), run_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"nasplug-heartbeat-{run_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            host, pid = socket.gethostname(), os.getpid()
            while not self._stop.wait(self.every):
                try:
                    db.execute("UPDATE leases SET heartbeat=? WHERE run_id=? AND host=? AND pid=?",
                               (time.time(), self.run_id, host, pid))
                except sqlite3.Error:  # a busy store: the next beat tries again
                    pass
        finally:
            db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
