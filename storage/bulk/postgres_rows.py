"""Many rows in one short PostgreSQL statement: the rows travel as one JSON parameter, which
PostgreSQL unpacks into the table's own row type (`json_populate_recordset`).

SQLAlchemy sends a batch of rows either as a multi-row `VALUES` (one parameter per value:
hundreds for a batch, a statement too long for psycopg to cache or prepare, split and planned
anew each time) or as an executemany (the rows executed one by one on the server). This
statement is the same whatever the number of rows: cached, prepared, executed once.

`write` goes one step further for what a transaction writes at its end (new tickets, audit
rows, outbox messages, inbox outcomes, the day's ticket counter): each table's part becomes one
data-modifying `WITH` clause of a single statement, so the end of a batch is one round trip
instead of one a table. The parts touch different tables and nothing in them reads what another
writes, which is what makes running them under one snapshot the same as running them in turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.models import UTCDateTime

_STATEMENTS: dict[tuple, sa.TextClause] = {}
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # a bind parameter in a text clause (as SQLAlchemy finds them)

Insert = tuple[sa.Table, list[dict[str, Any]]]
Update = tuple[sa.Table, tuple[str, ...], list[dict[str, Any]]]
Other = tuple[str, sa.TextClause, dict[str, Any]]  # (the table it writes, the statement, its parameters)


def as_json(rows: Sequence[dict]) -> str:
    """Rows as JSON, times as the naive UTC the columns hold (what `UTCDateTime` writes)."""
    return json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows], ensure_ascii=False)


_TIME = UTCDateTime()


def _plain(v: object) -> object:
    return _TIME.process_bind_param(v, None).isoformat() if isinstance(v, datetime) else v  # type: ignore[union-attr]


def _insert_sql(table: str, columns: Sequence[str], param: str) -> str:
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::"{table}", CAST(:{param} AS json))'


def _update_sql(table: str, columns: Sequence[str], param: str) -> str:
    sets = ", ".join(f'"{c}" = v."{c}"' for c in columns)
    return (
        f'UPDATE "{table}" SET {sets} FROM json_populate_recordset(NULL::"{table}", CAST(:{param} AS json)) AS v '
        f'WHERE "{table}".id = v.id'
    )


def insert(
    table: sa.Table, columns: Sequence[str], *, on_conflict: Sequence[str] = (), returning: Sequence[str] = ()
) -> sa.TextClause:
    """INSERT of `columns` from the rows in parameter `rows` (see `as_json`)."""
    key = ("insert", table.name, tuple(columns), tuple(on_conflict), tuple(returning))
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        sql = _insert_sql(table.name, columns, "rows")
        if on_conflict:
            sql += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        stmt = _STATEMENTS[key] = sa.text(sql)
    return stmt


def write(
    conn: sa.Connection, inserts: Sequence[Insert], updates: Sequence[Update] = (), others: Sequence[Other] = ()
) -> None:
    """Write new rows (`inserts`), changes by id (`updates`) and other single-table writes in one
    statement; in turn instead if two of them write the same table (one would not see the other's
    rows under the statement's one snapshot)."""
    inserts = [(t, rows) for t, rows in inserts if rows]
    updates = [(t, cols, rows) for t, cols, rows in updates if rows]
    tables = [t.name for t, _ in inserts] + [t.name for t, _, _ in updates] + [name for name, _, _ in others]
    if len(set(tables)) < len(tables):
        for part in _parts(inserts, updates, others):
            conn.execute(*_one_statement([part]))
        return
    parts = _parts(inserts, updates, others)
    if parts:
        conn.execute(*_one_statement(parts))


def _parts(
    inserts: Iterable[Insert], updates: Iterable[Update], others: Iterable[Other]
) -> list[tuple[tuple, str, dict]]:
    """Each write as (cache key, SQL with its own parameter names, parameters)."""
    parts: list[tuple[tuple, str, dict]] = []
    for table, rows in inserts:
        cols = tuple(rows[0])
        parts.append((("i", table.name, cols), _insert_sql(table.name, cols, "{p}rows"), {"rows": as_json(rows)}))
    for table, cols, rows in updates:
        parts.append((("u", table.name, cols), _update_sql(table.name, cols, "{p}rows"), {"rows": as_json(rows)}))
    for _, stmt, params in others:
        parts.append((("o", stmt.text), _BIND.sub(lambda m: f":{{p}}{m.group(1)}", stmt.text), params))
    return parts


def _one_statement(parts: list[tuple[tuple, str, dict]]) -> tuple[sa.TextClause, dict[str, Any]]:
    key = ("write", *(k for k, _, _ in parts))
    params = {f"p{i}_{name}": value for i, (_, _, ps) in enumerate(parts) for name, value in ps.items()}
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        sqls = [sql.replace("{p}", f"p{i}_") for i, (_, sql, _) in enumerate(parts)]
        head = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(sqls[:-1]))
        stmt = _STATEMENTS[key] = sa.text(f"WITH {head} {sqls[-1]}" if head else sqls[-1])
    return stmt, params
