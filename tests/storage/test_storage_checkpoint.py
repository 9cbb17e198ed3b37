"""The running bot's SQLite file is checkpointed on a thread of its own (storage.checkpoint): its
commits never copy the write-ahead log back themselves, nothing committed is lost, and once the
engine is disposed SQLite checkpoints by itself again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from storage.checkpoint import checkpoint_in_background
from storage.db import make_engine


def _write(engine: sa.Engine, n: int) -> None:
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, body TEXT)")
        c.exec_driver_sql("INSERT INTO note (body) VALUES (?)", [("村口路灯坏了" * 50,) for _ in range(n)])


def _autocheckpoint(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()


def test_the_bots_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = str(tmp_path / "bot.db")
    engine = make_engine(f"sqlite:///{path}")
    checkpointer = checkpoint_in_background(engine, path, interval=3600)  # no round during the test
    try:
        assert checkpointer.running and _autocheckpoint(engine) == 0
        for _ in range(3):
            _write(engine, 3000)  # ~750 pages each: past the 1,000 at which a commit would checkpoint
        busy, in_log, done = checkpointer.checkpoint()
        assert in_log > 1000 and done == in_log and busy == 0  # nothing had been copied back before
    finally:
        engine.dispose()


def test_nothing_committed_is_lost_when_the_engine_is_disposed(tmp_path: Path) -> None:
    path = str(tmp_path / "bot.db")
    engine = make_engine(f"sqlite:///{path}")
    checkpointer = checkpoint_in_background(engine, path, interval=3600)
    _write(engine, 200)
    engine.dispose()
    assert not checkpointer.running
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM note").fetchone()[0] == 200
        assert conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1:] in (
            (0, 0),
            (-1, -1),
        )  # the log was copied back
    assert _autocheckpoint(engine) == 1000  # a connection made afterwards checkpoints as SQLite does by default


def test_the_running_bot_checkpoints_in_the_background(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}", background=True)
    try:
        assert _autocheckpoint(engine) == 0
    finally:
        engine.dispose()
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")  # other engines (CLI tools, tests): SQLite's default
    assert _autocheckpoint(other) == 1000
    other.dispose()
