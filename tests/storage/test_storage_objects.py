"""Objects built straight into their state (`storage.bulk.objects.new`) are the objects the model's
constructor builds, and are stored as such."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storage.bulk.objects import new
from storage.db import make_engine, session_factory, upgrade
from storage.models import Account, ChatGroup, Consultation, Person, Ticket, TicketReporter

NOW = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)

CASES = [
    (
        Ticket,
        dict(
            no="SG20261125-0001",
            status="registered",
            category="road",
            urgent=False,
            text="村口路灯坏了",
            details=[],
            attachments=[],
            platform="local",
            chat_id="g1",
            source_message_id="m1",
            source_inbox_id=7,
            private=False,
            region_code="heping",
            reporter_id=3,
            confidence=0.9,
            evidence="路灯",
            created_at=NOW,
            updated_at=NOW,
        ),
    ),
    (TicketReporter, dict(ticket_id=1, person_id=3, platform="local", chat_id="g1", message_id="m1", joined_at=NOW)),
    (
        Consultation,
        dict(
            inbox_id=7,
            platform="local",
            chat_id="g1",
            region_code="heping",
            person_id=3,
            text="低保怎么申请",
            created_at=NOW,
        ),
    ),
    (Person, dict(name="王大爷", role="resident", created_at=NOW)),
    (Account, dict(platform="local", user_id="u1", display_name="王大爷", last_group_chat_id="g1")),
    (ChatGroup, dict(platform="local", chat_id="g1", title="和平村群", created_at=NOW, tags={})),
]


def _fields(obj: object) -> dict:
    return {k: v for k, v in vars(obj).items() if k != "_sa_instance_state"}


@pytest.mark.parametrize("cls, values", CASES, ids=[c[0].__name__ for c in CASES])
def test_an_object_built_directly_equals_the_constructed_one(cls, values) -> None:
    built, constructed = new(cls, **values), cls(**values)
    assert _fields(built) == _fields(constructed)
    assert built.__pydantic_fields_set__ == constructed.__pydantic_fields_set__
    assert sa.inspect(built).transient


def test_a_misspelt_field_is_refused() -> None:
    with pytest.raises(TypeError, match="statuss"):
        new(Ticket, statuss="registered")


def test_a_ticket_built_directly_is_stored_and_updated_like_any_other(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    factory = session_factory(engine)
    values = dict(CASES[0][1])
    try:
        with factory() as s, s.begin():
            t = new(Ticket, **values)
            s.add(t)
            s.flush()
            t.status = "dispatched"  # a change after the INSERT is an UPDATE
        with factory() as s:
            stored = s.get(Ticket, t.id)
            assert stored is not None and stored.status == "dispatched"
            assert {k: getattr(stored, k) for k in values if k != "status"} == {
                k: v for k, v in values.items() if k != "status"
            }
    finally:
        engine.dispose()
