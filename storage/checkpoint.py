"""SQLite's WAL checkpoints on a thread of their own, out of the way of the bot's commits.

In WAL mode every commit appends to the write-ahead log, and by default the commit that takes
the log past 1,000 pages also copies the log back into the database file and syncs it (the
checkpoint): that one commit then takes 5-10 ms instead of 2. The ingest benchmark saw it in 80
batches out of 1,000, most of its slowest, and a resident's receipt waits for it as well.

The bot's engine turns automatic checkpoints off and this thread checkpoints every `interval`
seconds on a connection of its own. PASSIVE checkpoints never wait for, nor block, a reader or a
writer: they copy what no reader still needs and leave the rest for the next round. sqlite3
releases the GIL while it works, so the copying and syncing run beside the bot. When the
engine is disposed the thread stops after a last checkpoint; if the process dies instead,
SQLite replays the log at the next start, so nothing committed is lost either way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import sqlalchemy as sa
from sqlalchemy import event

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between checkpoints


class WalCheckpointer:
    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint (again: a no-op)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        self._thread = None
        try:
            self.checkpoint()
        except sqlite3.Error:
            log.warning(
                "last SQLite checkpoint of %s failed; SQLite replays the log at the next start",
                self.path,
                exc_info=True,
            )
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames checkpointed), as SQLite says."""
        with self._lock:
            if self._conn is None:  # mode=rw: never creates a database file that is not there
                self._conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=30, check_same_thread=False)
            busy, in_log, done = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(in_log), int(done)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except sqlite3.Error:  # a locked or busy file: the next round tries again
                log.warning(
                    "SQLite checkpoint of %s failed; trying again in %.1f s", self.path, self.interval, exc_info=True
                )


def checkpoint_in_background(engine: sa.Engine, path: str, interval: float = INTERVAL) -> WalCheckpointer:
    """Turn `engine`'s automatic checkpoints off and checkpoint on a thread until it is disposed."""

    checkpointer = WalCheckpointer(path, interval)

    @event.listens_for(engine, "connect")
    def _no_auto_checkpoint(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        if checkpointer.running:  # a connection made after the thread stopped checkpoints as usual
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
    checkpointer.start()
    return checkpointer
