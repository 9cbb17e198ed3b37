"""The WeChat adapter driven through the real `wechaty` 0.10 library by an in-process puppet.

Adapter level only: a recording on_message/on_event, `adapter.send(Outbound)`; nothing of the core.
Virtual time (ManualClock): reconnect backoff and timestamps never wait on the wall clock.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from bot.adapters.base import PaceLimits
from bot.adapters.wechat.adapter import WeChatAdapter
from bot.adapters.wechat.wire import DEFAULT_LIMITS, WeChatConfigError, WeChatFatalError, parse_quote
from bot.messages import NON_TEXT_KINDS, Button, ChatType, DeliveryError, Inbound, Outbound
from core.clock import SHANGHAI, ManualClock
from tests.support.paths import REPO as REPO_ROOT
from tests.support.wechaty_puppet import BOT_ID, InProcessPuppet, heping_cast

ROOM = "room_heping@chatroom"
REPO = REPO_ROOT


async def until(cond, timeout: float = 5.0) -> None:
    """Let the event loop run until `cond()` holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.002)


async def settle(rounds: int = 30) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0.002)


class Harness:
    def __init__(self, tmp_path: Path, **kwargs) -> None:
        self.clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
        self.puppet = heping_cast(InProcessPuppet(clock=self.clock))
        self.adapter = WeChatAdapter(puppet=self.puppet, data_dir=tmp_path / "data", clock=self.clock, **kwargs)
        self.inbound: list[Inbound] = []
        self.events: list[tuple[str, dict]] = []

    async def on_message(self, m: Inbound) -> None:
        self.inbound.append(m)

    async def on_event(self, name: str, payload: dict) -> None:
        self.events.append((name, payload))

    async def start(self) -> None:
        await self.adapter.start(self.on_message, self.on_event)

    def connection_events(self) -> list[dict]:
        return [p for n, p in self.events if n == "connection"]


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path)
    await harness.start()
    yield harness
    await harness.adapter.stop()


# -- inbound ----------------------------------------------------------------------------------


