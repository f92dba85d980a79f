"""Keep a long bench's unfinished work across sessions: ``bench/work/`` is not committed, so what a
bench has not finished is copied to ``bench/progress/`` (committed) and back.

    python bench/progress.py save differentiable-cpu     # bench/work/differentiable-cpu -> bench/progress/
    python bench/progress.py restore differentiable-cpu  # back, in a fresh checkout; then rerun the bench
    python bench/progress.py list

SQLite stores are copied with SQLite's backup API (a consistent copy even while the bench writes
them, write-ahead log included); other files (checkpoints, summaries) are copied as they are, so
pause the bench (``kill -STOP``) while saving. A run's checkpoint (``<store>.run<id>.<kind>.pt``)
is left out once its store marks the run finished: a finished run is never resumed, and only
unfinished work belongs in git. A file over 2 MB (e.g. a large training checkpoint) is not saved:
data of that size does not belong in git; it stays in ``bench/work`` only, and the bench redoes
that part where the work folder is gone. Restoring never overwrites a newer work folder.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
PROGRESS = ROOT / "bench" / "progress"
#: Written by SQLite next to a store; the backup copy folds them into the store itself.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
#: The largest file ``save`` copies into the committed folder.
MAX_SAVED_BYTES = 2 * 1024 * 1024


#: A run's checkpoint next to its store: ``<store stem>.run<run id>.<run kind>.pt``.
CHECKPOINT = re.compile(r"^(?P<stem>.+)\.run(?P<run>\d+)\.[A-Za-z_]+\.pt$")


def _is_side_file(path: Path) -> bool:
    return any(path.name.endswith(".db" + suffix) for suffix in SQLITE_SIDE_FILES)


def _finished_runs_checkpoint(path: Path) -> bool:
    match = CHECKPOINT.match(path.name)
    store = path.with_name(f"{match['stem']}.db") if match else None
    if store is None or not store.exists():
        return False
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT status FROM runs WHERE id = ?", (int(match["run"]),)).fetchone()
    return row is not None and row[0] == "finished"


def copy_folder(source: Path, target: Path, max_bytes: int | None = None) -> list[str]:
    """Copy ``source`` into ``target`` (replaced): stores by the backup API, the rest as files;
    files over ``max_bytes`` are left out (and named on stdout)."""
    if not source.is_dir():
        raise SystemExit(f"error: {source} is not a folder; `list` shows what there is")
    if target.exists():
        shutil.rmtree(target)
    copied = []
    for path in sorted(source.rglob("*")):
        if path.is_dir() or _is_side_file(path) or _finished_runs_checkpoint(path):
            continue
        if max_bytes is not None and path.stat().st_size > max_bytes:
            print(f"left out {path.relative_to(source)} ({path.stat().st_size / 2**20:.1f} MB, over "
                  f"{max_bytes / 2**20:.0f} MB): it stays in {source.name} under bench/work only")
            continue
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".db":
            with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(out)) as dst:
                src.backup(dst)
        else:
            shutil.copy2(path, out)
        copied.append(str(path.relative_to(source)))
    return copied


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "restore", "list"))
    parser.add_argument("folder", nargs="?", help="a folder name under bench/work, e.g. differentiable-cpu")
    args = parser.parse_args(argv)
    if args.action == "list":
        for base in (WORK, PROGRESS):
            names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
            print(f"{base.relative_to(ROOT)}: {', '.join(names) or '(none)'}")
        return
    if not args.folder or "/" in args.folder or args.folder.startswith("."):
        raise SystemExit("error: name one folder under bench/work, e.g. `save differentiable-cpu`")
    if args.action == "save":
        copied = copy_folder(WORK / args.folder, PROGRESS / args.folder, MAX_SAVED_BYTES)
        print(f"saved {len(copied)} files to bench/progress/{args.folder}; commit them")
    else:
        target = WORK / args.folder
        if target.exists() and any(target.iterdir()):
            raise SystemExit(f"error: bench/work/{args.folder} already holds work; move it away to restore the saved copy")
        copied = copy_folder(PROGRESS / args.folder, target)
        print(f"restored {len(copied)} files to bench/work/{args.folder}; rerun the bench to continue")


if __name__ == "__main__":
    main()
