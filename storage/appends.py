"""Append-only rows (outbox messages, audit events) written in batches instead of one ORM object each.

A message usually produces two or three such rows, and nobody needs their ids in the transaction
that writes them. Building ORM objects and flushing them one by one costs several times what
the database does; here they wait in the session as plain dicts and go out as one executemany
per table. Read-your-writes holds: the buffer is written before any statement the session runs
(so a query in the same transaction sees the rows) and before the commit; a rollback drops it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

_KEY = "shanzhi_appends"


def append(session: Session, table: sa.Table, row: dict[str, Any]) -> None:
    """Queue one row for `table`; every row of a table must carry the same keys (one executemany)."""
    session.info.setdefault(_KEY, {}).setdefault(table, []).append(row)


def write_appended(session: Session) -> None:
    """Write what is queued, in the order the tables were first used."""
    pending = session.info.pop(_KEY, None)
    if not pending:
        return
    conn = session.connection()
    for table, rows in pending.items():
        conn.execute(table.insert(), rows)


def _before_execute(state: ORMExecuteState) -> None:
    write_appended(state.session)


def _before_commit(session: Session) -> None:
    write_appended(session)


def _discard(session: Session, *args: object) -> None:
    session.info.pop(_KEY, None)


def install(factory: sessionmaker) -> None:  # type: ignore[type-arg]
    """Hook the buffer into every session of `factory`."""
    event.listen(factory, "do_orm_execute", _before_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_rollback", _discard)
