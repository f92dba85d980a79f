"""Scale-out evidence for the executors (issue 10):

1. speed-up of a proxy ``score`` run over NB201 architectures with 1 versus 2 workers, for the
   ``process`` and ``dask`` executors (ideal: 2x on 2 cores), median of ``--repeats`` runs;
2. per-task overhead of each executor (a no-op task, one item per task, and auto-chunked);
3. a run against a separately started ``dask scheduler`` and two ``dask worker`` processes on
   loopback, one worker killed with SIGKILL mid-run: every architecture must be scored exactly
   once, with the values of an in-process run;
4. ``kill -9`` of a multi-worker run (the ``nasplug run`` process, its pool dies with it) and
   ``--resume``: the final result must equal an uninterrupted run's.

    nice -n 10 .venv/bin/python bench/scale.py                    # defaults: ~5-15 min on 2 loaded cores
    nice -n 10 .venv/bin/python bench/scale.py --archs 1000 --repeats 5 --proxy flops

Writes bench/results/scale.{json,md}. The machine these numbers come from is shared with other
jobs; the load average at the start and end is recorded next to the numbers.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import benchmarks_dir, write_results
from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.core.store import Store


def score_config(db: Path, executor: Any, proxy: str, archs: int) -> dict[str, Any]:
    return {"kind": "score", "seed": 0, "space": "nb201", "proxy": proxy, "executor": executor,
            "score": {"archs": archs, "metrics": ["cifar10_test"]}, "store": {"path": str(db)}}


def evaluations(db: Path, run_id: int = 1) -> list[tuple[int, str, float]]:
    with Store(db) as store:
        return [(e.seq, e.arch, e.value) for e in store.evaluations(run_id)]


def difference(values: list[tuple], reference: list[tuple]) -> tuple[bool, float]:
    """(bit-identical, largest relative difference) of two score lists over the same architectures."""
    assert [v[:2] for v in values] == [r[:2] for r in reference], "different architectures or order"
    rel = [abs(a[2] - b[2]) / max(abs(b[2]), 1e-300) for a, b in zip(values, reference) if a[2] != b[2]]
    return not rel, max(rel, default=0.0)


def steady_seconds(db: Path, run_id: int = 1) -> float:
    """First to last stored evaluation, scaled to n evaluations: the run without worker start-up."""
    with sqlite3.connect(db) as con:
        times = sorted(t for (t,) in con.execute("SELECT created FROM evaluations WHERE run_id=?", (run_id,)))
    return (times[-1] - times[0]) * len(times) / max(1, len(times) - 1)


def autogroup() -> bool:
    """Whether Linux splits CPU time equally between sessions (so extra workers of one session
    do not get extra CPU while other sessions are busy)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# --- 1. speed-up ------------------------------------------------------------------------------
