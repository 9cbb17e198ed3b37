"""Planner statistics on PostgreSQL: the bot analyzes the tables it filled, beside its commits, so
a young database is not planned as if its tables were still empty (storage.pgstats)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storage.pgstats import StatisticsKeeper, keep_statistics
from tests.support.databases import migrated_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    yield from migrated_engine(pg_url)


def _store_messages(engine: sa.Engine, n: int, *, commits: int = 1, start: int = 0) -> None:
    """`n` inbox rows in `commits` transactions, their statistics flushed at once (PostgreSQL
    otherwise reports a backend's counts up to a second later)."""
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC).replace(tzinfo=None)
    per = max(1, n // commits)
    for k in range(0, n, per):
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO inbox (platform, chat_id, chat_type, message_id, variant, sender_id, sender_name, kind, text, "
                    "status, attempts, received_at) SELECT 'local', 'g', 'group', 'm' || i, '', 'u', '王大妈', 'text', "
                    "'村口路灯坏了', 'done', 0, :now FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) AS i"
                ),
                {"now": now, "a": start + k, "b": start + min(n, k + per) - 1},
            )
            c.execute(sa.text("SELECT pg_stat_force_next_flush()"))


def _rows_planned_for(engine: sa.Engine, table: str) -> float:
    with engine.connect() as c:
        return float(
            c.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()
        )


def test_a_table_filled_since_its_last_analyze_gets_fresh_statistics(engine: sa.Engine) -> None:
    _store_messages(engine, 600)
    assert _rows_planned_for(engine, "inbox") < 0  # never analyzed: the planner guesses

    assert StatisticsKeeper(engine).check() == ["inbox"]
    assert _rows_planned_for(engine, "inbox") == 600


def test_a_table_is_analyzed_again_once_it_has_doubled(engine: sa.Engine) -> None:
    keeper = StatisticsKeeper(engine)
    _store_messages(engine, 600)
    keeper.check()
    _store_messages(engine, 1000, start=600)  # fewer than 500 + the 600 it had

    assert keeper.check() == []
    assert _rows_planned_for(engine, "inbox") == 600
    _store_messages(engine, 101, start=1600)
    assert keeper.check() == ["inbox"]
    assert _rows_planned_for(engine, "inbox") == 1701


def test_a_database_without_statistics_is_analyzed_when_the_bot_starts(engine: sa.Engine) -> None:
    _store_messages(engine, 600)  # as after a restore: pg_restore brings no statistics

    keeper = keep_statistics(engine)
    keeper.wait()

    assert keeper.analyzed == {"inbox": 1}
    assert _rows_planned_for(engine, "inbox") == 600


def test_the_bots_commits_start_the_check_beside_them(engine: sa.Engine) -> None:
    keeper = keep_statistics(engine, every=4)
    keeper.wait()  # the check at start: nothing to do yet
    _store_messages(engine, 600, commits=3)
    assert keeper.analyzed == {}  # three commits: no check yet
    with engine.begin():
        pass  # the fourth
    keeper.stop()  # waits for the check it started

    assert keeper.analyzed == {"inbox": 1}
    assert _rows_planned_for(engine, "inbox") == 600


def test_operator_is_told_in_the_log_when_autovacuum_is_off(engine: sa.Engine, caplog) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        off = c.execute(sa.text("SELECT current_setting('autovacuum')")).scalar() != "on"
    keeper = StatisticsKeeper(engine)
    with caplog.at_level(logging.WARNING, logger="storage.pgstats"):
        keeper.check()
        keeper.check()  # said once, not at every check

    warnings = [r.getMessage() for r in caplog.records if "autovacuum is off" in r.getMessage()]
    assert len(warnings) == (1 if off else 0)
