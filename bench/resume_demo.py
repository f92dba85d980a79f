"""Evidence for the foundation: kill -9 a run mid-way, resume it, compare with an uninterrupted run;
plus the runner's fixed costs (CLI start-up, plugin discovery, per-evaluation store overhead).

    .venv/bin/python bench/resume_demo.py

Writes bench/results/resume_demo.{json,md}.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import benchmarks_dir, write_results
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.store import Store
from nasplug.core.testing import ToySpace

CONFIG = """
kind = "search"
seed = 11
[space]
name = "nb201"
[strategy]
name = "rea"
[objective]
name = "proxy"
proxy = "flops"
[search]
queries = 200
batch_size = 4
"""


def nasplug(*args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nasplug.core", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def main() -> None:
    benchmarks_dir()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "run.toml"
        config.write_text(CONFIG)
        t0 = time.perf_counter()
        assert nasplug("run", config, "--store", tmp / "full.db").wait() == 0
        full_seconds = time.perf_counter() - t0

        proc = nasplug("run", config, "--store", tmp / "cut.db")
        while count(tmp / "cut.db") < 100 and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = count(tmp / "cut.db")
        with Store(tmp / "cut.db") as store:
            status_after_kill = store.run(1).status
        resumed = nasplug("run", config, "--store", tmp / "cut.db", "--resume")
        out, err = resumed.communicate()
        assert resumed.returncode == 0, err
        with Store(tmp / "full.db") as a, Store(tmp / "cut.db") as b:
            ea, eb = a.evaluations(1), b.evaluations(1)
            same_sequence = [(e.seq, e.arch, e.value) for e in ea] == [(e.seq, e.arch, e.value) for e in eb]
            ra, rb = a.run(1).result, b.run(1).result
            duplicates = len(eb) - len({e.seq for e in eb})
            archs_evaluated_twice = len([e for e in eb if not e.info.get("repeat")]) - len({e.arch for e in eb if not e.info.get("repeat")})

        # fixed costs
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nasplug.core", "plugins"], check=True, capture_output=True)
        plugins_seconds = time.perf_counter() - t0
        reg = Registry()
        reg.register("space", "toy", ToySpace)
        n = 3000
        t0 = time.perf_counter()
        run({"kind": "search", "space": "toy", "strategy": "random", "objective": {"name": "benchmark", "metric": "accuracy"},
             "search": {"queries": n}, "store": {"path": str(tmp / "overhead.db")}}, registry=reg)
        per_eval_ms = (time.perf_counter() - t0) / n * 1000

    rows = [
        ("uninterrupted run (200 FLOPs evaluations, REA, batch 4)", f"{full_seconds:.1f} s, best {ra['best_arch']} = {ra['best_value']:.2f} MFLOPs"),
        ("killed with SIGKILL after", f"{killed_at} stored evaluations (run status left: '{status_after_kill}')"),
        ("resumed run", f"best {rb['best_arch']} = {rb['best_value']:.2f} MFLOPs"),
        ("same (seq, arch, value) sequence as uninterrupted", str(same_sequence)),
        ("same final result", str(ra["best_arch"] == rb["best_arch"] and ra["queries"] == rb["queries"])),
        ("duplicated evaluations (same seq twice / same arch evaluated twice)", f"{duplicates} / {archs_evaluated_twice}"),
        ("`nasplug plugins` wall time (new process, all plugins imported)", f"{plugins_seconds:.2f} s"),
        ("runner + SQLite overhead per evaluation (toy table lookup, commit each)", f"{per_eval_ms:.3f} ms"),
    ]
    md = ["# Resume after kill -9, and runner overheads", "", "| what | measured |", "|---|---|"]
    md += [f"| {a} | {b.replace('|', chr(92) + '|')} |" for a, b in rows]
    write_results("resume_demo", {
        "full_seconds": full_seconds, "killed_at": killed_at, "status_after_kill": status_after_kill,
        "same_sequence": same_sequence, "full_result": ra, "resumed_result": rb, "duplicates": duplicates,
        "archs_evaluated_twice": archs_evaluated_twice, "plugins_seconds": plugins_seconds, "per_eval_ms": per_eval_ms,
        "evaluations": len(eb)}, "\n".join(md))


if __name__ == "__main__":
    main()
