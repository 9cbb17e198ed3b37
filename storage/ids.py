"""Primary keys taken before the INSERT, so a new row can be referred to without a flush.

Opening a ticket used to flush the session once just to learn the ticket's id (for its reporter,
audit and outbox rows); that flush cost more than everything else the ticket needed. With the
id known up front the ticket waits in the session with the batch's other new objects and goes
out with them in one flush.

PostgreSQL hands out ids from the table's own sequence, a few at a time, kept by the process
for its later transactions (`nextval` is never rolled back and never repeats, so no other
process or transaction gets them; ids left unused leave gaps, which nothing reads meaning into).

SQLite has no sequence: the first id a transaction takes is one past the table's largest, the
next ones count on from there (every new row of such a table is given its id here, so none is
written without one). A ticket's transaction has already written (the day's number comes
first), so it holds SQLite's write lock and no other process can take the same id. Where no
write came first (a consultation), a second process could; then one INSERT fails on the
primary key and that message is processed again, as after any lost race. The same holds for a
batch's first-time speakers (people and accounts, `storage.bulk.objects.insert_now`), registered before
the batch writes anything else; their rows are only ever added through here in a message's
transaction (the org file's load, which adds staff by the ORM, runs in a transaction of its own).
"""

from __future__ import annotations

import threading
import weakref

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

_KEY = "shanzhi_ids"
BLOCK = 64  # ids fetched from a PostgreSQL sequence at a time
_NEXTVAL = sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
_free: weakref.WeakKeyDictionary[sa.Engine, dict[str, list[int]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def next_id(session: Session, table: sa.Table) -> int:
    """An id for a new row of `table` (whose primary key is `id`), to set before adding it."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return _from_sequence(conn, table)
    taken = session.info.setdefault(_KEY, {})
    last = taken.get(table.name)
    if last is None:
        last = conn.exec_driver_sql(f'SELECT max(id) FROM "{table.name}"').scalar() or 0
    taken[table.name] = last + 1
    return last + 1


def _from_sequence(conn: sa.Connection, table: sa.Table) -> int:
    with _lock:
        free = _free.setdefault(conn.engine, {}).setdefault(table.name, [])
        if not free:
            free.extend(sorted(conn.execute(_NEXTVAL, {"t": table.name, "n": BLOCK}).scalars().all(), reverse=True))
        return free.pop()


def install(factory: sessionmaker) -> None:  # type: ignore[type-arg]
    """Forget SQLite's ids when a transaction ends: the next one reads the table afresh."""
    sa.event.listen(factory, "after_commit", _forget)
    sa.event.listen(factory, "after_rollback", _forget)


def _forget(session: Session, *args: object) -> None:
    session.info.pop(_KEY, None)


class MissingId(RuntimeError):
    """A row was used as saved before it had an id: a bug in the caller, not a state of the data."""


def id_of(row: object) -> int:
    """The id of a saved row (SQLModel types every primary key as ``int | None``: None only before the INSERT)."""
    value = getattr(row, "id", None)
    if value is None:
        raise MissingId(f"{type(row).__name__} has no id yet")
    return int(value)
