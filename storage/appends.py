"""Append-only rows (outbox messages, audit events) written in batches instead of one ORM object each.

A message usually produces two or three such rows, and nobody needs their ids in the transaction
that writes them. Building ORM objects and flushing them one by one costs several times what
the database does; here they wait in the session as plain dicts and go out as one executemany
per table. Read-your-writes holds: the buffer is written before any statement the session runs
that touches a queued table or cannot be read for its tables (raw SQL), so a query in the same
transaction sees the rows, and before the commit; a rollback drops it. None of these tables has
a foreign key, so when their rows go out relative to the session's own flushes does not matter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.util import find_tables

from storage import pgrows
from storage.direct import attach_as_written, column_values

_KEY = "shanzhi_appends"
_LATEST = "shanzhi_latest"


def append(session: Session, table: sa.Table, row: dict[str, Any]) -> None:
    """Queue one row for `table`; every row of a table must carry the same keys (one executemany)."""
    session.info.setdefault(_KEY, {}).setdefault(table, []).append(row)


def set_latest(session: Session, key: tuple[str, object], statement: sa.Executable, params: dict[str, Any]) -> None:
    """Queue a statement that only the latest of its `key` (table name, row) matters for (a
    counter's new value): written with the rows, so a counter advanced many times in a
    transaction is written once."""
    session.info.setdefault(_LATEST, {})[key] = (statement, params)


def append_object(session: Session, obj: object) -> None:
    """Queue a new ORM object whose primary key is set (a ticket) like a row: written with the
    queued rows, from its values at that moment, then handed to the session as persistent, so a
    later change to it is an UPDATE. Until then the session does not know it: it is read back
    through whoever queued it, and a query of its table writes it first, as for any queued row.
    A table's queue holds rows or objects, not both."""
    session.info.setdefault(_KEY, {}).setdefault(sa.inspect(type(obj)).local_table, []).append(obj)


def write_appended(session: Session) -> None:
    """Write what is queued, in the order the tables were first used, then the latest values."""
    pending = session.info.pop(_KEY, None)
    latest = session.info.pop(_LATEST, None)
    if not pending and not latest:
        return
    conn = session.connection()
    for table, rows in (pending or {}).items():
        if rows and not isinstance(rows[0], dict):
            _insert(conn, table, [column_values(obj, with_key=True) for obj in rows])
            attach_as_written(session, rows)
        else:
            _insert(conn, table, rows)
    for statement, params in (latest or {}).values():
        conn.execute(statement, params)


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":  # one statement, not one a row (storage.pgrows)
        conn.execute(pgrows.insert(table, list(rows[0])), {"rows": pgrows.as_json(rows)})
    else:
        conn.execute(table.insert(), rows)


def _before_execute(state: ORMExecuteState) -> None:
    """Before a statement that may read what is queued. A statement over other tables only (a
    batch's staff look-ups, say) lets the queue grow, so a batch writes each table about once."""
    info = state.session.info
    if not info.get(_KEY) and not info.get(_LATEST):
        return
    if _reads_only_other_tables(state.statement, info):
        return
    write_appended(state.session)


def _reads_only_other_tables(statement: sa.Executable, info: dict) -> bool:
    if not isinstance(statement, (sa.Select, sa.Insert, sa.Update, sa.Delete)):
        return False  # text and the like: anything may be read
    queued = {t.name for t in info.get(_KEY, ())} | {key[0] for key in info.get(_LATEST, {})}
    return not any(t.name in queued for t in find_tables(statement, include_joins=True, include_aliases=True, include_crud=True))


def _before_commit(session: Session) -> None:
    write_appended(session)


def _discard(session: Session, *args: object) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_LATEST, None)


def install(factory: sessionmaker) -> None:  # type: ignore[type-arg]
    """Hook the buffer into every session of `factory`."""
    event.listen(factory, "do_orm_execute", _before_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_rollback", _discard)
