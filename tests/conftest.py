"""Shared fixtures: an injectable clock, a real database (SQLite, and PostgreSQL when a test URL is
given), the sample county's config, and a local chat driving the whole bot as a transcript.

Every test that takes `database_url` runs on both engines: SQLite always; PostgreSQL when
SHANZHI_TEST_PG_URL is set (CI sets it, and SHANZHI_REQUIRE_PG=1 turns a skip into a failure).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from bot.adapters.local import Line, LocalAdapter
from bot.app import BotApp
from core.clock import SHANGHAI, ManualClock
from core.config import Config, load_config

PG_URL = os.environ.get("SHANZHI_TEST_PG_URL")
REQUIRE_PG = os.environ.get("SHANZHI_REQUIRE_PG") == "1"
START = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)  # a Wednesday morning


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _pg_schema_url(base: str) -> Iterator[str]:
    """A fresh schema per test on the test database: isolated, and much faster than a database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    )
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def require_pg() -> str:
    """The PostgreSQL test URL; the test is skipped without one (a failure under SHANZHI_REQUIRE_PG=1)."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SHANZHI_REQUIRE_PG=1 but SHANZHI_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL tests run when SHANZHI_TEST_PG_URL is set")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shanzhi.db"
        return
    yield from _pg_schema_url(require_pg())


@pytest.fixture
def pg_server_url() -> str:
    """The PostgreSQL test database itself, for tests about the server rather than the schema."""
    return require_pg()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL test database (PostgreSQL-only tests)."""
    yield from _pg_schema_url(require_pg())


def migrated_engine(url: str) -> Iterator[sa.Engine]:
    """The database at `url` at the latest schema, and an engine on it (disposed afterwards)."""
    from storage import db

    db.upgrade(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/shanzhi.db"


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def classify(config: Config):  # type: ignore[no-untyped-def]
    """The real classifier with the default rules, loaded once for the session."""
    from bot.app import load_classifier

    return load_classifier(config)


class Chat:
    """The whole bot behind the local chat; each `say` returns what the bot answered to it."""

    def __init__(self, app: BotApp, local: LocalAdapter, clock: ManualClock) -> None:
        self.app = app
        self.local = local
        self.clock = clock

    async def say(self, who: str, text: str | None, group: str | None = "和平村群", **kw: object) -> list[Line]:
        before = len(self.local.transcript)
        await self.local.say(who, text, group=group, **kw)  # type: ignore[arg-type]
        assert await self.app.idle(timeout=20), "the bot did not go idle"
        return [l for l in self.local.transcript[before:] if l.speaker == "bot"]

    async def dm(self, who: str, text: str | None, **kw: object) -> list[Line]:
        return await self.say(who, text, group=None, **kw)

    def to(self, chat: str) -> list[Line]:
        """Everything the bot said in a chat ('和平村群', or '私聊:陈镇长')."""
        return self.local.bot_lines(chat)

    def last_message_id(self, who: str) -> str:
        return [l for l in self.local.transcript if l.speaker == who][-1].message_id

    def ticket(self, no: str | None = None):  # type: ignore[no-untyped-def]
        from sqlmodel import select

        from storage.models import Ticket

        with self.app.services.uow() as uow:
            stmt = select(Ticket).order_by(Ticket.id.desc())  # type: ignore[union-attr]
            if no:
                stmt = select(Ticket).where(Ticket.no == no)
            return uow.session.exec(stmt).first()

    def tickets(self):  # type: ignore[no-untyped-def]
        from sqlmodel import select

        from storage.models import Ticket

        with self.app.services.uow() as uow:
            return list(uow.session.exec(select(Ticket).order_by(Ticket.id)).all())

    def events(self, no: str) -> list[tuple[str, str | None, str | None]]:
        with self.app.services.uow() as uow:
            t = uow.tickets.by_no(no)
            assert t is not None
            return [(e.action, e.from_status, e.to_status) for e in uow.tickets.events(t.id)]  # type: ignore[arg-type]


@pytest.fixture
async def chat(config: Config, clock: ManualClock, database_url: str, classify) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[local], classify=classify)
    await app.start(background=False)
    try:
        yield Chat(app, local, clock)
    finally:
        await app.stop()
