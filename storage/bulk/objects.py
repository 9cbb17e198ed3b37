"""ORM objects written at once by one Core INSERT, then handed to the session as persistent.

A first-time speaker becomes a person and an account, and the account's foreign key needs the
person's id at once. Flushing the session for each costs several times the INSERT itself (the
unit of work walks every object the session holds), and a batch's new speakers would cost a
round trip each; writing the rows of one class in one multi-row INSERT … RETURNING and attaching
the objects as already persistent gives the same state for a fraction of it (on SQLite, with
ids taken first: see `insert_now`). The objects must be new (transient), of one class, and
nothing may refer to them yet. `new` builds such objects cheaply; `column_values` reads their rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached

from storage.ids import next_id

T = TypeVar("T")


def column_values(obj: object, *, with_key: bool = False) -> dict[str, object]:
    """The object's row as column values; without its primary key unless `with_key` (by default
    the database assigns it)."""
    d = obj.__dict__  # every column of a new or loaded object is there (`new` sets them all)
    names = _columns(type(obj), with_key)
    if all(attr in d for _, attr in names):
        return {column: d[attr] for column, attr in names}
    return {column: getattr(obj, attr) for column, attr in names}


_COLUMNS: dict[tuple[type, bool], tuple[tuple[str, str], ...]] = {}


def _columns(cls: type, with_key: bool) -> tuple[tuple[str, str], ...]:
    """(column, attribute) names of a mapped class, read from its mapper once."""
    found = _COLUMNS.get((cls, with_key))
    if found is None:
        attrs: Any = sa.inspect(cls).column_attrs
        found = _COLUMNS[(cls, with_key)] = tuple(
            (attr.columns[0].key, attr.key) for attr in attrs if with_key or not attr.columns[0].primary_key
        )
    return found


def insert_now(session: Session, objs: Sequence[object]) -> None:
    if not objs:
        return
    mapper = sa.inspect(type(objs[0]))
    (pk,) = mapper.primary_key
    pk_attr = mapper.get_property_by_column(pk).key
    table = mapper.local_table
    if session.get_bind().dialect.name == "sqlite":
        # SQLite does not promise the order of a multi-row INSERT's RETURNING rows, so SQLAlchemy
        # would send one INSERT per row: with the ids taken first it is one executemany.
        for obj in objs:
            setattr(obj, pk_attr, next_id(session, table))
        session.connection().execute(table.insert(), [column_values(obj, with_key=True) for obj in objs])
    else:
        stmt = table.insert().returning(pk, sort_by_parameter_order=True)
        ids = session.connection().execute(stmt, [column_values(obj) for obj in objs]).scalars().all()
        for obj, new_id in zip(objs, ids, strict=True):
            setattr(obj, pk_attr, new_id)
    attach_as_written(session, objs)


def attach_as_written(session: Session, objs: Sequence[object]) -> None:
    """Hand new objects whose rows were just written to the session as persistent (no flush)."""
    for obj in objs:
        make_transient_to_detached(obj)
        session.add(obj)


_DEFAULTS: dict[type, tuple[dict[str, object], dict[str, object], frozenset[str]]] = {}


def new(cls: type[T], **values: object) -> T:
    """A new (transient) object of a table model, built as SQLAlchemy builds the objects it loads:
    its values written straight into its state, the model's defaults for the rest.

    Calling the model's constructor sets every field through two layers of attribute hooks
    (SQLAlchemy's instrumentation, then pydantic's), which for a ticket costs more than the rest
    of opening it; a new object has no history for those hooks to record. Table models do not
    validate in their constructor either, so the object is the same; a test checks it field by field."""
    spec = _DEFAULTS.get(cls)
    if spec is None:
        spec = _DEFAULTS[cls] = _defaults_of(cls)
    fixed, factories, names = spec  # (no model of ours has a default factory today)
    unknown = values.keys() - names
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    obj = sa.orm.class_mapper(cls).class_manager.new_instance()
    d = obj.__dict__
    d.update(fixed)
    for name, factory in factories.items():
        d[name] = factory()  # type: ignore[operator]
    d.update(values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    return obj


def _defaults_of(cls: type) -> tuple[dict[str, object], dict[str, object], frozenset[str]]:
    fixed: dict[str, object] = {}
    factories: dict[str, object] = {}
    for name, field in cls.model_fields.items():  # type: ignore[attr-defined]
        if field.default_factory is not None:
            factories[name] = field.default_factory
        elif not field.is_required():
            fixed[name] = field.default
    return fixed, factories, frozenset(cls.model_fields)  # type: ignore[attr-defined]