async def test_room_text_becomes_a_group_inbound(h):
    h.clock.advance(minutes=5)
    mid = h.puppet.say("wxid_wang", "村口路灯坏了三天了，晚上黑漆漆的", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    m = h.inbound[0]
    assert (m.platform, m.chat_type, m.chat_id) == ("wechat", ChatType.GROUP, ROOM)
    assert (m.sender_id, m.sender_name, m.message_id) == ("wxid_wang", "王大妈", mid)
    assert m.text == "村口路灯坏了三天了，晚上黑漆漆的" and m.kind == "text" and m.is_text
    assert m.chat_title == "和平村群"
    assert m.sent_at == datetime(2026, 11, 25, 9, 5, tzinfo=SHANGHAI)
    assert m.reply_to is None and m.mentions == () and m.attachment is None
    assert h.adapter.status().connected


async def test_group_nickname_is_the_sender_name(h):
    h.puppet.set_alias(ROOM, "wxid_wang", "3组王大妈")
    h.puppet.say("wxid_wang", "下水道堵了", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    assert h.inbound[0].sender_name == "3组王大妈"


async def test_private_text_is_a_private_inbound_keyed_by_the_contact(h):
    h.puppet.say("wxid_zhang", "签收 SG20261125-0001")
    await until(lambda: len(h.inbound) == 1)
    m = h.inbound[0]
    assert (m.chat_type, m.chat_id, m.sender_id, m.sender_name) == (
        ChatType.PRIVATE,
        "wxid_zhang",
        "wxid_zhang",
        "张主任",
    )
    assert m.text == "签收 SG20261125-0001" and m.chat_title is None


async def test_mentions_are_contact_ids_and_the_bots_own_mention_is_stripped(h):
    h.puppet.say(
        "wxid_li",
        "@善治助手\u2005办结 SG20261125-0001 已修好 @张主任\u2005",
        room=ROOM,
        mentions=[BOT_ID, "wxid_zhang"],
    )
    await until(lambda: len(h.inbound) == 1)
    m = h.inbound[0]
    assert m.mentions == (BOT_ID, "wxid_zhang")
    assert m.text == "办结 SG20261125-0001 已修好 @张主任"


async def test_messages_keep_their_order(h):
    ids = [h.puppet.say("wxid_wang", f"第{i}条", room=ROOM) for i in range(20)]
    h.puppet.media("wxid_wang", "image", room=ROOM)
    await until(lambda: len(h.inbound) == 21)
    assert [m.message_id for m in h.inbound[:20]] == ids
    assert h.inbound[20].kind == "image"


@pytest.mark.parametrize(
    ("puppet_kind", "kind"),
    [
        ("image", "image"),
        ("voice", "voice"),
        ("video", "video"),
        ("file", "file"),
        ("sticker", "sticker"),
        ("link", "link"),
        ("miniprogram", "miniprogram"),
        ("transfer", "redpacket"),
        ("redpacket", "redpacket"),
        ("recalled", "system"),
        ("system", "system"),
        ("contact", "contact"),
        ("location", "location"),
        ("chat_history", "file"),
    ],
)
@pytest.mark.parametrize("where", ["room", "private"])
async def test_every_non_text_type_is_a_non_text_kind(h, puppet_kind, kind, where):
    room = ROOM if where == "room" else None
    mid = h.puppet.media(
        "wxid_wang", puppet_kind, room=room, text="<msg><appmsg>some xml</appmsg></msg>", filename="x.bin"
    )
    await until(lambda: len(h.inbound) == 1)
    m = h.inbound[0]
    assert m.kind == kind and kind in NON_TEXT_KINDS
    assert m.text is None and not m.is_text
    assert m.message_id == mid
    assert m.chat_type == (ChatType.GROUP if room else ChatType.PRIVATE)
    if kind in ("image", "voice", "video", "file", "sticker"):
        assert m.attachment == mid  # what a later download through the gateway would need
    else:
        assert m.attachment is None


async def test_a_type_the_client_does_not_know_is_unknown(h):
    h.puppet.media("wxid_wang", "system", room=ROOM, mtype=99)
    await until(lambda: len(h.inbound) == 1)
    assert h.inbound[0].kind == "unknown" and h.inbound[0].text is None


async def test_an_unreadable_message_is_skipped_and_the_adapter_goes_on(h):
    from wechaty_puppet import EventMessagePayload

    h.puppet._emit("message", EventMessagePayload(message_id="no-such-message"))
    h.puppet.say("wxid_wang", "后面这条还在", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    assert h.inbound[0].text == "后面这条还在"
    assert h.adapter.status().connected


async def test_the_bots_own_messages_echoed_back_are_skipped(h):
    await h.adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="受理回执"))
    h.puppet.say("wxid_wang", "收到", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    await settle()
    assert [m.text for m in h.inbound] == ["收到"]


async def test_official_accounts_writing_privately_are_ignored(h):
    h.puppet.add_contact("gh_news", "县融媒", official=True)
    h.puppet.say("gh_news", "今日要闻")
    h.puppet.say("wxid_wang", "你好")
    await until(lambda: len(h.inbound) == 1)
    await settle()
    assert [m.sender_id for m in h.inbound] == ["wxid_wang"]


async def test_a_redelivered_message_id_is_handed_over_once(h):
    mid = h.puppet.say("wxid_wang", "路灯坏了", room=ROOM)
    from wechaty_puppet import EventMessagePayload

    h.puppet._emit("message", EventMessagePayload(message_id=mid))
    h.puppet.say("wxid_wang", "第二条", room=ROOM)
    await until(lambda: len(h.inbound) == 2)
    await settle()
    assert [m.text for m in h.inbound] == ["路灯坏了", "第二条"]


async def test_on_message_failures_are_retried(tmp_path):
    harness = Harness(tmp_path)
    calls: list[str] = []

    async def flaky(m: Inbound) -> None:
        calls.append(m.message_id)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        harness.inbound.append(m)

    await harness.adapter.start(flaky, harness.on_event)
    try:
        mid = harness.puppet.say("wxid_wang", "路灯坏了", room=ROOM)
        await until(lambda: len(harness.inbound) == 1)
        assert calls == [mid, mid]
    finally:
        await harness.adapter.stop()


# -- quotes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "「善治助手：已受理 SG20261125-0001」\n- - - - - - - - - - - - - - -\n2",
            ("善治助手", "已受理 SG20261125-0001", "2"),
        ),
        ("「王大妈: 路灯坏了\n三天了」\n- - - - - - -\n我家也是", ("王大妈", "路灯坏了\n三天了", "我家也是")),
        ("「张主任：看「通知」」\n - - - - \n好的", ("张主任", "看「通知」", "好的")),
        ("路灯坏了", None),
        ("「没有分隔线：内容」\n回复", None),
    ],
)
def test_parse_quote(text, expected):
    assert parse_quote(text) == expected


