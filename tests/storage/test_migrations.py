"""Migrations produce exactly the models' schema, on SQLite and PostgreSQL: up on an empty
database, and from the previous revision with data in it (the data survives)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (every table on SQLModel.metadata)
from storage import db


def _diff(url: str) -> list:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()


def _heads(url: str) -> tuple[str, str | None]:
    script = ScriptDirectory.from_config(db.alembic_config(url))
    head = script.get_current_head()
    assert head is not None
    prev = script.get_revision(head).down_revision
    assert not isinstance(prev, tuple), "merge revisions: pick the branch to test"
    return head, prev


def test_upgrade_on_empty_database_matches_models(database_url: str) -> None:
    db.upgrade(database_url)
    assert _diff(database_url) == []
    engine = db.make_engine(database_url)
    try:
        assert db.current_revision(engine) == _heads(database_url)[0]
    finally:
        engine.dispose()
    db.upgrade(database_url)  # idempotent: a second run changes nothing


def test_upgrade_from_previous_revision_keeps_data(database_url: str) -> None:
    head, prev = _heads(database_url)
    db.upgrade(database_url, prev or "base")
    now = datetime(2026, 11, 25, 1, 0)
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO region (code, name, level) VALUES ('v1', '和平村', 'village')"))
            c.execute(
                sa.text(
                    "INSERT INTO inbox (platform, chat_id, chat_type, message_id, variant, sender_id, sender_name, kind, text, "
                    "status, attempts, received_at) VALUES ('local', 'g', 'group', 'm1', '', 'u1', '王大妈', 'text', "
                    "'村口路灯坏了', 'done', 0, :now)"
                ),
                {"now": now},
            )
            c.execute(
                sa.text(
                    "INSERT INTO ticket (no, status, category, urgent, text, platform, chat_id, private, region_code, tier, "
                    "reporter_id, confidence, return_count, reopen_count, created_at) VALUES ('SG20261125-0001', 'dispatched', "
                    "'road', false, '村口路灯坏了', 'local', 'g', false, 'v1', 'village', 1, 0.9, 0, 0, :now)"
                ),
                {"now": now},
            )
            c.execute(
                sa.text(
                    "INSERT INTO outbox (platform, chat_id, chat_type, text, force_reply, urgent, purpose, status, attempts, "
                    "next_attempt_at) VALUES ('local', 'g', 'group', '已受理', false, false, 'receipt', 'pending', 0, :now)"
                ),
                {"now": now},
            )
        db.upgrade(database_url)
        assert db.current_revision(engine) == head
        with engine.connect() as c:
            t = c.execute(sa.text("SELECT no, text, created_at FROM ticket")).one()
            assert t.no == "SG20261125-0001" and t.text == "村口路灯坏了"
            assert c.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 1
            assert c.execute(sa.text("SELECT status FROM outbox")).scalar() == "pending"
    finally:
        engine.dispose()
    assert _diff(database_url) == []
    # the models read the migrated rows back
    from sqlmodel import Session, select

    from storage.models import Ticket

    engine = db.make_engine(database_url)
    try:
        with Session(engine) as s:
            t = s.exec(select(Ticket)).one()
            assert t.created_at == now.replace(tzinfo=UTC)
    finally:
        engine.dispose()
