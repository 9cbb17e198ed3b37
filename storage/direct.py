"""ORM objects written at once by one Core INSERT, then handed to the session as persistent.

A first-time speaker becomes a person and an account, and the account's foreign key needs the
person's id at once. Flushing the session for each costs several times the INSERT itself (the
unit of work walks every object the session holds), and a batch's new speakers would cost a
round trip each; writing the rows of one class in one multi-row INSERT … RETURNING and attaching
the objects as already persistent gives the same state for a fraction of it. The objects must
be new (transient), of one class, and nothing may refer to them yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached


def column_values(obj: object) -> dict[str, object]:
    """The object's row as column values, without its primary key (the database assigns it)."""
    mapper = sa.inspect(type(obj))
    return {attr.columns[0].key: getattr(obj, attr.key) for attr in mapper.column_attrs if not attr.columns[0].primary_key}


def insert_now(session: Session, objs: Sequence[object]) -> None:
    if not objs:
        return
    mapper = sa.inspect(type(objs[0]))
    (pk,) = mapper.primary_key
    pk_attr = mapper.get_property_by_column(pk).key
    rows = [column_values(obj) for obj in objs]
    stmt = mapper.local_table.insert().returning(pk, sort_by_parameter_order=True)
    ids = session.connection().execute(stmt, rows).scalars().all()
    for obj, new_id in zip(objs, ids, strict=True):
        setattr(obj, pk_attr, new_id)
        make_transient_to_detached(obj)
        session.add(obj)
