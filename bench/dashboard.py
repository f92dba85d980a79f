"""The dashboard on a large store (issue 27): 100 runs and 500,000 evaluations, served by uvicorn
and fetched over HTTP as the browser fetches it. Times each endpoint (median of 5, the first,
cold, request reported too) and the size of what it sends.

    .venv/bin/python bench/dashboard.py          # writes bench/results/dashboard.{json,md}
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from _common import write_results
from nasplug.core.store import Store

RUNS, BIG, TOTAL = 100, 104_000, 500_000


def build(path: Path) -> float:
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    per_run = (TOTAL - BIG) // (RUNS - 1)
    with Store(path) as s:
        for r in range(RUNS):
            rid = s.create_run("search", f"run{r}", {"kind": "search", "strategy": {"name": "rea"}, "search": {"queries": 5000}}, "h", r)
            n = BIG if r == 0 else per_run
            values = rng.random(n) * 100
            with s.transaction():
                s._db.executemany("INSERT INTO evaluations VALUES (?,?,?,?,?,?,?,?,?)",
                                  [(rid, i, f"{i:06d}", float(v), float(v), 1.0, 0.01, "{}", float(i)) for i, v in enumerate(values)])
            s.set_status(rid, "finished", {"queries": n, "best_value": float(values.max()), "objective_direction": "max"})
    return time.perf_counter() - started


def main() -> None:
    import httpx
    import uvicorn

    from nasplug.core.dashboard.app import create_app

    folder = Path(tempfile.mkdtemp())
    path = folder / "big.db"
    build_seconds = build(path)
    with Store(path, read_only=True) as s:
        total = s._db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(path), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    endpoints = {"page (index.html)": "/", "runs table (100 runs)": "/api/runs", "run detail": "/api/runs/1",
                 "best-so-far of the 104k-evaluation run": "/api/runs/1/charts",
                 "evaluations sorted by value, first page": "/api/runs/1/evaluations?order=value&desc=1&limit=50",
                 "compare 10 runs": "/api/compare?runs=" + ",".join(str(i) for i in range(1, 11)),
                 "CSV of the 104k-evaluation run": "/api/runs/1/evaluations.csv"}
    rows = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for name, url in endpoints.items():
            times, size = [], 0
            for _ in range(6):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200, (url, response.text[:200])
                size = len(response.content)
            rows[name] = {"url": url, "first_s": times[0], "median_s": statistics.median(times[1:]), "bytes": size}
    server.should_exit = True
    lines = ["# Dashboard on a large store (issue 27)", "",
             f"{RUNS} search runs, {total:,} evaluations in one SQLite store ({path.stat().st_size / 2**20:.0f} MiB, built in "
             f"{build_seconds:.0f} s), served by `nasplug.core.dashboard.app` under uvicorn and fetched over HTTP on this 2-core "
             "machine (shared with a background bench). Target: the runs table opens in under 2 s.", "",
             "| request | first (cold) | median of 5 | sent |", "|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['first_s']:.3f} s | {r['median_s']:.3f} s | {r['bytes'] / 1024:,.0f} KiB |")
    write_results("dashboard", {"runs": RUNS, "evaluations": total, "build_seconds": build_seconds, "requests": rows},
                  "\n".join(lines))


if __name__ == "__main__":
    main()
