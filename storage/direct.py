"""An ORM object written at once by one Core INSERT, then handed to the session as persistent.

A first-time speaker becomes a person and an account, and the account's foreign key needs the
person's id at once. Flushing the session for each costs several times the INSERT itself (the
unit of work walks every object the session holds); writing the row directly and attaching the
object as already persistent gives the same state for a fraction of it. The object must be new
(transient), and nothing else may refer to it yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached


def insert_now(session: Session, obj: object) -> None:
    mapper = sa.inspect(type(obj))
    values = {}
    for attr in mapper.column_attrs:
        value = getattr(obj, attr.key)
        column = attr.columns[0]
        if value is None and column.primary_key:
            continue
        values[column.key] = value
    result = session.connection().execute(mapper.local_table.insert(), values)
    for attr, key in zip(mapper.primary_key, result.inserted_primary_key or ()):
        setattr(obj, mapper.get_property_by_column(attr).key, key)
    make_transient_to_detached(obj)
    session.add(obj)