async def test_a_reply_quoting_the_bots_receipt_points_at_that_message(h):
    receipt = "您反映的问题已受理，编号 SG20261125-0001，类别：道路，承办：和平村委会，时限：11月28日"
    sent = await h.adapter.send(
        Outbound(platform="wechat", chat_id=ROOM, text=receipt, mentions=(("wxid_wang", "王大妈"),))
    )
    quoted = f"「善治助手：@王大妈 {receipt}」\n- - - - - - - - - - - - - - -\n补充：是东头那盏"
    h.puppet.say("wxid_wang", quoted, room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    m = h.inbound[0]
    assert m.reply_to == sent.message_id and m.reply_to
    assert m.text == "补充：是东头那盏"


async def test_a_truncated_quote_still_finds_the_message(h):
    sent = await h.adapter.send(
        Outbound(
            platform="wechat",
            chat_id=ROOM,
            text="请对本次办理评价：回复 1 满意 / 2 基本满意 / 3 不满意（SG20261125-0001）",
        )
    )
    h.puppet.say(
        "wxid_wang", "「善治助手：请对本次办理评价：回复 1 满意...」\n- - - - - - - - - - - - - - -\n1", room=ROOM
    )
    await until(lambda: len(h.inbound) == 1)
    assert h.inbound[0].reply_to == sent.message_id and h.inbound[0].text == "1"


async def test_a_quote_of_a_residents_message_points_at_it(h):
    first = h.puppet.say("wxid_wang", "村口路灯坏了三天了", room=ROOM)
    h.puppet.say(
        "wxid_liu_resident", "「王大妈：村口路灯坏了三天了」\n- - - - - - - - - - - - - - -\n我家门口也是", room=ROOM
    )
    await until(lambda: len(h.inbound) == 2)
    assert h.inbound[1].reply_to == first and h.inbound[1].text == "我家门口也是"


async def test_a_quote_of_something_unseen_has_no_reply_to_and_only_the_reply_text(h):
    h.puppet.say("wxid_wang", "「张主任：上个月的通知」\n- - - - - - - - - - - - - - -\n什么时候修", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    assert h.inbound[0].reply_to is None and h.inbound[0].text == "什么时候修"


# -- events -----------------------------------------------------------------------------------


async def test_bot_added_to_a_room_topic_changes_and_removal_are_events(h):
    h.puppet.bot_added("room_new@chatroom", "新村群", "wxid_admin")
    h.puppet.member_joined(ROOM, "wxid_zhao", "wxid_admin")
    h.puppet.topic(ROOM, "和平村村民群", "wxid_admin")
    h.puppet.bot_removed("room_new@chatroom", "wxid_admin")
    await until(lambda: len([e for e in h.events if e[0] != "connection"]) == 3)
    rest = [e for e in h.events if e[0] != "connection"]
    assert rest[0] == (
        "bot_added",
        {
            "platform": "wechat",
            "chat_id": "room_new@chatroom",
            "title": "新村群",
            "inviter_id": "wxid_admin",
            "inviter_name": "周管理",
        },
    )
    name, payload = rest[1]
    assert name == "topic_changed"
    assert payload["platform"] == "wechat" and payload["chat_id"] == ROOM
    assert (
        payload["title"] == "和平村村民群"
        and payload["old_title"] == "和平村群"
        and payload["changer_id"] == "wxid_admin"
    )
    assert rest[2][0] == "bot_removed" and rest[2][1]["chat_id"] == "room_new@chatroom"
    # the new title is what later messages carry
    h.puppet.say("wxid_wang", "你好", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    assert h.inbound[0].chat_title == "和平村村民群"


async def test_login_is_a_connection_event(h):
    assert h.connection_events()[0]["connected"] is True and h.connection_events()[0]["platform"] == "wechat"
    st = h.adapter.status()
    assert st.platform == "wechat" and st.connected and st.extra["self_id"] == BOT_ID


# -- send -------------------------------------------------------------------------------------


async def test_room_send_mentions_the_reporter_and_ignores_buttons(h):
    out = Outbound(
        platform="wechat",
        chat_id=ROOM,
        text="已受理 SG20261125-0001",
        mentions=(("wxid_wang", "王大妈"),),
        buttons=((Button("签收", "/accept SG20261125-0001"),),),
    )
    result = await h.adapter.send(out)
    [said] = h.puppet.said
    assert said.conversation_id == ROOM and said.is_room
    assert said.text == "@王大妈 已受理 SG20261125-0001"
    assert said.mention_ids == ["wxid_wang"]
    assert result.message_id == said.message_id


async def test_room_send_uses_the_group_nickname_and_falls_back_to_the_given_name(h):
    h.puppet.set_alias(ROOM, "wxid_wang", "3组王大妈")
    await h.adapter.send(
        Outbound(
            platform="wechat", chat_id=ROOM, text="好的", mentions=(("wxid_wang", "王大妈"), ("wxid_gone", "老赵"))
        )
    )
    [said] = h.puppet.said
    assert said.text == "@3组王大妈\u2005@老赵 好的"
    assert said.mention_ids == ["wxid_wang"]  # only members can be @-mentioned for real


async def test_private_send(h):
    result = await h.adapter.send(
        Outbound(platform="wechat", chat_id="wxid_zhang", chat_type=ChatType.PRIVATE, text="请签收 SG20261125-0001")
    )
    [said] = h.puppet.said
    assert (said.conversation_id, said.text, said.is_room) == ("wxid_zhang", "请签收 SG20261125-0001", False)
    assert result.message_id == said.message_id


@pytest.mark.parametrize("chat_id", ["wxid_stranger", "wxid_nobody"])
async def test_private_send_to_a_non_friend_or_unknown_contact_is_permanent_and_unreachable(h, chat_id):
    with pytest.raises(DeliveryError) as err:
        await h.adapter.send(
            Outbound(
                platform="wechat",
                chat_id=chat_id,
                chat_type=ChatType.PRIVATE,
                text="请签收",
                fallback_chat_id=ROOM,
                recipient_name="陌生人",
            )
        )
    assert err.value.permanent and err.value.recipient_unreachable
    assert h.puppet.said == []


async def test_a_gateway_refusing_a_non_friend_is_permanent_too(tmp_path):
    harness = Harness(tmp_path, require_friend=False)
    await harness.start()
    try:
        with pytest.raises(DeliveryError) as err:
            await harness.adapter.send(
                Outbound(platform="wechat", chat_id="wxid_stranger", chat_type=ChatType.PRIVATE, text="请签收")
            )
        assert err.value.permanent and err.value.recipient_unreachable
    finally:
        await harness.adapter.stop()


async def test_unknown_room_or_a_room_the_bot_left_is_permanent(h):
    h.puppet.add_room("room_left@chatroom", "旧群", ["wxid_admin"], include_bot=False)
    for chat_id in ("room_unknown@chatroom", "room_left@chatroom"):
        with pytest.raises(DeliveryError) as err:
            await h.adapter.send(Outbound(platform="wechat", chat_id=chat_id, text="hi"))
        assert err.value.permanent and err.value.recipient_unreachable


async def test_connection_failures_while_sending_are_transient(h):
    h.puppet.fail_next_sends.append(ConnectionResetError("gateway went away"))
    with pytest.raises(DeliveryError) as err:
        await h.adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="hi"))
    assert not err.value.permanent and not err.value.recipient_unreachable
    h.puppet.fail_next_sends.append(GRPCError(Status.INTERNAL, "something broke"))
    with pytest.raises(DeliveryError) as err:
        await h.adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="hi"))
    assert not err.value.permanent
    await h.adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="hi"))
    assert len(h.puppet.said) == 1


