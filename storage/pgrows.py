"""Many rows in one short PostgreSQL statement: the rows travel as one JSON parameter, which
PostgreSQL unpacks into the table's own row type (`json_populate_recordset`).

SQLAlchemy sends a batch of rows either as a multi-row `VALUES` (one parameter per value:
hundreds for a batch, a statement too long for psycopg to cache or prepare, split and planned
anew each time) or as an executemany (the rows executed one by one on the server). This
statement is the same whatever the number of rows: cached, prepared, executed once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from storage.models import UTCDateTime

_STATEMENTS: dict[tuple, sa.TextClause] = {}


def as_json(rows: Sequence[dict]) -> str:
    """Rows as JSON, times as the naive UTC the columns hold (what `UTCDateTime` writes)."""
    return json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows], ensure_ascii=False)


_TIME = UTCDateTime()


def _plain(v: object) -> object:
    return _TIME.process_bind_param(v, None).isoformat() if isinstance(v, datetime) else v  # type: ignore[union-attr]


def insert(table: sa.Table, columns: Sequence[str], *, on_conflict: Sequence[str] = (), returning: Sequence[str] = ()) -> sa.TextClause:
    """INSERT of `columns` from the rows in parameter `rows` (see `as_json`)."""
    key = ("insert", table.name, tuple(columns), tuple(on_conflict), tuple(returning))
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        cols = ", ".join(f'"{c}"' for c in columns)
        sql = f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::"{table.name}", CAST(:rows AS json))'
        if on_conflict:
            sql += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        stmt = _STATEMENTS[key] = sa.text(sql)
    return stmt


def update(table: sa.Table, columns: Sequence[str]) -> sa.TextClause:
    """UPDATE of `columns` by `id` from the rows in parameter `rows` (see `as_json`)."""
    key = ("update", table.name, tuple(columns))
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        sets = ", ".join(f'"{c}" = v."{c}"' for c in columns)
        stmt = _STATEMENTS[key] = sa.text(
            f'UPDATE "{table.name}" SET {sets} FROM json_populate_recordset(NULL::"{table.name}", CAST(:rows AS json)) AS v '
            f'WHERE "{table.name}".id = v.id')
    return stmt
