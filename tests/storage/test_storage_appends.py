"""Rows a transaction queues (`storage.bulk.appends`: new rows, changes by id, a counter's last value)
are written with its commit, all of them, on both engines: on PostgreSQL in one statement, or in
turn where one statement could not see what another part writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storage.bulk.appends import append, set_latest, update_later
from storage.db import make_engine, session_factory, upgrade
from storage.models import InboxMessage, TicketEvent

NOW = datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)
INBOX: sa.Table = InboxMessage.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = TicketEvent.__table__  # type: ignore[attr-defined]
SET_DAY = sa.text("UPDATE day_sequence SET last = :n WHERE day = :d")


def _inbox_row(message_id: str, **over: object) -> dict:
    row = dict(
        platform="local",
        chat_id="g1",
        chat_type="group",
        message_id=message_id,
        variant="",
        sender_id="u1",
        sender_name="王大爷",
        kind="text",
        text="村口路灯坏了",
        reply_to=None,
        mentions=None,
        attachment=None,
        callback_id=None,
        chat_title="和平村群",
        sent_at=NOW,
        received_at=NOW,
        status="pending",
        attempts=0,
        processed_at=None,
        result=None,
        ticket_id=None,
        error=None,
    )
    row.update(over)
    return row


def _event(ticket_id: int, action: str) -> dict:
    return dict(
        ticket_id=ticket_id, at=NOW, actor_id=None, action=action, from_status=None, to_status="registered", note=None
    )


@pytest.fixture
def factory(database_url: str):  # type: ignore[no-untyped-def]
    upgrade(database_url)
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def test_new_rows_changes_and_a_counter_queued_together_are_all_written_at_commit(factory) -> None:  # type: ignore[no-untyped-def]
    with factory() as s, s.begin():
        s.connection().execute(INBOX.insert(), [_inbox_row("m1"), _inbox_row("m2")])
        s.connection().execute(sa.text("INSERT INTO day_sequence (day, last) VALUES ('20261126', 1)"))
    with factory() as s, s.begin():
        ids = [r[0] for r in s.connection().execute(sa.select(INBOX.c.id).order_by(INBOX.c.id))]
        append(s, EVENTS, _event(1, "register"))
        append(s, EVENTS, _event(2, "register"))
        update_later(
            s,
            INBOX,
            ("status", "result", "processed_at", "ticket_id"),
            [
                {"id": i, "status": "done", "result": "ticket", "processed_at": NOW, "ticket_id": k}
                for k, i in enumerate(ids, start=1)
            ],
        )
        set_latest(s, ("day_sequence", "20261126"), SET_DAY, {"d": "20261126", "n": 2})
        set_latest(s, ("day_sequence", "20261126"), SET_DAY, {"d": "20261126", "n": 3})  # only the latest counts
    with factory() as s:
        c = s.connection()
        assert [
            tuple(r)
            for r in c.execute(sa.select(INBOX.c.status, INBOX.c.result, INBOX.c.ticket_id).order_by(INBOX.c.id))
        ] == [("done", "ticket", 1), ("done", "ticket", 2)]
        assert c.execute(sa.select(INBOX.c.processed_at)).scalars().all() == [NOW, NOW]
        assert sorted(c.execute(sa.select(EVENTS.c.ticket_id)).scalars()) == [1, 2]
        assert c.execute(sa.text("SELECT last FROM day_sequence WHERE day = '20261126'")).scalar() == 3


def test_a_change_to_a_row_queued_as_new_in_the_same_transaction_is_not_lost(factory) -> None:  # type: ignore[no-untyped-def]
    # in one PostgreSQL statement the UPDATE would not see the row its INSERT part adds
    with factory() as s, s.begin():
        append(s, INBOX, _inbox_row("m9", id=900))
        update_later(s, INBOX, ("status", "result"), [{"id": 900, "status": "done", "result": "ignored"}])
    with factory() as s:
        row = s.connection().execute(sa.select(INBOX.c.status, INBOX.c.result).where(INBOX.c.id == 900)).one()
        assert tuple(row) == ("done", "ignored")


def test_a_query_of_a_table_with_queued_changes_sees_them(factory) -> None:  # type: ignore[no-untyped-def]
    with factory() as s, s.begin():
        s.connection().execute(INBOX.insert(), [_inbox_row("m1")])
    with factory() as s, s.begin():
        i = s.connection().execute(sa.select(INBOX.c.id)).scalar()
        update_later(s, INBOX, ("status",), [{"id": i, "status": "done"}])
        assert s.execute(sa.select(InboxMessage.status)).scalar() == "done"


def test_queued_changes_are_dropped_by_a_rollback(factory) -> None:  # type: ignore[no-untyped-def]
    with factory() as s, s.begin():
        s.connection().execute(INBOX.insert(), [_inbox_row("m1")])
    with pytest.raises(RuntimeError), factory() as s, s.begin():
        i = s.connection().execute(sa.select(INBOX.c.id)).scalar()
        update_later(s, INBOX, ("status",), [{"id": i, "status": "done"}])
        append(s, EVENTS, _event(1, "register"))
        raise RuntimeError("the batch failed")
    with factory() as s:
        assert s.connection().execute(sa.select(INBOX.c.status)).scalar() == "pending"
        assert s.connection().execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar() == 0