async def test_sending_while_disconnected_is_transient(tmp_path):
    harness = Harness(tmp_path)
    with pytest.raises(DeliveryError) as err:
        await harness.adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="hi"))
    assert not err.value.permanent and err.value.retry_after


# -- watchdog ---------------------------------------------------------------------------------


async def test_logout_mid_conversation_reconnects_and_nothing_after_it_is_lost(h):
    h.puppet.say("wxid_wang", "村口路灯坏了", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    starts = h.puppet.starts
    h.puppet.logout_now("账号在其他设备登录")
    await until(lambda: h.puppet.starts == starts + 1 and h.adapter.status().connected)
    await until(lambda: len(h.connection_events()) == 3)  # recorded a moment after the adapter says connected
    conn = h.connection_events()
    assert [c["connected"] for c in conn] == [True, False, True]
    assert "账号在其他设备登录" in conn[1]["detail"] and conn[2]["reconnected"] is True
    h.puppet.say("wxid_li", "签收 SG20261125-0001", room=ROOM)
    h.puppet.say("wxid_wang", "谢谢", room=ROOM)
    await until(lambda: len(h.inbound) == 3)
    assert [m.text for m in h.inbound] == ["村口路灯坏了", "签收 SG20261125-0001", "谢谢"]
    st = h.adapter.status()
    assert st.connected and st.extra["reconnects"] == "1" and st.extra["logins"] == "2"
    assert "账号在其他设备登录" in st.extra["last_error"]
    await h.adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="已签收"))
    assert h.puppet.said[-1].text == "已签收"


