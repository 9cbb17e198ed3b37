"""Storing a batch runs statement by statement (services.uow.statement_by_statement): each
statement has committed when it returns, so what was stored stays stored whatever comes after,
on both engines; nothing added to the session is left unwritten."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.uow import statement_by_statement
from storage import db
from storage.models import Region
from tests.support.databases import migrated_engine

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    yield from migrated_engine(database_url)


def _stored(engine: sa.Engine, table: str) -> int:
    with engine.connect() as c:  # another connection: sees only what has committed
        return int(c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar())


def _inbox_row(message_id: str) -> sa.TextClause:
    return sa.text(
        "INSERT INTO inbox (platform, chat_id, chat_type, message_id, variant, sender_id, sender_name, kind, text, "
        f"status, attempts) VALUES ('local', 'g', 'group', '{message_id}', '', 'u1', '王大妈', 'text', '村口路灯坏了', "
        "'pending', 0)"
    )


def test_a_stored_message_stays_stored_when_a_later_statement_fails(engine: sa.Engine) -> None:
    factory = db.session_factory(engine)
    with pytest.raises(sa.exc.IntegrityError), statement_by_statement(factory, engine, NOW) as uow:
        uow.session.execute(_inbox_row("m1"))
        assert _stored(engine, "inbox") == 1  # committed as it returned, before the unit ended
        uow.session.execute(_inbox_row("m1"))  # the same message again: the unique key refuses it

    assert _stored(engine, "inbox") == 1


def test_what_is_added_to_the_session_is_written_when_the_unit_ends(engine: sa.Engine) -> None:
    factory = db.session_factory(engine)
    with statement_by_statement(factory, engine, NOW) as uow:
        uow.session.add(Region(code="heping", name="和平村", level="village"))

    assert _stored(engine, "region") == 1
