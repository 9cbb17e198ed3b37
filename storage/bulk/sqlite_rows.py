"""Many rows in one executemany on SQLite, without SQLAlchemy's per-row parameter handling.

A compiled INSERT executed with a list of rows has SQLAlchemy build each row's parameters
(name lookups, then each column type's bind conversion called through two layers of wrappers),
which for a batch's outbox and audit rows costs several times what SQLite then takes to write
them. Here each column's own bind processor (the same conversion SQLAlchemy applies: times to
naive UTC text, JSON to text) is looked up once per statement shape, and the rows go to the
driver as tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

CHUNK = 64  # rows a multi-row INSERT takes at most (few statement shapes; far below SQLite's 32,766 parameters)
_PREPARED: dict[tuple, tuple[str, tuple[Callable[[Any], Any] | None, ...]]] = {}  # by statement shape


def insert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (each with the same keys) into `table`."""
    columns = tuple(rows[0])
    sql, procs = _prepared(
        conn,
        ("insert", table.name, columns),
        table,
        columns,
        lambda: (
            f'INSERT INTO "{table.name}" ({", ".join(_q(c) for c in columns)}) VALUES ({", ".join("?" * len(columns))})'
        ),
    )
    conn.exec_driver_sql(sql, [_converted(row, columns, procs) for row in rows])


def insert_returning(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    on_conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple]:
    """INSERT `rows` in multi-row statements (one for up to CHUNK rows), skipping those whose
    `on_conflict` key is taken; the `returning` columns of the rows written, in no promised order
    (SQLite does not promise one)."""
    if len(rows) > CHUNK:
        return [
            r
            for k in range(0, len(rows), CHUNK)
            for r in insert_returning(conn, table, rows[k : k + CHUNK], on_conflict=on_conflict, returning=returning)
        ]
    columns = tuple(rows[0])
    one = f"({', '.join('?' * len(columns))})"
    sql, procs = _prepared(
        conn,
        ("insert_returning", table.name, columns, len(rows), tuple(on_conflict), tuple(returning)),
        table,
        columns,
        lambda: (
            f'INSERT INTO "{table.name}" ({", ".join(_q(c) for c in columns)}) VALUES {", ".join([one] * len(rows))} '
            f"ON CONFLICT ({', '.join(_q(c) for c in on_conflict)}) DO NOTHING "
            f"RETURNING {', '.join(_q(c) for c in returning)}"
        ),
    )
    params = tuple(v for row in rows for v in _converted(row, columns, procs))
    return [tuple(r) for r in conn.exec_driver_sql(sql, params)]


def update(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE `columns` of `table` by id from `rows` (each: `id` and `columns`)."""
    keyed = (*columns, "id")
    sql, procs = _prepared(
        conn,
        ("update", table.name, columns),
        table,
        keyed,
        lambda: f'UPDATE "{table.name}" SET {", ".join(f"{_q(c)} = ?" for c in columns)} WHERE id = ?',
    )
    conn.exec_driver_sql(sql, [_converted(row, keyed, procs) for row in rows])


def _prepared(
    conn: sa.Connection, shape: tuple, table: sa.Table, columns: tuple[str, ...], sql: Callable[[], str]
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    found = _PREPARED.get(shape)
    if found is None:
        procs = tuple(table.c[c].type._cached_bind_processor(conn.dialect) for c in columns)
        found = _PREPARED[shape] = (sql(), procs)
    return found


def _converted(row: dict[str, Any], columns: tuple[str, ...], procs: tuple[Callable[[Any], Any] | None, ...]) -> tuple:
    return tuple(v if p is None else p(v) for v, p in zip([row[c] for c in columns], procs))


def _q(name: str) -> str:
    return f'"{name}"'
