"""Nothing lost: a message is stored before it is processed, processing is idempotent by platform
message id, and an outbound message is recorded before it is sent — so a crash at any point loses
nothing, and only the message in flight can be repeated (and that is logged)."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from bot.adapters.local import LocalAdapter
from bot.app import BotApp
from bot.messages import ChatType, Inbound, Outbound, SendResult
from storage.models import InboxMessage, OutboxMessage, Ticket

# An urgent report: a receipt in the group and alerts to several officials, i.e. several outbound messages.
FIRE = "快来人啊 后山着火了 风好大 往周家那边烧过来了"


class Crash(BaseException):
    """The process dying: not an error anything in the bot may catch."""


class CrashingLocal(LocalAdapter):
    """The platform wire: the process dies while the n-th message is in flight."""

    def __init__(self, clock, crash_on: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(clock)
        self.crash_on = crash_on
        self.attempts = 0

    async def send(self, out: Outbound) -> SendResult:
        self.attempts += 1
        if self.attempts == self.crash_on:
            raise Crash()
        return await super().send(out)


def inbound(clock, mid: str = "m1", text: str = FIRE) -> Inbound:  # type: ignore[no-untyped-def]
    return Inbound(
        platform="local",
        chat_id="和平村群",
        chat_type=ChatType.GROUP,
        sender_id="王大妈",
        sender_name="王大妈",
        message_id=mid,
        sent_at=clock.now(),
        text=text,
        chat_title="和平村群",
    )


def make_app(config, clock, url, classify, adapter) -> BotApp:  # type: ignore[no-untyped-def]
    return BotApp(config, clock=clock, database_url=url, adapters=[adapter], classify=classify)


async def test_message_stored_but_not_processed_before_a_crash_is_processed_on_restart(
    config, clock, database_url, classify
) -> None:  # type: ignore[no-untyped-def]
    first = make_app(config, clock, database_url, classify, LocalAdapter(clock))
    assert first.router.store(inbound(clock)) is not None  # stored, then the process dies
    first.engine.dispose()

    local = LocalAdapter(clock)
    second = make_app(config, clock, database_url, classify, local)
    await second.start(background=False)
    assert await second.idle()
    with second.services.uow() as uow:
        assert uow.session.exec(select(InboxMessage.status)).all() == ["done"]
        assert len(uow.session.exec(select(Ticket)).all()) == 1
    assert len([l for l in local.bot_lines("和平村群") if "119" in l.text]) == 1  # the safety advice, once
    await second.stop()


async def test_the_same_platform_message_delivered_twice_is_processed_once(
    config, clock, database_url, classify
) -> None:  # type: ignore[no-untyped-def]
    local = LocalAdapter(clock)
    app = make_app(config, clock, database_url, classify, local)
    await app.start(background=False)
    await app.on_message(inbound(clock))
    await app.on_message(inbound(clock))  # the platform redelivers
    assert await app.idle()
    with app.services.uow() as uow:
        assert len(uow.session.exec(select(InboxMessage)).all()) == 1
        assert len(uow.session.exec(select(Ticket)).all()) == 1
    assert len([l for l in local.bot_lines("和平村群") if "119" in l.text]) == 1  # the safety advice, once
    await app.stop()


async def test_crash_while_sending_repeats_only_the_message_in_flight(
    config, clock, database_url, classify, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    crashing = CrashingLocal(clock, crash_on=2)
    first = make_app(config, clock, database_url, classify, crashing)
    await first.start(background=False)
    await first.on_message(inbound(clock))
    with pytest.raises(Crash):
        await first.idle()
    delivered_before = [l.text for l in crashing.bot_lines()]
    assert len(delivered_before) == 1
    first.engine.dispose()

    local = LocalAdapter(clock)
    second = make_app(config, clock, database_url, classify, local)
    with caplog.at_level(logging.WARNING):
        await second.start(background=False)
        assert await second.idle()
    delivered_after = [l.text for l in local.bot_lines()]
    with second.services.uow() as uow:
        rows = uow.session.exec(select(OutboxMessage)).all()
        assert {r.status for r in rows} == {"sent"}
    # Every message arrived; none was sent twice except the one in flight (which the crash may or may not have delivered).
    assert len(delivered_before) + len(delivered_after) == len(rows)
    assert not set(delivered_before) & set(delivered_after)
    assert any("possible repeat" in r.message for r in caplog.records)
    await second.stop()


async def test_processing_error_is_recorded_and_the_bot_carries_on(config, clock, database_url) -> None:  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def flaky(text: str):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        raise RuntimeError("rules file corrupted")

    local = LocalAdapter(clock)
    app = make_app(config, clock, database_url, flaky, local)
    await app.start(background=False)
    await app.on_message(inbound(clock))
    await app.on_message(inbound(clock, "m2", "帮助"))
    assert await app.idle()
    with app.services.uow() as uow:
        rows = uow.session.exec(select(InboxMessage).order_by(InboxMessage.id)).all()
        assert [r.status for r in rows] == ["failed", "done"]
        assert "rules file corrupted" in rows[0].error
    assert not [l for l in local.bot_lines() if "Traceback" in l.text or "RuntimeError" in l.text]
    await app.stop()


async def test_a_private_message_that_fails_is_answered_not_left_in_silence(config, clock, database_url) -> None:  # type: ignore[no-untyped-def]
    def broken(text: str):  # type: ignore[no-untyped-def]
        raise RuntimeError("rules file corrupted")

    local = LocalAdapter(clock)
    app = make_app(config, clock, database_url, broken, local)
    await app.start(background=False)
    await app.on_message(
        Inbound(
            platform="local",
            chat_id="王大妈",
            chat_type=ChatType.PRIVATE,
            sender_id="王大妈",
            sender_name="王大妈",
            message_id="p1",
            sent_at=clock.now(),
            text="我家门口的下水道堵了",
        )
    )
    assert await app.idle()
    answers = [l.text for l in local.bot_lines("私聊:王大妈")]
    assert answers and "出了点问题" in answers[0] and "RuntimeError" not in answers[0]
    await app.stop()
