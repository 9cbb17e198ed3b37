"""Start-up before the database: after a power cut the bot may come up before PostgreSQL. It waits,
saying so in the log, and starts once the database answers; a refused login is not an outage."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.delivery.resilience import wait_for_database
from tests.support.pgproxy import PgProxy

pytestmark = pytest.mark.postgres


async def test_bot_started_before_the_database_waits_and_starts_when_it_answers(pg_server_url: str, caplog) -> None:  # type: ignore[no-untyped-def]
    proxy, proxied = PgProxy.for_url(pg_server_url)
    proxy.down()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # virtual time: the database comes back after the third wait
        waits.append(seconds)
        if len(waits) == 3:
            proxy.up()

    try:
        with caplog.at_level(logging.WARNING, logger="bot.delivery.resilience"):
            assert await wait_for_database(proxied, 1.0, 3.0, sleep) is True
    finally:
        proxy.close()
    assert waits == [1.0, 2.0, 3.0]  # the outage backoff: doubling up to the maximum
    said = [r.getMessage() for r in caplog.records]
    assert sum("unreachable at start" in m for m in said) == 3 and any("reachable again" in m for m in said)


async def test_a_stop_while_waiting_for_the_database_ends_the_wait(pg_server_url: str) -> None:
    proxy, proxied = PgProxy.for_url(pg_server_url)
    proxy.down()
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:
        stop.set()  # SIGTERM while waiting

    try:
        assert await wait_for_database(proxied, 1.0, 3.0, sleep, stop) is False
    finally:
        proxy.close()


async def test_a_wrong_database_name_is_a_configuration_error_not_an_outage(pg_server_url: str) -> None:
    base, _, _ = pg_server_url.rpartition("/")
    with pytest.raises(Exception) as err:
        await wait_for_database(f"{base}/shanzhi_no_such_database", 1.0, 3.0, asyncio.sleep)
    assert "shanzhi_no_such_database" in str(err.value)


async def test_the_embedded_database_is_never_waited_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert await wait_for_database(f"sqlite:///{tmp_path}/x.db", 1.0, 3.0, asyncio.sleep) is True
