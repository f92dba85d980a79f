"""Bad input against the real CLI (issue 26): every case must end with one ``error:`` line, exit
status 2, no traceback, and nothing written that was not there before.

    python bench/reliability.py            # all cases (about 2 minutes: one process per case)
    python bench/reliability.py --only budget,store

Each case runs ``python -m nasplug.core ...`` in a fresh folder holding only its inputs, and
records the exit status, the first line of stderr, the number of stderr lines, whether a
traceback was printed, and which files were created or changed (SQLite's ``-wal`` / ``-shm``
side files of a database that itself is unchanged do not count: any reader of a WAL database makes
them, and they hold no data). Results:
``bench/results/reliability.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import benchmarks_dir, write_results  # noqa: E402

SEARCH = """kind = "search"
seed = 0
[space]
name = "nb201"
[strategy]
name = "{strategy}"
[objective]
name = "proxy"
proxy = "params"
[search]
queries = {queries}
[store]
path = "runs.db"
"""
SCORE = """kind = "score"
seed = 0
[space]
name = "nb201"
[proxy]
name = "{proxy}"
[data]
{data}
[score]
archs = 4
[store]
path = "runs.db"
"""
ONESHOT = """kind = "oneshot"
seed = 0
[space]
name = "nb201"
[data]
path = "{path}"
split = {split}
[oneshot]
method = {method}
epochs = 1
supernet = {{channels = 4, cells_per_stage = 1}}
[store]
path = "runs.db"
"""


def _search(**kw: Any) -> str:
    return SEARCH.format(**{"strategy": "random", "queries": 5, **kw})


def _npz(folder: Path, name: str, **arrays: Any) -> None:
    np.savez(folder / name, **arrays)


def _foreign(folder: Path) -> None:
    with sqlite3.connect(folder / "photos.db") as con:
        con.execute("CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT)")
    con.close()


def _damaged_gz(folder: Path) -> None:
    data = bytearray((benchmarks_dir() / "nb201" / "nb201.csv.gz").read_bytes()[:200_000])
    data[5000:6000] = bytes(b ^ 0x5A for b in data[5000:6000])
    (folder / "damaged.csv.gz").write_bytes(bytes(data))


def _tiny_zip(folder: Path) -> None:
    import zipfile

    with zipfile.ZipFile(folder / "flat.zip", "w") as z:  # images without class folders
        z.writestr("a.png", b"not really a png")


#: (class, case, files to write: name -> text or callable(folder), CLI arguments). A prepared
#: store (``runs.db`` with one finished run) is made first for cases whose files include it.
CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("config", "unknown top-level key", {"c.toml": "colour = 3\n" + _search()}, ["run", "c.toml"]),
    ("config", "unknown strategy", {"c.toml": _search(strategy="reaa")}, ["run", "c.toml"]),
    ("config", "option of the wrong type", {"c.toml": _search().replace("queries = 5", 'queries = "five"')}, ["run", "c.toml"]),
    ("config", "negative seed", {"c.toml": _search().replace("seed = 0", "seed = -1")}, ["run", "c.toml"]),
    ("config", "missing kind", {"c.toml": _search().replace('kind = "search"\n', "")}, ["run", "c.toml"]),
    ("config", "TOML syntax error", {"c.toml": _search() + "[search\n"}, ["run", "c.toml"]),
    ("config", "missing config file", {}, ["run", "nope.toml"]),
    ("budget", "queries above the space's size", {"c.toml": _search(queries=100000)}, ["run", "c.toml"]),
    ("budget", "queries = 0", {"c.toml": _search(queries=0)}, ["run", "c.toml"]),
    ("code import", "[data] source = dataset naming module:attr",
     {"c.toml": SCORE.format(proxy="naswot", data='source = "dataset"\npath = "os:getcwd"')}, ["run", "c.toml"]),
    ("store", "another application's SQLite file (runs)", {"photos.db": _foreign}, ["runs", "--store", "photos.db"]),
    ("store", "another application's SQLite file (run)", {"photos.db": _foreign, "c.toml": _search().replace("runs.db", "photos.db")},
     ["run", "c.toml"]),
    ("store", "store path is a folder", {"c.toml": _search().replace('"runs.db"', '"."')}, ["run", "c.toml"]),
    ("store", "store folder is a file", {"blocker": "x", "c.toml": _search().replace("runs.db", "blocker/runs.db")}, ["run", "c.toml"]),
    ("store", "runs on a missing store", {}, ["runs", "--store", "none.db"]),
    ("store", "show an unknown run", {"runs.db": "prepared"}, ["show", "7", "--store", "runs.db"]),
    ("non-finite", "lr = nan", {"c.toml": ONESHOT.format(path="x.npz", split="[8, 8]", method='"darts"').replace("epochs = 1", "epochs = 1\nlr = nan")},
     ["run", "c.toml"]),
    ("non-finite", "top_percent = inf", {"c.toml": SCORE.format(proxy="params", data="").replace("archs = 4", "archs = 4\ntop_percent = inf")},
     ["run", "c.toml"]),
    ("non-finite", "fail_share = nan", {"c.toml": "fail_share = nan\n" + _search()}, ["run", "c.toml"]),
    ("files", "report --out onto a file", {"runs.db": "prepared", "out": "x"}, ["report", "1", "--store", "runs.db", "--out", "out"]),
    ("files", "damaged gzip benchmark", {"damaged.csv.gz": _damaged_gz,
                                          "c.toml": _search().replace('name = "proxy"\nproxy = "params"', 'name = "benchmark"\nmetric = "cifar10_test"')
                                          + '[benchmark]\npath = "damaged.csv.gz"\n'}, ["run", "c.toml"]),
    ("files", "benchmark file that is not a table", {"notes.csv": "secret-header,b\n1,2\n",
                                                      "c.toml": _search().replace('name = "proxy"\nproxy = "params"', 'name = "benchmark"\nmetric = "cifar10_test"')
                                                      + '[benchmark]\npath = "notes.csv"\n'}, ["run", "c.toml"]),
    ("files", "empty npz", {"e.npz": lambda f: _npz(f, "e.npz"), "c.toml": SCORE.format(proxy="naswot", data='path = "e.npz"')},
     ["run", "c.toml"]),
    ("files", "npz of strings", {"s.npz": lambda f: _npz(f, "s.npz", x=np.array([["a", "b"]]), y=np.array([0])),
                                 "c.toml": SCORE.format(proxy="naswot", data='path = "s.npz"')}, ["run", "c.toml"]),
    ("files", "npz with fractional labels", {"l.npz": lambda f: _npz(f, "l.npz", x=np.zeros((4, 32, 32, 3), np.uint8), y=np.array([0, 0.5, 1, 2])),
                                             "c.toml": SCORE.format(proxy="naswot", data='path = "l.npz"')}, ["run", "c.toml"]),
    ("files", "zip without class folders (oneshot)", {"flat.zip": _tiny_zip,
                                                      "c.toml": ONESHOT.format(path="flat.zip", split="[8, 8]", method='"spos"')}, ["run", "c.toml"]),
    ("files", "split larger than the data (oneshot)", {"l.npz": lambda f: _npz(f, "l.npz", x=np.zeros((20, 32, 32, 3), np.uint8), y=np.arange(20) % 2),
                                                       "c.toml": ONESHOT.format(path="l.npz", split="[50, 50]", method='"darts"')}, ["run", "c.toml"]),
    ("resume", "resume with a different config", {"runs.db": "prepared", "c.toml": _search(queries=6)}, ["run", "c.toml", "--resume"]),
    ("resume", "--run without --resume", {"runs.db": "prepared", "c.toml": _search()}, ["run", "c.toml", "--run", "1"]),
    ("resume", "--resume --run of an unknown run", {"runs.db": "prepared", "c.toml": _search()}, ["run", "c.toml", "--resume", "--run", "9"]),
    ("methods", "DARTS second order = 3", {"l.npz": lambda f: _npz(f, "l.npz", x=np.zeros((20, 32, 32, 3), np.uint8), y=np.arange(20) % 2),
                                           "c.toml": ONESHOT.format(path="l.npz", split="[8, 8]", method='{name = "darts", order = 3}')}, ["run", "c.toml"]),
    ("methods", "PC-DARTS on channels it cannot split", {"l.npz": lambda f: _npz(f, "l.npz", x=np.zeros((20, 32, 32, 3), np.uint8), y=np.arange(20) % 2),
                                                         "c.toml": ONESHOT.format(path="l.npz", split="[8, 8]", method='"pc_darts"').replace("channels = 4", "channels = 6").replace("epochs = 1", "epochs = 1\nbatch_size = 4")},
     ["run", "c.toml"]),
]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in folder.rglob("*")}


def _prepare_store(folder: Path) -> None:
    (folder / "prep.toml").write_text(_search())
    out = subprocess.run([sys.executable, "-m", "nasplug.core", "run", "prep.toml"], cwd=folder, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"could not prepare a store: {out.stderr}")
    (folder / "prep.toml").unlink()


def run_case(files: dict[str, Any], args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nasplug-reliability-") as tmp:
        folder = Path(tmp)
        for name, content in files.items():
            if content == "prepared":
                _prepare_store(folder)
            elif callable(content):
                content(folder)
            else:
                (folder / name).write_text(content)
        before = _snapshot(folder)
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "nasplug.core", *args], cwd=folder, capture_output=True, text=True, timeout=600)
        after = _snapshot(folder)
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        written = sorted(k for k, v in after.items() if before.get(k) != v)
        # SQLite's shared-memory index and write-ahead log appear next to any WAL database a
        # reader opens; they hold no data. Only count them when the database itself changed.
        written = [w for w in written if not (w.endswith(("-shm", "-wal")) and w[:-4] not in written)]
        return {"exit": out.returncode, "first_line": lines[0] if lines else "", "stderr_lines": len(lines),
                "traceback": "Traceback" in out.stderr, "written": written, "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated classes to run")
    args = parser.parse_args(argv)
    benchmarks_dir()
    only = {c for c in args.only.split(",") if c}
    rows = []
    for cls, case, files, cli_args in CASES:
        if only and cls not in only:
            continue
        r = {"class": cls, "case": case, "command": "nasplug " + " ".join(cli_args), **run_case(files, cli_args)}
        r["ok"] = (r["exit"] == 2 and r["stderr_lines"] == 1 and r["first_line"].startswith("error: ")
                   and not r["traceback"] and not r["written"])
        rows.append(r)
        print(f"{'ok ' if r['ok'] else 'BAD'} {cls:<12} {case:<45} exit {r['exit']}  {r['first_line'][:110]}", flush=True)
    good = sum(r["ok"] for r in rows)
    lines = ["# Bad input against the CLI", "",
             f"{good} of {len(rows)} cases end with one `error:` line, exit status 2, no traceback and nothing written "
             "(`python bench/reliability.py`; each case in a fresh folder holding only its inputs).", "",
             "| class | case | exit | stderr lines | written | first line of stderr |", "|---|---|---|---|---|---|"]
    for r in rows:
        first = r["first_line"].replace("|", "\\|")
        lines.append(f"| {r['class']} | {r['case']} | {r['exit']} | {r['stderr_lines']} | {', '.join(r['written']) or '-'} | {first} |")
    write_results("reliability", {"cases": rows, "ok": good, "total": len(rows)}, "\n".join(lines))
    if good != len(rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