async def test_the_event_stream_ending_or_failing_is_noticed_and_reconnected(h):
    for how in (None, ConnectionResetError("stream reset"), ValueError("the field<data> is required")):
        starts = h.puppet.starts
        h.puppet.end_stream(how)
        await until(lambda starts=starts: h.puppet.starts == starts + 1 and h.adapter.status().connected)
    # the adapter says it is connected a moment before the app has recorded the event saying so (a busy CI
    # machine saw the last one missing): wait for the seven events themselves
    await until(lambda: len(h.connection_events()) == 7)
    conn = h.connection_events()
    assert [c["connected"] for c in conn] == [True, False, True, False, True, False, True]
    assert "start() returned" in conn[1]["detail"]
    assert "stream reset" in conn[3]["detail"]
    h.puppet.say("wxid_wang", "还在吗", room=ROOM)
    await until(lambda: len(h.inbound) == 1)


async def test_reconnect_backs_off_in_virtual_time(tmp_path):
    harness = Harness(tmp_path, reconnect_delays=(1, 2, 5))
    await harness.start()
    try:
        t0 = harness.clock.now()
        harness.puppet.refuse_start = ConnectionRefusedError("gateway down")
        harness.puppet.end_stream()
        await until(lambda: harness.puppet.starts >= 4)
        assert not harness.adapter.status().connected
        harness.puppet.refuse_start = None
        await until(lambda: harness.adapter.status().connected)
        assert (harness.clock.now() - t0).total_seconds() >= 1 + 2 + 5
        # one "down" event, however many attempts failed
        assert [c["connected"] for c in harness.connection_events()] == [True, False, True]
    finally:
        await harness.adapter.stop()


async def test_an_error_event_is_recorded_and_the_bot_goes_on(h):
    h.puppet.error_event('{"code":2,"details":"GError: boom\\n    at x"}')
    h.puppet.say("wxid_wang", "路灯坏了", room=ROOM)
    await until(lambda: len(h.inbound) == 1)
    st = h.adapter.status()
    assert st.connected and "GError: boom" in st.extra["last_error"]
    assert [c["connected"] for c in h.connection_events()] == [True]


async def test_a_refused_token_at_start_is_fatal_not_a_silent_exit(tmp_path):
    harness = Harness(tmp_path, max_auth_failures=3)
    harness.puppet.refuse_start = GRPCError(Status.UNAUTHENTICATED, 'Invalid Wechaty TOKEN "nope"')
    with pytest.raises(WeChatFatalError) as err:
        await harness.start()
    assert err.value.exit_code != 0
    assert harness.puppet.starts == 3
    conn = harness.connection_events()
    assert conn[-1]["connected"] is False and conn[-1]["fatal"] is True and "token" in conn[-1]["detail"]
    st = harness.adapter.status()
    assert not st.connected and "fatal" in st.extra


