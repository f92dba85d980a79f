"""kill -9 in the middle of a run, resume, and end with exactly the uninterrupted result."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from nasplug.core.store import Store

CONFIG = """
kind = "search"
seed = 5
[space]
name = "nb201"
[strategy]
name = "rea"
[objective]
name = "proxy"
proxy = "flops"
[search]
queries = 80
batch_size = {batch}
"""


def _count(db):
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "nasplug.core", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


#: Strategies added since the first version of this test, each with the objective it needs.
STRATEGIES = {
    "rea": CONFIG,
    "successive_halving": CONFIG.replace('name = "rea"', 'name = "successive_halving"\nn = 27').replace(
        'name = "proxy"\nproxy = "flops"',
        'name = "multi_fidelity"\nfidelities = [{name = "proxy", proxy = "params"}, {name = "proxy", proxy = "flops"}]'),
    "bananas": CONFIG.replace('name = "rea"', 'name = "bananas"\nensemble = 2\n'
                              'predictor = {name = "sklearn", encoder = "path", n_estimators = 10}').replace(
                                  'proxy = "flops"', 'proxy = "params"'),
}


@pytest.mark.parametrize("strategy, batch", [("rea", 1), ("rea", 5), ("successive_halving", 5), ("bananas", 1)])
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path, strategy, batch):
    config = tmp_path / "run.toml"
    config.write_text(STRATEGIES[strategy].replace("{batch}", str(batch)))
    full, cut = tmp_path / "full.db", tmp_path / "cut.db"
    assert _cli("run", config, "--store", full).wait(timeout=300) == 0

    proc = _cli("run", config, "--store", cut)
    deadline = time.time() + 120
    while _count(cut) < 30 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _count(cut)
    with Store(cut) as store:
        assert store.run(1).status == "running"  # killed, not finished
    assert 30 <= killed_at < 80

    resumed = _cli("run", config, "--store", cut, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resumed and finished" in out
    with Store(full) as a, Store(cut) as b:
        ea, eb = a.evaluations(1), b.evaluations(1)
        assert [(e.seq, e.arch, e.value) for e in ea] == [(e.seq, e.arch, e.value) for e in eb]
        assert len({e.seq for e in eb}) == len(eb)  # no duplicated evaluations
        assert a.run(1).result["best_arch"] == b.run(1).result["best_arch"]
        assert b.run(1).status == "finished" and len(b.runs()) == 1


def test_a_live_run_cannot_be_joined_and_a_killed_one_shows_interrupted(tmp_path):
    """The run lease: a second process is refused while the first is alive (here: stopped with
    SIGSTOP, so its heartbeat is recent); once it is killed, ``runs`` shows it interrupted and
    ``--resume`` takes it over."""
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(batch=1).replace("queries = 80", "queries = 30"))
    db = tmp_path / "lease.db"
    proc = _cli("run", config, "--store", db)
    deadline = time.time() + 120
    while _count(db) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be paused"
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        runs = subprocess.run([sys.executable, "-m", "nasplug.core", "runs", "--store", str(db)], capture_output=True, text=True)
        assert " running " in runs.stdout
        second = _cli("run", config, "--store", db, "--resume")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2 and len(err.strip().splitlines()) == 1
        assert f"run 1 in {db} is being run by process {proc.pid}" in err and "last seen" in err
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    runs = subprocess.run([sys.executable, "-m", "nasplug.core", "runs", "--store", str(db)], capture_output=True, text=True)
    assert " interrupted " in runs.stdout and " running " not in runs.stdout
    resumed = _cli("run", config, "--store", db, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    with Store(db) as store:
        assert store.run(1).status == "finished" and store.count_evaluations(1) >= 30
        assert store._db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0  # released at the end


def test_a_lease_from_another_host_holds_until_its_heartbeat_is_stale(tmp_path):
    from nasplug.core.errors import StoreError
    from nasplug.core.store import LEASE_SECONDS

    with Store(tmp_path / "s.db") as store:
        rid = store.create_run("search", "x", {}, "h", 0)
        store._db.execute("INSERT INTO leases VALUES (?, 'other-host', 4242, ?)", (rid, time.time() - 2))
        with pytest.raises(StoreError, match="being run by process 4242 on other-host"):
            store.acquire_lease(rid)
        assert store.effective_status(store.run(rid)) == "running"
        store._db.execute("UPDATE leases SET heartbeat=?", (time.time() - LEASE_SECONDS - 1,))
        assert store.effective_status(store.run(rid)) == "interrupted"
        store.acquire_lease(rid)  # stale: taken over
        assert store._db.execute("SELECT pid FROM leases").fetchone()[0] == os.getpid()
