"""The pool pings a PostgreSQL connection that sat idle before handing it out, not one that was in
use a moment ago (storage.db: two round trips a batch saved); a connection the server dropped is
replaced either way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from storage import db

pytestmark = pytest.mark.postgres


@pytest.fixture
def admin(pg_server_url: str) -> Iterator[sa.Engine]:
    engine = db.make_engine(pg_server_url)
    yield engine
    engine.dispose()


def _backend(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.text("SELECT pg_backend_pid()")).scalar())


def _drop(admin: sa.Engine, pid: int) -> None:
    """The server ends that connection (as a restart or an idle timeout would)."""
    with admin.connect() as c:
        assert c.execute(sa.text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}).scalar()


def test_a_connection_dropped_while_it_sat_idle_is_replaced_before_anyone_uses_it(
    pg_server_url: str, admin: sa.Engine
) -> None:
    engine = db.make_engine(pg_server_url, ping_after_idle=0.0)  # every checkout counts as after idling
    try:
        first = _backend(engine)
        _drop(admin, first)

        assert _backend(engine) != first  # pinged, found dead, reconnected: no error
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_and_its_loss_is_an_outage_the_pool_recovers_from(
    pg_server_url: str, admin: sa.Engine
) -> None:
    engine = db.make_engine(pg_server_url, ping_after_idle=3600.0)
    try:
        first = _backend(engine)
        _drop(admin, first)

        with pytest.raises(sa.exc.OperationalError) as err, engine.connect() as c:
            c.execute(sa.text("SELECT 1"))  # no ping went first: the batch's own statement finds out
        assert db.is_unreachable(err.value)  # what makes the bot hold the batch and retry it
        assert _backend(engine) != first  # the pool let the dead connection go
    finally:
        engine.dispose()