async def test_a_token_revoked_later_ends_in_fatal_reported_to_the_app(h):
    h.puppet.refuse_start = GRPCError(Status.UNAUTHENTICATED, "token revoked")
    h.puppet.end_stream()
    fatal = await asyncio.wait_for(h.adapter.wait_fatal(), timeout=5)
    assert isinstance(fatal, WeChatFatalError) and fatal.exit_code != 0
    assert h.adapter.fatal_error is fatal
    assert h.connection_events()[-1]["fatal"] is True


async def test_max_reconnect_attempts_ends_in_fatal(tmp_path):
    harness = Harness(tmp_path, max_reconnect_attempts=2, reconnect_delays=(1,))
    await harness.start()
    try:
        harness.puppet.refuse_start = ConnectionRefusedError("gateway down")
        harness.puppet.end_stream()
        await asyncio.wait_for(harness.adapter.wait_fatal(), timeout=5)
        assert "gave up" in harness.adapter.fatal_error.reason
    finally:
        await harness.adapter.stop()


async def test_stop_hands_over_what_already_arrived(tmp_path):
    harness = Harness(tmp_path)
    await harness.start()
    for i in range(5):
        harness.puppet.say("wxid_wang", f"消息{i}", room=ROOM)
    await asyncio.sleep(0)
    await harness.adapter.stop()
    assert [m.text for m in harness.inbound] == [f"消息{i}" for i in range(5)]
    assert not harness.adapter.status().connected


# -- configuration and environment ------------------------------------------------------------


def test_limits_are_conservative_and_configurable(tmp_path):
    assert DEFAULT_LIMITS.per_chat_interval >= 3 and DEFAULT_LIMITS.jitter > 0
    assert 0 < DEFAULT_LIMITS.per_hour <= 300 and 0 < DEFAULT_LIMITS.global_per_second <= 1
    custom = PaceLimits(per_chat_interval=10, jitter=5, per_hour=60, global_per_second=0.2)
    assert WeChatAdapter(puppet=object(), data_dir=tmp_path, limits=custom).limits == custom

    class Cfg:
        endpoint = "127.0.0.1:1"
        per_chat_interval_seconds = 7.0
        jitter_seconds = 1.5
        per_hour = 120

    a = WeChatAdapter.from_config(Cfg(), data_dir=tmp_path)
    assert (a.limits.per_chat_interval, a.limits.jitter, a.limits.per_hour) == (7.0, 1.5, 120)
    assert a.platform == "wechat"


def test_an_endpoint_is_required_without_an_in_process_puppet(tmp_path, monkeypatch):
    monkeypatch.delenv("WECHATY_PUPPET_SERVICE_ENDPOINT", raising=False)
    with pytest.raises(WeChatConfigError, match="WECHATY_PUPPET_SERVICE_ENDPOINT"):
        WeChatAdapter(token="t", data_dir=tmp_path)
    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_ENDPOINT", "127.0.0.1:9")
    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_TOKEN", "env-token")
    a = WeChatAdapter(data_dir=tmp_path)
    assert a.status().extra["endpoint"] == "127.0.0.1:9" and not a.status().connected


def test_importing_wechaty_leaves_the_working_directory_alone(tmp_path):
    """wechaty writes ./.wechaty and a job store on import/login: both go under the data dir."""
    code = (
        f"import sys; from pathlib import Path; sys.path.insert(0, {str(REPO)!r})\n"
        "import bot.adapters.wechat.compat as w\n"
        "assert 'wechaty' not in sys.modules  # importing the adapter is free\n"
        "w.load_wechaty(Path('data'))\n"
        "import wechaty, os\n"
        "print(os.environ['CACHE_DIR'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CACHE_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / ".wechaty").exists()
    assert (tmp_path / "data" / "wechaty").is_dir()
    assert out.stdout.strip() == str((tmp_path / "data" / "wechaty").resolve())


async def test_the_wechaty_job_store_lives_in_the_data_dir(h, tmp_path):
    assert (tmp_path / "data" / "wechaty" / "job.db").exists()
