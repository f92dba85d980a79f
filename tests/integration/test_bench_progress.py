"""bench/progress.py: a long bench's unfinished work survives a fresh checkout."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest


@pytest.fixture
def progress(bench_module, monkeypatch, tmp_path):
    module = bench_module("progress")
    monkeypatch.setattr(module, "WORK", tmp_path / "bench" / "work")
    monkeypatch.setattr(module, "PROGRESS", tmp_path / "bench" / "progress")
    return module


def test_save_and_restore_keep_rows_still_in_the_write_ahead_log(progress, tmp_path):
    work = tmp_path / "bench" / "work" / "demo-cpu"
    work.mkdir(parents=True)
    (work / "run1.oneshot.pt").write_bytes(b"checkpoint")
    writer = sqlite3.connect(work / "m-s0.db")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the rows stay in m-s0.db-wal, as in a running bench
    writer.execute("CREATE TABLE epochs (epoch INTEGER)")
    writer.executemany("INSERT INTO epochs VALUES (?)", [(e,) for e in range(7)])
    writer.commit()
    assert (work / "m-s0.db-wal").stat().st_size > 0
    progress.main(["save", "demo-cpu"])
    writer.close()
    saved = tmp_path / "bench" / "progress" / "demo-cpu"
    assert sorted(p.name for p in saved.iterdir()) == ["m-s0.db", "run1.oneshot.pt"]

    import shutil

    shutil.rmtree(tmp_path / "bench" / "work")  # the fresh checkout
    progress.main(["restore", "demo-cpu"])
    with closing(sqlite3.connect(work / "m-s0.db")) as db:
        assert [e for (e,) in db.execute("SELECT epoch FROM epochs ORDER BY epoch")] == list(range(7))
    assert (work / "run1.oneshot.pt").read_bytes() == b"checkpoint"


def test_restore_never_overwrites_work_in_progress(progress, tmp_path, capsys):
    for base in ("work", "progress"):
        folder = tmp_path / "bench" / base / "demo-cpu"
        folder.mkdir(parents=True)
        (folder / "state.json").write_text(base)
    with pytest.raises(SystemExit, match="already holds work"):
        progress.main(["restore", "demo-cpu"])
    assert (tmp_path / "bench" / "work" / "demo-cpu" / "state.json").read_text() == "work"
    with pytest.raises(SystemExit, match="name one folder"):
        progress.main(["save", "../elsewhere"])


def test_save_leaves_out_the_checkpoints_of_finished_runs(progress, tmp_path):
    """Only unfinished work is committed: a finished run's checkpoint is never read again."""
    work = tmp_path / "bench" / "work" / "demo-cpu"
    work.mkdir(parents=True)
    with closing(sqlite3.connect(work / "m-s0.db")) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, status TEXT NOT NULL)")
        db.executemany("INSERT INTO runs VALUES (?, ?)", [(1, "finished"), (2, "running")])
        db.commit()
    for run in (1, 2, 3):
        (work / f"m-s0.run{run}.oneshot.pt").write_bytes(b"checkpoint")
    (work / "other.run1.oneshot.pt").write_bytes(b"no store beside it")
    progress.main(["save", "demo-cpu"])
    saved = sorted(p.name for p in (tmp_path / "bench" / "progress" / "demo-cpu").iterdir())
    assert saved == ["m-s0.db", "m-s0.run2.oneshot.pt", "m-s0.run3.oneshot.pt", "other.run1.oneshot.pt"]


def test_save_leaves_out_files_over_two_megabytes(progress, tmp_path, capsys):
    """Data that large does not belong in git: it stays in bench/work only."""
    work = tmp_path / "bench" / "work" / "demo-cpu"
    work.mkdir(parents=True)
    (work / "big-train.pt").write_bytes(b"x" * (progress.MAX_SAVED_BYTES + 1))
    (work / "curve.json").write_bytes(b"y" * progress.MAX_SAVED_BYTES)
    progress.main(["save", "demo-cpu"])
    assert [p.name for p in (tmp_path / "bench" / "progress" / "demo-cpu").iterdir()] == ["curve.json"]
    assert "left out big-train.pt (2.0 MB, over 2 MB)" in capsys.readouterr().out
    assert (work / "big-train.pt").exists()
