"""Property: arbitrary text, Unicode oddities and malformed commands from every role never make an
exception escape the router, and no traceback ever reaches a chat."""

from __future__ import annotations

import asyncio
import itertools
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.adapters.local import LocalAdapter
from bot.app import BotApp
from core.clock import ManualClock
from storage.models import InboxMessage
from tests.support.chat import START

SPEAKERS = ["王大妈", "李网格", "赵网格", "陈镇长", "张主任", "刘局长", "周管理", "路人甲"]
WHERE = ["和平村群", "石桥村群", "陌生群", None]
COMMAND_WORDS = [
    "签收",
    "办结",
    "退单",
    "转办",
    "改类",
    "不是诉求",
    "立案",
    "忽略",
    "查看",
    "绑定",
    "我的工单",
    "我的诉求",
    "/accept",
    "/resolve",
    "/return",
    "/transfer",
    "/recat",
    "/dismiss",
    "/show",
    "/bind",
    "/rate",
    "/my",
    "/mine",
    "/help",
    "/start",
    "/",
    "//",
    "/@",
    "1",
    "3",
    "满意",
]
ODD = [
    "\u200b",
    "\u202e",
    "\ufeff",
    "\x00",
    "\r\n",
    "𠀀",
    "👨‍👩‍👧",
    "ＳＧ２０２６",
    "SG20261125-0001",
    "SG99999999-99999",
    "%s",
    "{no}",
    "{}",
    "\\",
    "'; DROP TABLE ticket; --",
]

messages = st.one_of(
    st.text(max_size=300),
    st.builds(lambda w, rest: f"{w} {rest}", st.sampled_from(COMMAND_WORDS), st.text(max_size=60)),
    st.builds(lambda parts: "".join(parts), st.lists(st.sampled_from(ODD + COMMAND_WORDS), max_size=8)),
    st.just("村口路灯坏了三天了，晚上黑漆漆的"),
)
events = st.lists(
    st.tuples(
        st.sampled_from(SPEAKERS), st.sampled_from(WHERE), messages, st.sampled_from(["text", "text", "voice", "image"])
    ),
    min_size=1,
    max_size=12,
)


def _run(config, classify, script) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        with tempfile.TemporaryDirectory() as d:
            clock = ManualClock(START)
            local = LocalAdapter(clock)
            app = BotApp(config, clock=clock, database_url=f"sqlite:///{d}/f.db", adapters=[local], classify=classify)
            await app.start(background=False)
            try:
                for who, where, text, kind in script:
                    await local.say(who, text if kind == "text" else None, group=where, kind=kind)
                    clock.advance(minutes=1)
                assert await app.idle(timeout=30)
                for line in local.bot_lines():
                    assert "Traceback" not in line.text and "Error" not in line.text
                with app.services.uow() as uow:
                    statuses = uow.session.exec(select(InboxMessage.status)).all()
                assert "failed" not in statuses and "pending" not in statuses
            finally:
                await app.stop()

    asyncio.run(go())


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(script=events)
def test_no_exception_escapes_and_no_traceback_reaches_a_chat(config, classify, script) -> None:  # type: ignore[no-untyped-def]
    _run(config, classify, script)


def test_command_words_from_every_role_in_every_place(config, classify) -> None:  # type: ignore[no-untyped-def]
    script = [
        (who, where, f"{word} SG20261125-0001 x", "text")
        for who, where, word in itertools.product(SPEAKERS, WHERE[:2], COMMAND_WORDS[:18])
    ]
    _run(config, classify, script)
