"""The whole bot on WeChat: BotApp + WeChatAdapter + the real `wechaty` 0.10 library + the in-process
puppet (tests/support/wechaty_puppet.py). Time is a ManualClock shared by the bot and the puppet, so
pacing and retries run in virtual time and are checked from the recorded timestamps of what the bot said.

Read as transcripts: people say things in the room or privately; we look at what the account said.
WeChat has no buttons: everything is done with text commands carrying the ticket number.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

import pytest
import sqlmodel

from bot.adapters.wechat.adapter import WeChatAdapter
from bot.app import BotApp
from core.clock import SHANGHAI, ManualClock
from core.config import load_config
from storage.models import InboxMessage, OutboxMessage, Ticket
from tests.support.wechaty_puppet import InProcessPuppet, heping_cast

ROOM = "room_heping@chatroom"  # bound to 和平村 in org.yaml
RESIDENT, NEIGHBOUR, GRID, OFFICIAL, ADMIN = "wxid_wang", "wxid_liu_resident", "wxid_li", "wxid_zhang", "wxid_admin"
COMPLAINT = "村里的垃圾桶满了好几天没人收，苍蝇到处飞"  # environment → 和平村委会 (张主任)
TICKET_NO = re.compile(r"SG\d{8}-\d{4}")


class Bot:
    def __init__(self, puppet: InProcessPuppet, adapter: WeChatAdapter, app: BotApp, clock: ManualClock) -> None:
        self.puppet, self.adapter, self.app, self.clock = puppet, adapter, app, clock
        self.handed: int = 0

    async def turn(self, timeout: float = 20.0) -> None:
        """Everything the account received handed to the bot, and everything due delivered."""
        await asyncio.wait_for(self.adapter.settle(), timeout)
        assert await self.app.idle(timeout=timeout), "the bot did not settle"

    def said(self, conversation: str, since: int = 0) -> list:
        return [s for s in self.puppet.said[since:] if s.conversation_id == conversation]

    def tickets(self) -> list[Ticket]:
        with self.app.services.uow() as uow:
            return list(uow.session.exec(sqlmodel.select(Ticket)).all())

    def ticket(self) -> Ticket:
        (t,) = self.tickets()
        return t


@pytest.fixture
def wx_clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
async def bot(tmp_path, wx_clock):
    puppet = heping_cast(InProcessPuppet(clock=wx_clock))
    adapter = WeChatAdapter(puppet=puppet, data_dir=tmp_path / "data", clock=wx_clock)
    app = BotApp(load_config(), clock=wx_clock, database_url=f"sqlite:///{tmp_path / 'wx.db'}", adapters=[adapter])
    await app.start()
    try:
        yield Bot(puppet, adapter, app, wx_clock)
    finally:
        await app.stop()


async def open_ticket(bot: Bot) -> tuple[str, object, str]:
    complaint = bot.puppet.say(RESIDENT, COMPLAINT, room=ROOM)
    await bot.turn()
    receipts = [s for s in bot.said(ROOM) if "已受理" in s.text]
    assert len(receipts) == 1, [s.text for s in bot.puppet.said]
    no = bot.ticket().no
    assert no in receipts[0].text
    return complaint, receipts[0], no


async def test_complaint_in_the_room_gets_a_receipt_mentioning_the_reporter(bot: Bot):
    complaint, receipt, no = await open_ticket(bot)
    assert receipt.mention_ids == [RESIDENT] and receipt.text.startswith("@王大妈")
    assert "和平村委会" in receipt.text
    t = bot.ticket()
    assert (t.platform, t.chat_id, t.unit_code) == ("wechat", ROOM, "heping_cwh")
    n = len(bot.puppet.said)
    bot.puppet.say(NEIGHBOUR, "今天好热啊", room=ROOM)
    bot.puppet.say(NEIGHBOUR, "哈哈哈", room=ROOM)
    await bot.turn()
    assert bot.puppet.said[n:] == []


async def test_the_whole_lifecycle_with_text_commands_in_private_and_in_the_room(bot: Bot):
    complaint, receipt, no = await open_ticket(bot)
    # the official was told privately (a friend of the bot)
    assert any(no in s.text for s in bot.said(OFFICIAL))
    bot.puppet.say(OFFICIAL, f"签收 {no}")
    await bot.turn()
    assert bot.ticket().status == "accepted"
    n = len(bot.puppet.said)
    bot.puppet.say(OFFICIAL, f"@善治助手\u2005办结 {no} 垃圾已清运，增加了收运频次", room=ROOM, mentions=["wxid_bot"])
    await bot.turn()
    t = bot.ticket()
    assert t.status in ("resolved", "followup") and "垃圾已清运" in (t.resolution or "")
    asks = [s for s in bot.said(ROOM, n) if "满意" in s.text]
    assert asks, [s.text for s in bot.puppet.said[n:]]
    # the reporter answers the 回访 question with a number
    bot.puppet.say(RESIDENT, "1", room=ROOM)
    await bot.turn()
    assert bot.ticket().status == "closed"


async def test_unsatisfied_by_number_quoting_the_question_reopens(bot: Bot):
    complaint, receipt, no = await open_ticket(bot)
    bot.puppet.say(OFFICIAL, f"签收 {no}")
    bot.puppet.say(OFFICIAL, f"办结 {no} 已清理")
    await bot.turn()
    asks = [s for s in bot.puppet.said if "满意" in s.text and no in s.text]
    assert asks
    ask = asks[-1]
    where = ask.conversation_id
    quoted = f"「善治助手：{ask.text[:30]}」\n- - - - - - - - - - - - - - -\n3"
    bot.puppet.say(RESIDENT, quoted, room=where if where.endswith("@chatroom") else None)
    await bot.turn()
    assert bot.ticket().status in ("reopened", "dispatched")


async def test_a_neighbours_number_does_not_rate_the_ticket(bot: Bot):
    complaint, receipt, no = await open_ticket(bot)
    bot.puppet.say(OFFICIAL, f"签收 {no}")
    bot.puppet.say(OFFICIAL, f"办结 {no} 已清理")
    await bot.turn()
    bot.puppet.say(NEIGHBOUR, "3", room=ROOM)
    await bot.turn()
    assert bot.ticket().status in ("resolved", "followup")


async def test_not_a_friend_falls_back_to_a_mention_in_the_room(bot: Bot):
    bot.puppet.contacts[OFFICIAL].friend = False
    complaint, receipt, no = await open_ticket(bot)
    assert bot.said(OFFICIAL) == []
    fallbacks = [s for s in bot.said(ROOM) if no in s.text and s is not receipt and OFFICIAL in s.mention_ids]
    assert fallbacks, [(s.conversation_id, s.text, s.mention_ids) for s in bot.puppet.said]
    assert fallbacks[0].text.startswith("@张主任")
    assert fallbacks[0].text.count("张主任") == 1 and "加善治助手为微信好友" in fallbacks[0].text  # WeChat's way


@pytest.mark.parametrize(
    "kind", ["image", "voice", "video", "file", "link", "miniprogram", "redpacket", "transfer", "system", "recalled"]
)
async def test_non_text_is_stored_and_never_classified(bot: Bot, kind: str):
    mid = bot.puppet.media(RESIDENT, kind, room=ROOM, text="<msg>垃圾桶满了 路灯坏了</msg>")
    await bot.turn()
    assert bot.tickets() == []
    with bot.app.services.uow() as uow:
        rows = list(uow.session.exec(sqlmodel.select(InboxMessage)).all())
    (row,) = [r for r in rows if r.message_id == mid]
    assert row.kind != "text" and not row.text


async def test_logout_and_reconnect_mid_conversation_loses_nothing(bot: Bot):
    complaint, receipt, no = await open_ticket(bot)
    bot.puppet.logout_now("账号在其他设备登录")
    await asyncio.wait_for(_until(lambda: bot.adapter.status().connected and bot.puppet.starts == 2), 5)
    bot.puppet.say(OFFICIAL, f"签收 {no}")
    bot.puppet.say(OFFICIAL, f"办结 {no} 已清理")
    await bot.turn()
    assert bot.ticket().status in ("resolved", "followup")
    st = bot.app.status()["platforms"]["wechat"]
    assert st["connected"] is True


async def test_a_message_to_be_sent_while_logged_out_waits_and_is_delivered_after_reconnect(bot: Bot):
    complaint, receipt, no = await open_ticket(bot)
    bot.puppet.refuse_start = ConnectionRefusedError("gateway down")
    bot.puppet.end_stream()
    await asyncio.wait_for(_until(lambda: not bot.adapter.status().connected), 5)
    bot.puppet.refuse_start = None
    # the official's command arrives once the account is back
    await asyncio.wait_for(_until(lambda: bot.adapter.status().connected), 5)
    bot.puppet.say(OFFICIAL, f"签收 {no}")
    await bot.turn()
    assert bot.ticket().status == "accepted"
    assert any("签收" in s.text and no in s.text for s in bot.said(ROOM))


async def test_pacing_from_recorded_timestamps(bot: Bot):
    for i in range(4):
        bot.puppet.add_contact(f"wxid_r{i}", f"居民{i}")
        bot.puppet.rooms[ROOM].member_ids.append(f"wxid_r{i}")
    texts = [
        COMPLAINT,
        "村口路灯坏了三天了，晚上黑漆漆的",
        "下水道堵了，污水漫到路上",
        "楼下有人天天半夜装修，吵得睡不着",
    ]
    for i, text in enumerate(texts):
        bot.puppet.say(f"wxid_r{i}", text, room=ROOM)
    await bot.turn(timeout=60)
    room_msgs = bot.said(ROOM)
    assert len(room_msgs) >= 2, [s.text for s in bot.puppet.said]
    interval = bot.adapter.limits.per_chat_interval
    for a, b in zip(room_msgs, room_msgs[1:]):
        assert (b.at - a.at).total_seconds() >= interval - 1e-6
    everything = bot.puppet.said
    if bot.adapter.limits.global_per_second:
        gap = 1.0 / bot.adapter.limits.global_per_second
        for a, b in zip(everything, everything[1:]):
            assert (b.at - a.at).total_seconds() >= gap - 1e-6


async def test_bot_added_to_a_new_room_asks_to_bind_and_topic_changes_are_recorded(bot: Bot):
    bot.puppet.bot_added("room_new@chatroom", "新河村群", ADMIN)
    await bot.turn()
    assert bot.said("room_new@chatroom"), "the bot should ask an admin to bind the new room"
    bot.puppet.topic(ROOM, "和平村村民群", ADMIN)
    await bot.turn()
    with bot.app.services.uow() as uow:
        assert uow.org.group("wechat", ROOM).title == "和平村村民群"


async def test_nothing_is_left_unsent(bot: Bot):
    await open_ticket(bot)
    with bot.app.services.uow() as uow:
        rows = list(uow.session.exec(sqlmodel.select(OutboxMessage)).all())
    assert rows and all(r.sent_at is not None or r.status != "pending" for r in rows)


async def _until(cond) -> None:
    while not cond():
        await asyncio.sleep(0.002)


async def test_an_emergency_gets_advice_in_the_room_and_alerts_in_private_acknowledged_by_text(bot: Bot):
    bot.puppet.say(RESIDENT, "着火了 快来人 后山烧起来了", room=ROOM)
    await bot.turn()
    advice = [s for s in bot.said(ROOM) if "119" in s.text]
    assert len(advice) == 1
    no = bot.ticket().no
    assert [s for s in bot.said(GRID) if "紧急警报" in s.text and no in s.text]
    assert [s for s in bot.said(OFFICIAL) if "紧急警报" in s.text]
    n = len(bot.puppet.said)
    bot.puppet.say(GRID, "收到")
    await bot.turn()
    assert [s.text for s in bot.said(ROOM, n)] == ["网格员李网格已收到，正在赶往处置。"]
    assert [s for s in bot.said(GRID, n) if "已确认收到" in s.text]
