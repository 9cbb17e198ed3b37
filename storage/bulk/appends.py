"""Append-only rows (outbox messages, audit events) written in batches instead of one ORM object each.

A message usually produces two or three such rows, and nobody needs their ids in the transaction
that writes them. Building ORM objects and flushing them one by one costs several times what
the database does; here they wait in the session as plain dicts and go out as one executemany
per table. Read-your-writes holds: the buffer is written before any statement the session runs
that touches a queued table or cannot be read for its tables (raw SQL), so a query in the same
transaction sees the rows, and before the commit; a rollback drops it. None of these tables has
a foreign key, so when their rows go out relative to the session's own flushes does not matter.
Changes by id that are only written, never read back in the transaction (a batch's inbox
outcomes), wait the same way (`update_later`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.util import find_tables

from storage.bulk import postgres_rows, sqlite_rows
from storage.bulk.objects import attach_as_written, column_values

_KEY = "shanzhi_appends"
_LATEST = "shanzhi_latest"
_UPDATES = "shanzhi_updates"


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


def update_later(session: Session, table: sa.Table, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Queue changes to rows of `table` by id (each row: its `id` and `columns`), written with
    the queued rows (a batch's inbox outcomes: on PostgreSQL, in the same statement)."""
    if rows:
        session.info.setdefault(_UPDATES, []).append((table, tuple(columns), rows))


def write_appended(session: Session) -> None:
    """Write what is queued: the new rows in the order their tables were first used, the updates,
    then the latest values; on PostgreSQL all in one statement (`postgres_rows.write`)."""
    pending = session.info.pop(_KEY, None) or {}
    updates = session.info.pop(_UPDATES, None) or []
    latest = session.info.pop(_LATEST, None) or {}
    if not pending and not updates and not latest:
        return
    conn = session.connection()
    inserts, objects = [], []
    for table, rows in pending.items():
        if rows and not isinstance(rows[0], dict):
            objects.append(rows)
            rows = [column_values(obj, with_key=True) for obj in rows]
        inserts.append((table, rows))
    if conn.dialect.name == "postgresql":
        postgres_rows.write(conn, inserts, updates, [(key[0], stmt, params) for key, (stmt, params) in latest.items()])
    else:
        _write_in_turn(conn, inserts, updates, latest.values())
    for objs in objects:
        attach_as_written(session, objs)


def _write_in_turn(conn: sa.Connection, inserts: list, updates: list, latest: Iterable) -> None:
    for table, rows in inserts:
        if rows:
            sqlite_rows.insert(conn, table, rows)
    for table, columns, rows in updates:
        sqlite_rows.update(conn, table, columns, rows)
    for statement, params in latest:
        conn.execute(statement, params)


def _before_execute(state: ORMExecuteState) -> None:
    """Before a statement that may read what is queued. A statement over other tables only (a
    batch's staff look-ups, say) lets the queue grow, so a batch writes each table about once."""
    info = state.session.info
    if not info.get(_KEY) and not info.get(_LATEST) and not info.get(_UPDATES):
        return
    if _reads_only_other_tables(state.statement, info):
        return
    write_appended(state.session)


def _reads_only_other_tables(statement: sa.Executable, info: dict) -> bool:
    if not isinstance(statement, (sa.Select, sa.Insert, sa.Update, sa.Delete)):
        return False  # text and the like: anything may be read
    queued = (
        {t.name for t in info.get(_KEY, ())}
        | {key[0] for key in info.get(_LATEST, {})}
        | {u[0].name for u in info.get(_UPDATES, ())}
    )
    return not any(
        t.name in queued for t in find_tables(statement, include_joins=True, include_aliases=True, include_crud=True)
    )


def _before_commit(session: Session) -> None:
    write_appended(session)


def _discard(session: Session, *args: object) -> None:
    for key in (_KEY, _LATEST, _UPDATES):
        session.info.pop(key, None)


def install(factory: sessionmaker) -> None:  # type: ignore[type-arg]
    """Hook the buffer into every session of `factory`."""
    event.listen(factory, "do_orm_execute", _before_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_rollback", _discard)