def speedup(tmp: Path, proxy: str, archs: int, repeats: int, default_threads: bool) -> tuple[list[dict[str, Any]], list[tuple]]:
    """Repeats interleaved (1 worker, 2 workers, 1 worker, ...) so that both see the same
    changing load of the shared machine; the local run is the reference for the scores."""
    threads = {} if default_threads else {"torch_threads": 1}
    settings = [("local", 1, "local")] + [(name, w, {"name": name, "workers": w, **threads})
                                          for name in ("process", "dask") for w in (1, 2)]
    measured: dict[tuple[str, int], dict[str, Any]] = {
        (name, w): {"totals": [], "steadies": [], "identical": True, "rel": 0.0} for name, w, _ in settings}
    reference = None
    for r in range(repeats):
        for name, workers, executor in settings:
            if name == "local" and r > 0:
                continue
            db = tmp / f"speed-{name}-{workers}-{r}.db"
            t0 = time.perf_counter()
            result = run(score_config(db, executor, proxy, archs)).result
            m = measured[(name, workers)]
            m["totals"].append(time.perf_counter() - t0)
            m["steadies"].append(steady_seconds(db))
            values = evaluations(db)
            reference = reference or values
            same, diff = difference(values, reference)
            m["identical"], m["rel"] = m["identical"] and same, max(m["rel"], diff)
            assert diff < 1e-9 and result["failed"] == 0, f"{name} x{workers}: other scores than the local run"
            print(f"  {name} x{workers} #{r}: total {m['totals'][-1]:.1f} s, steady {m['steadies'][-1]:.1f} s (load {load()})", flush=True)
    rows = []
    for name, workers, _ in settings:
        m = measured[(name, workers)]
        rows.append({"executor": name, "workers": workers, "total_s": statistics.median(m["totals"]),
                     "steady_s": statistics.median(m["steadies"]), "total_all": m["totals"], "steady_all": m["steadies"],
                     "per_arch_ms": 1000 * statistics.median(m["steadies"]) / archs,
                     "torch_threads": 1 if name == "local" or not default_threads else max(1, (os.cpu_count() or 1) // workers),
                     "identical_to_local": m["identical"], "max_relative_difference": m["rel"]})
    for row in rows:
        one = next(r for r in rows if r["executor"] == row["executor"] and r["workers"] == 1)
        row["speedup_total"] = one["total_s"] / row["total_s"]
        row["speedup_steady"] = one["steady_s"] / row["steady_s"]
    return rows, reference


def dispatch_speedup(n: int, repeats: int) -> list[dict[str, Any]]:
    """1 versus 2 workers on a task that sleeps 20 ms: the executors' parallelism without the
    question of how much CPU a shared machine grants (ideal: 2x)."""
    from nasplug.core.executors.checks import sleepy_square

    rows = []
    for name in ("process", "dask"):
        executors = {w: registry().create("executor", {"name": name, "workers": w}) for w in (1, 2)}
        times: dict[int, list[float]] = {1: [], 2: []}
        try:
            for w, executor in executors.items():
                dict(executor.imap(sleepy_square, range(2 * w)))  # start workers
            for _ in range(repeats):
                for w, executor in executors.items():
                    t0 = time.perf_counter()
                    out = dict(executor.imap(sleepy_square, range(n)))
                    times[w].append(time.perf_counter() - t0)
                    assert out == {i: i * i for i in range(n)}
        finally:
            for executor in executors.values():
                executor.close()
        for w in (1, 2):
            rows.append({"executor": name, "workers": w, "seconds": statistics.median(times[w]), "all": times[w]})
            print(f"  sleep-bound {name} x{w}: {statistics.median(times[w]):.2f} s", flush=True)
    for row in rows:
        one = next(r for r in rows if r["executor"] == row["executor"] and r["workers"] == 1)
        row["speedup"] = one["seconds"] / row["seconds"]
    return rows


# --- 2. per-task overhead ---------------------------------------------------------------------
def overhead(n: int) -> list[dict[str, Any]]:
    from nasplug.core.executors.checks import square

    rows = []
    for name, options in (("local", {}), ("process", {"workers": 2}), ("dask", {"workers": 2})):
        for chunk in ((None,) if name == "local" else (1, None)):
            opts = dict(options)
            if chunk is not None:
                opts["chunk_size"] = chunk
            with registry().create("executor", {"name": name, **opts}) as executor:
                dict(executor.imap(square, range(50)))  # start workers
                t0 = time.perf_counter()
                out = dict(executor.imap(square, range(n)))
                seconds = time.perf_counter() - t0
            assert out == {i: i * i for i in range(n)}
            rows.append({"executor": name, "chunk": "1 item per task" if chunk == 1 or name == "local" else "auto",
                         "per_task_ms": 1000 * seconds / n, "tasks": n})
            print(f"  overhead {name} chunk={chunk}: {1000 * seconds / n:.3f} ms/task", flush=True)
    return rows


# --- 3. external scheduler, one worker killed -------------------------------------------------
class KillAfter:
    def __init__(self, after: int, pid: int) -> None:
        self.after, self.pid, self.killed_at = after, pid, None

    @hookimpl
    def nasplug_after_evaluation(self, run: Any, record: Any) -> None:
        if self.killed_at is None and run.store.count_evaluations(run.id) >= self.after:
            os.kill(self.pid, signal.SIGKILL)
            self.killed_at = run.store.count_evaluations(run.id)


def external_cluster(tmp: Path, proxy: str, archs: int, reference: list[tuple]) -> dict[str, Any]:
    from distributed import Client

    file = tmp / "scheduler.json"
    log = open(tmp / "dask.log", "w")
    py = [sys.executable, "-m"]
    procs = [subprocess.Popen(py + ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                    "--no-dashboard", "--scheduler-file", str(file)], stdout=log, stderr=log)]
    try:
        while not file.exists():
            time.sleep(0.1)
        workers = [subprocess.Popen(py + ["distributed.cli.dask_worker", "--scheduler-file", str(file), "--nthreads", "1",
                                          "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], stdout=log, stderr=log)
                   for _ in range(2)]
        procs += workers
        with Client(scheduler_file=str(file), timeout=120) as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
        hook = KillAfter(archs // 4, workers[0].pid)
        plugin_manager().register(hook)
        db = tmp / "external.db"
        try:
            t0 = time.perf_counter()
            result = run(score_config(db, {"name": "dask", "address": address}, proxy, archs)).result
            seconds = time.perf_counter() - t0
        finally:
            plugin_manager().unregister(hook)
        values = evaluations(db)
        return {"address": address, "killed_worker_pid": workers[0].pid, "killed_after_evaluations": hook.killed_at,
                "worker_exit": workers[0].wait(timeout=30), "archs": archs, "stored": len(values),
                "distinct_archs_stored": len({seq for seq, _, _ in values}), "failed": result["failed"],
                "same_values_as_local": difference(values, reference), "seconds": seconds}
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


# --- 4. kill -9 of a multi-worker run, resume --------------------------------------------------
SEARCH = """
kind = "search"
seed = 4
[space]
name = "nb201"
[strategy]
name = "rea"
[objective]
name = "proxy"
proxy = "{proxy}"
[search]
queries = {queries}
batch_size = 8
[executor]
name = "{executor}"
{workers}
"""


def count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def kill_resume(tmp: Path, proxy: str, queries: int) -> dict[str, Any]:
    def cli(*args: Any) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "nasplug.core", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    local, parallel = tmp / "search-local.toml", tmp / "search-process.toml"
    local.write_text(SEARCH.format(proxy=proxy, queries=queries, executor="local", workers=""))
    parallel.write_text(SEARCH.format(proxy=proxy, queries=queries, executor="process", workers="workers = 2"))
    full = cli("run", local, "--store", tmp / "full.db")
    assert full.wait() == 0, full.stderr.read()
    proc = cli("run", parallel, "--store", tmp / "cut.db")
    while count(tmp / "cut.db") < queries // 2 and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = count(tmp / "cut.db")
    resumed = cli("run", parallel, "--store", tmp / "cut.db", "--resume")
    out, err = resumed.communicate()
    assert resumed.returncode == 0, err
    with Store(tmp / "full.db") as a, Store(tmp / "cut.db") as b:
        ea, eb = a.evaluations(1), b.evaluations(1)
        ra, rb = a.run(1).result, b.run(1).result
    drop = ("run_seconds",)
    return {"queries": queries, "killed_at": killed_at, "stored_after_resume": len(eb),
            "same_sequence": [(e.seq, e.arch, e.value) for e in ea] == [(e.seq, e.arch, e.value) for e in eb],
            "duplicates": len(eb) - len({e.seq for e in eb}),
            "same_result": {k: v for k, v in ra.items() if k not in drop} == {k: v for k, v in rb.items() if k not in drop},
            "best_arch": rb.get("best_arch"), "best_value": rb.get("best_value")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--proxy", default=None, help="default: synflow where installed, else flops")
    parser.add_argument("--overhead-tasks", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=160, help="search queries of the kill/resume part")
    parser.add_argument("--default-threads", action="store_true",
                        help="workers keep the default torch threads (cores // workers) instead of 1 each")
    args = parser.parse_args()
    benchmarks_dir()
    import torch

    torch.set_num_threads(1)
    proxy = args.proxy or ("synflow" if "synflow" in registry().names("proxy") else "flops")
    load_before = load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print(f"1. speed-up, {args.archs} archs, proxy {proxy}, {args.repeats} repeats", flush=True)
        rows, reference = speedup(tmp, proxy, args.archs, args.repeats, args.default_threads)
        print("1b. sleep-bound dispatch speed-up", flush=True)
        dispatch = dispatch_speedup(args.archs, args.repeats)
        print("2. per-task overhead", flush=True)
        overheads = overhead(args.overhead_tasks)
        print("3. external scheduler + 2 workers, one killed", flush=True)
        external = external_cluster(tmp, proxy, args.archs, reference)
        print("4. kill -9 of a 2-worker search, --resume", flush=True)
        resume = kill_resume(tmp, "params", args.queries)
    load_after = load()

    md = ["# Executors: scaling out a proxy score run (issue 10)", "",
          f"Settings: `bench/scale.py --archs {args.archs} --repeats {args.repeats} --proxy {proxy}`; "
          f"{os.cpu_count()} CPU cores **shared with other jobs** (load average 1/5/15 min: {load_before} at start, "
          f"{load_after} at the end), so speed-ups are noisy and below what an idle machine gives. "
          + ("torch threads per worker = cores // workers (the default). " if args.default_threads else
             "One torch thread per worker in every row, so that only the number of workers changes "
             "(the default, cores // workers, gives the single worker 2 threads: on this loaded machine a 16-architecture "
             "trial of that ran ~10x slower per architecture than 2 single-thread workers, OpenMP threads waiting on "
             "each other for cores). ") + "Medians over the repeats, taken in turns (1 worker, 2 workers, 1 worker, ...) "
          "so both see the same changing load; the local reference run once.", "",
          f"## 1. Speed-up, `score` of {args.archs} NB201 architectures with `{proxy}`", "",
          "*total*: the whole run, worker start-up (process start, torch import) included; *steady*: first to "
          "last stored evaluation. Ideal speed-up with 2 workers on 2 cores: 2.0x. Every run scored the same "
          "architectures in the same order; the last column compares the scores with the in-process run's.", "",
          "| executor | workers | torch threads each | total s | steady s | ms / arch | speed-up total | speed-up steady | scores vs local (1 thread) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        same = "identical" if r["identical_to_local"] else f"max rel. diff {r['max_relative_difference']:.1e}"
        threads = r["torch_threads"]
        md.append(f"| {r['executor']} | {r['workers']} | {threads} | {r['total_s']:.1f} | {r['steady_s']:.1f} | {r['per_arch_ms']:.1f} | "
                  f"{r['speedup_total']:.2f}x | {r['speedup_steady']:.2f}x | {same} |")
    md += ["", "Scores are bit-identical wherever each evaluation runs with the same number of torch threads; "
           "with 2 threads torch may sum in another order (differences in the last bits of a float64)."]
    md += ["", f"### 1b. The same 1 vs 2 workers on {args.archs} tasks that sleep 20 ms (no CPU needed)", "",
           "On a machine whose CPUs are taken by other jobs, a second CPU-bound worker gets little more CPU"
           + (" (here Linux autogroup is on: CPU time is split equally between login sessions, so this bench's "
              "workers share one session's part however many there are)" if autogroup() else "")
           + "; a sleep-bound task shows the executors' own parallelism (ideal: 2x).", "",
           "| executor | workers | seconds | speed-up |", "|---|---|---|---|"]
    md += [f"| {r['executor']} | {r['workers']} | {r['seconds']:.2f} | {r['speedup']:.2f}x |" for r in dispatch]
    md += ["", f"## 2. Per-task overhead ({args.overhead_tasks} no-op tasks, 2 workers, warm)", "",
           "| executor | chunking | ms per task |", "|---|---|---|"]
    md += [f"| {r['executor']} | {r['chunk']} | {r['per_task_ms']:.3f} |" for r in overheads]
    e = external
    md += ["", "## 3. Separate `dask scheduler` + 2 `dask worker` processes on loopback, one killed", "",
           "| what | measured |", "|---|---|",
           f"| worker killed (SIGKILL, no nanny to restart it) after | {e['killed_after_evaluations']} stored evaluations (exit {e['worker_exit']}) |",
           f"| architectures stored / distinct / expected | {e['stored']} / {e['distinct_archs_stored']} / {e['archs']} |",
           f"| failed evaluations | {e['failed']} |",
           f"| same scores as the in-process run (bit-identical, max rel. diff) | {e['same_values_as_local'][0]}, {e['same_values_as_local'][1]:.1e} |",
           f"| wall time | {e['seconds']:.1f} s |",
           "", "## 4. `kill -9` of a 2-worker `search` run (REA, batch 8, params objective), then `--resume`", "",
           "| what | measured |", "|---|---|",
           f"| killed after | {resume['killed_at']} of {resume['queries']} evaluations stored |",
           f"| same (seq, arch, value) sequence as an uninterrupted in-process run | {resume['same_sequence']} |",
           f"| same final result | {resume['same_result']} |",
           f"| duplicated evaluations | {resume['duplicates']} |",
           "", f"Bench wall time: {time.perf_counter() - started:.0f} s."]
    write_results("scale", {"settings": vars(args) | {"proxy": proxy}, "load_before": load_before, "load_after": load_after, "autogroup": autogroup(),
                            "speedup": rows, "dispatch_speedup": dispatch, "overhead": overheads, "external_cluster": external, "kill_resume": resume},
                  "\n".join(md))


if __name__ == "__main__":
    main()
