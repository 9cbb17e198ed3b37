"""Shared fixtures: an injectable clock, a real database (SQLite, and PostgreSQL when a test URL is
given), the sample county's config, and a local chat driving the whole bot as a transcript.

Every test that takes `database_url` runs on both engines: SQLite always; PostgreSQL when
SHANZHI_TEST_PG_URL is set (CI sets it, and SHANZHI_REQUIRE_PG=1 turns a skip into a failure).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.adapters.local import LocalAdapter
from bot.app import BotApp
from core.clock import ManualClock
from core.config import Config, load_config
from tests.support.chat import START, Chat
from tests.support.databases import pg_schema_url, require_pg


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shanzhi.db"
        return
    yield from pg_schema_url(require_pg())


@pytest.fixture
def pg_server_url() -> str:
    """The PostgreSQL test database itself, for tests about the server rather than the schema."""
    return require_pg()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL test database (PostgreSQL-only tests)."""
    yield from pg_schema_url(require_pg())


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


@pytest.fixture
async def chat(config: Config, clock: ManualClock, database_url: str, classify) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[local], classify=classify)
    await app.start(background=False)
    try:
        yield Chat(app, local, clock)
    finally:
        await app.stop()
