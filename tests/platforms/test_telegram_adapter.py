"""The Telegram adapter against a local Bot API server (tests/support/telegram_api.py).

The real python-telegram-bot library makes every request over HTTP to 127.0.0.1; nothing of the core
is needed here: `on_message`/`on_event` are recording stubs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.adapters.telegram.settings import from_env
from bot.adapters.telegram.wire import render
from bot.messages import Button, ChatType, DeliveryError, Inbound, Outbound
from core.clock import SHANGHAI, ManualClock
from core.environment import Environment

try:
    from tests.support.telegram_api import TOKEN, FakeTelegramAPI, user
except ImportError:  # pragma: no cover - run from inside tests/
    from fakes.telegram_api import TOKEN, FakeTelegramAPI, user  # type: ignore[no-redef]

GROUP = -1001001
OTHER_GROUP = -1001002
RESIDENT = user(5001, "大妈", last_name="王", username="wangdama")
GRID = user(2001, "李网格")
OFFICIAL = user(3001, "张主任")


class Recorder:
    """A stand-in for the core: records what the adapter hands over; can be told to fail."""

    def __init__(self) -> None:
        self.messages: list[Inbound] = []
        self.events: list[tuple[str, dict]] = []
        self.fail = 0  # raise on the next N hand-overs
        self.failures = 0

    async def on_message(self, inbound: Inbound) -> None:
        if self.fail:
            self.fail -= 1
            self.failures += 1
            raise RuntimeError("database is down")
        self.messages.append(inbound)

    async def on_event(self, name: str, payload: dict) -> None:
        self.events.append((name, payload))

    def named(self, name: str) -> list[dict]:
        return [p for n, p in self.events if n == name]


@pytest.fixture
async def api(clock: ManualClock):
    async with FakeTelegramAPI(clock=clock) as server:
        server.group(GROUP, "和平村群")
        server.group(OTHER_GROUP, "石桥村群")
        yield server


def make_adapter(api: FakeTelegramAPI, clock: ManualClock, **kw) -> TelegramAdapter:
    kw.setdefault("poll_timeout", 1)
    kw.setdefault("request_timeout", 0.5)
    kw.setdefault("backoff", (0.01, 0.05))
    return TelegramAdapter(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, clock=clock, **kw)


@pytest.fixture
async def running(api: FakeTelegramAPI, clock: ManualClock):
    rec = Recorder()
    adapter = make_adapter(api, clock)
    await adapter.start(rec.on_message, rec.on_event)
    try:
        yield adapter, rec
    finally:
        await adapter.stop()


async def settle(api: FakeTelegramAPI, adapter: TelegramAdapter) -> None:
    """Wait until every queued update has been handed over (the offset passed the last one)."""
    last = max((u["update_id"] for u in api.updates), default=0)
    await api.wait_for(lambda: (adapter.offset or 0) > last)


# ---------------------------------------------------------------- start-up


async def test_start_calls_get_me_delete_webhook_and_polls_with_allowed_updates(running, api):
    adapter, _ = running
    await api.wait_for(lambda: api.calls("getUpdates"))
    assert adapter.status().connected
    api.group_text(GROUP, RESIDENT, "x")
    await settle(api, adapter)
    methods = [r.method for r in api.requests]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert api.calls("deleteWebhook")[0].params["drop_pending_updates"] == "false"
    poll = api.calls("getUpdates")[0].params
    assert set(poll["allowed_updates"]) == {"message", "edited_message", "callback_query", "my_chat_member"}
    assert poll["timeout"] == "1"
    assert adapter.bot_username == "shanzhi_bot"
    assert adapter.platform == "telegram"
    assert (
        adapter.limits.global_per_second,
        adapter.limits.per_chat_interval,
        adapter.limits.per_group_per_minute,
    ) == (30, 1.0, 20)
    status = adapter.status()
    assert status.connected and status.extra["last_poll"] == "2026-11-25T09:00:00+08:00"


async def test_bad_token_fails_at_start(api, clock):
    adapter = TelegramAdapter("999:WRONG", base_url=api.base_url, clock=clock, poll_timeout=1)
    with pytest.raises(RuntimeError, match="token"):
        await adapter.start(Recorder().on_message)


def test_from_env():
    assert from_env(Environment.model_validate({})) is None
    a = from_env(
        Environment.model_validate(
            {
                "TELEGRAM_BOT_TOKEN": "1:x",
                "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/tg",
                "TELEGRAM_WEBHOOK_SECRET": "s3",
            }
        )
    )
    assert a is not None and a.mode == "webhook" and a.secret_token == "s3"
    assert from_env(Environment.model_validate({"TELEGRAM_BOT_TOKEN": "1:x"})).mode == "polling"  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        TelegramAdapter("1:x", mode="webhook")


async def test_from_config_points_at_a_bot_api_server(api, clock, config):
    from bot.adapters.telegram.settings import from_config

    settings = config.platforms.telegram.model_copy(update={"base_url": f"http://127.0.0.1:{api.port}"})
    assert from_config(settings, Environment.model_validate({})) is None  # auto and no token: off
    adapter = from_config(
        settings, Environment.model_validate({"TELEGRAM_BOT_TOKEN": TOKEN}), clock=clock, poll_timeout=1
    )
    assert adapter is not None and adapter.mode == "polling"
    rec = Recorder()
    await adapter.start(rec.on_message, rec.on_event)
    try:
        api.group_text(GROUP, RESIDENT, "你好")
        await settle(api, adapter)
        assert rec.messages[0].text == "你好"
    finally:
        await adapter.stop()
    off = config.platforms.telegram.model_copy(update={"enabled": False})
    assert from_config(off, Environment.model_validate({"TELEGRAM_BOT_TOKEN": TOKEN})) is None
    on = config.platforms.telegram.model_copy(update={"enabled": True})
    with pytest.raises(ValueError):
        from_config(on, Environment.model_validate({}))


# ---------------------------------------------------------------- inbound mapping


async def test_group_text_private_text_reply_and_mentions(running, api):
    adapter, rec = running
    first = api.group_text(
        GROUP, RESIDENT, "村口路灯坏了三天了 @lizhang 你看看", entities=[{"type": "mention", "offset": 10, "length": 8}]
    )
    api.group_text(
        GROUP,
        RESIDENT,
        "晚上黑漆漆的 张主任",
        reply_to=first["message_id"],
        entities=[{"type": "text_mention", "offset": 7, "length": 3, "user": OFFICIAL}],
    )
    api.private_text(OFFICIAL, "/start")
    await settle(api, adapter)
    a, b, c = rec.messages
    assert a.platform == "telegram" and a.chat_type == ChatType.GROUP and a.is_group
    assert (a.chat_id, a.sender_id, a.sender_name) == ("-1001001", "5001", "大妈 王")
    assert a.message_id == str(first["message_id"]) and a.text.startswith("村口路灯")
    assert a.mentions == ("@lizhang",) and a.kind == "text" and a.chat_title == "和平村群"
    assert a.sent_at == datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)
    assert b.reply_to == str(first["message_id"]) and b.mentions == ("3001",)
    assert (c.chat_type, c.chat_id, c.sender_id, c.text) == (ChatType.PRIVATE, "3001", "3001", "/start")


async def test_command_addressed_to_the_bot_loses_the_suffix(running, api):
    adapter, rec = running
    api.group_text(GROUP, GRID, "/accept@shanzhi_bot SG20261125-0001")
    api.group_text(GROUP, GRID, "/accept@other_bot SG20261125-0001")
    await settle(api, adapter)
    assert [m.text for m in rec.messages] == ["/accept SG20261125-0001", "/accept@other_bot SG20261125-0001"]


async def test_photos_voice_sticker_files_video_location(running, api):
    adapter, rec = running
    api.photo(GROUP, RESIDENT, caption="垃圾堆了一周没人清")
    api.photo(GROUP, RESIDENT)
    api.voice(GROUP, RESIDENT)
    api.sticker(GROUP, RESIDENT)
    api.document(GROUP, RESIDENT)
    api.video(GROUP, RESIDENT)
    api.location(GROUP, RESIDENT, 30.25, 114.5)
    await settle(api, adapter)
    got = [(m.kind, m.text, m.attachment) for m in rec.messages]
    assert got[0][0:2] == ("text", "垃圾堆了一周没人清") and got[0][2].startswith("photo-large-")
    assert got[1][0:2] == ("image", None) and got[1][2].startswith("photo-large-")
    assert got[2:] == [
        ("voice", None, "voice-1"),
        ("sticker", None, "sticker-1"),
        ("file", None, "doc-1"),
        ("video", None, "video-1"),
        ("location", None, "geo:30.25,114.5"),
    ]
    assert [m.is_text for m in rec.messages] == [True] + [False] * 6


async def test_edited_message_keeps_its_id(running, api, clock):
    adapter, rec = running
    original = api.group_text(GROUP, RESIDENT, "路灯坏了")
    clock.advance(minutes=2)
    api.edit(original, "村口路灯坏了三天了")
    await settle(api, adapter)
    first, edit = rec.messages
    assert not first.edited and edit.edited
    assert edit.message_id == first.message_id and edit.text == "村口路灯坏了三天了"
    assert (edit.sent_at - first.sent_at).total_seconds() == 120  # the edit's own time


async def test_forwarded_message_is_from_the_forwarder(running, api):
    adapter, rec = running
    api.group_text(
        GROUP,
        RESIDENT,
        "停水通知转发一下",
        forward_origin={"type": "user", "date": 1700000000, "sender_user": user(7777, "别人")},
    )
    await settle(api, adapter)
    assert rec.messages[0].sender_id == "5001" and rec.messages[0].sender_name == "大妈 王"


async def test_callback_query_becomes_a_callback_inbound(running, api):
    adapter, rec = running
    api.started.add(3001)
    sent = await adapter.send(
        Outbound(
            platform="telegram",
            chat_id="3001",
            chat_type=ChatType.PRIVATE,
            text="新工单",
            buttons=((Button("签收", "/accept SG20261125-0001"),),),
        )
    )
    qid = api.callback(OFFICIAL, int(sent.message_id), "/accept SG20261125-0001")
    await settle(api, adapter)
    (press,) = rec.messages
    assert press.kind == "callback" and press.is_text
    assert press.text == "/accept SG20261125-0001" and press.callback_id == qid
    assert (press.chat_id, press.chat_type, press.sender_id) == ("3001", ChatType.PRIVATE, "3001")
    assert press.reply_to == sent.message_id and press.message_id == f"cb:{qid}"
    # answered with a short text instead of a message
    result = await adapter.send(Outbound(platform="telegram", chat_id="3001", text="已签收", callback_id=qid))
    assert result.message_id is None
    assert api.answers == [{"id": qid, "text": "已签收", "at": api.answers[0]["at"]}]
    assert len(api.sent) == 1
    # a second answer to the same press is refused by Telegram: permanent, not retried
    with pytest.raises(DeliveryError) as err:
        await adapter.send(Outbound(platform="telegram", chat_id="3001", text="again", callback_id=qid))
    assert err.value.permanent and not err.value.recipient_unreachable


async def test_callback_in_a_group_keeps_the_group_chat(running, api):
    adapter, rec = running
    sent = await adapter.send(
        Outbound(
            platform="telegram",
            chat_id=str(GROUP),
            text="请评价",
            buttons=((Button("满意", "/rate SG1 1"), Button("不满意", "/rate SG1 3")),),
        )
    )
    api.callback(RESIDENT, int(sent.message_id), "/rate SG1 3", chat_id=GROUP)
    await settle(api, adapter)
    (press,) = rec.messages
    assert (press.chat_id, press.chat_type, press.sender_id, press.text) == (
        "-1001001",
        ChatType.GROUP,
        "5001",
        "/rate SG1 3",
    )


async def test_platform_events(running, api):
    adapter, rec = running
    admin = user(9001, "周管理")
    api.my_chat_member(OTHER_GROUP, admin, "left", "member")
    api.bot_joined(OTHER_GROUP, admin)
    api.my_chat_member(OTHER_GROUP, admin, "member", "administrator")  # promotion: nothing
    api.new_title(OTHER_GROUP, admin, "石桥村民群")
    api.migrate(GROUP, -1001001999, admin)
    api.my_chat_member(OTHER_GROUP, admin, "administrator", "kicked")
    api.my_chat_member(5001, RESIDENT, "member", "kicked")  # the resident blocked the bot
    api.group_text(GROUP, RESIDENT, "hello", new_chat_members=[RESIDENT])  # someone else joined: no event
    await settle(api, adapter)
    assert rec.messages == []
    names = [n for n, _ in rec.events if n != "connection"]
    assert names == [
        "bot_added",
        "bot_added",
        "topic_changed",
        "chat_migrated",
        "chat_migrated",
        "bot_removed",
        "bot_blocked",
    ]
    added = rec.named("bot_added")[0]
    assert added == {
        "platform": "telegram",
        "chat_id": "-1001002",
        "title": "石桥村群",
        "by": "9001",
        "by_name": "周管理",
        "status": "member",
    }
    assert rec.named("topic_changed")[0]["title"] == "石桥村民群"
    assert rec.named("chat_migrated") == [{"platform": "telegram", "from": "-1001001", "to": "-1001001999"}] * 2
    assert rec.named("bot_removed")[0]["chat_id"] == "-1001002"
    assert rec.named("bot_blocked")[0]["user_id"] == "5001"


# ---------------------------------------------------------------- store first, then confirm


async def test_offset_not_advanced_when_the_core_fails(running, api):
    adapter, rec = running
    rec.fail = 3  # the database is down for three hand-overs
    api.group_text(GROUP, RESIDENT, "一")
    api.group_text(GROUP, RESIDENT, "二")
    await settle(api, adapter)
    assert [m.text for m in rec.messages] == ["一", "二"]
    assert rec.failures == 3
    # the first update was fetched (at least) four times: the offset never passed it unstored
    polls = api.calls("getUpdates")
    offsets = [int(p.params.get("offset", 0) or 0) for p in polls]
    assert offsets.count(offsets[1]) >= 3  # refetched from the same offset
    assert adapter.offset == 3
    assert "database is down" in adapter.last_error


async def test_offset_survives_a_partial_batch(running, api):
    adapter, rec = running

    calls = 0
    original = rec.on_message

    async def flaky(inbound: Inbound) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second message of the batch fails once
            raise RuntimeError("disk full")
        await original(inbound)

    adapter._on_message = flaky  # swap the core stub under the running loop
    api.group_text(GROUP, RESIDENT, "一")
    api.group_text(GROUP, RESIDENT, "二")
    api.group_text(GROUP, RESIDENT, "三")
    await settle(api, adapter)
    assert [m.text for m in rec.messages] == ["一", "二", "三"]  # nothing lost, nothing twice
    # after the failure the next poll asked from update 2: update 1 is confirmed, 2 comes again
    offsets = [p.params.get("offset") for p in api.calls("getUpdates")]
    assert "2" in offsets


async def test_restart_redelivers_what_was_not_confirmed(api, clock):
    rec = Recorder()
    rec.fail = 10**6  # core down: nothing can be stored
    adapter = make_adapter(api, clock)
    await adapter.start(rec.on_message, rec.on_event)
    api.group_text(GROUP, RESIDENT, "路灯坏了")
    await api.wait_for(lambda: rec.failures >= 2)
    await adapter.stop()
    assert api.updates  # still pending at "Telegram"
    rec2 = Recorder()
    adapter2 = make_adapter(api, clock)
    await adapter2.start(rec2.on_message, rec2.on_event)
    try:
        await settle(api, adapter2)
        assert [m.text for m in rec2.messages] == ["路灯坏了"]
    finally:
        await adapter2.stop()
    # stop() confirmed the stored update, so a third start gets nothing again
    assert api.confirmed == 2 and api.updates == []


async def test_poll_errors_back_off_and_report_status(running, api):
    adapter, rec = running
    api.fail_next("getUpdates", 502, n=2)
    await api.wait_for(lambda: adapter.status().connected is False or len(api.calls("getUpdates")) > 3)
    api.group_text(GROUP, RESIDENT, "还在吗")
    await settle(api, adapter)
    assert rec.messages[0].text == "还在吗"
    assert adapter.status().connected
    conn = rec.named("connection")
    assert any(not c["connected"] for c in conn) and conn[-1]["connected"] is True


async def test_poll_timeout_and_dropped_poll_connection(running, api):
    adapter, rec = running
    await api.wait_for(lambda: api.calls("getUpdates"))
    api.drop_next("getUpdates")
    api.hang_next("getUpdates")
    api.group_text(GROUP, RESIDENT, "一")
    await settle(api, adapter)
    assert [m.text for m in rec.messages] == ["一"]


# ---------------------------------------------------------------- outbound


async def test_send_group_message_with_reply_and_buttons(running, api):
    adapter, _ = running
    original = api.group_text(GROUP, RESIDENT, "路灯坏了")
    out = Outbound(
        platform="telegram",
        chat_id=str(GROUP),
        text="已受理 SG20261125-0001",
        reply_to=str(original["message_id"]),
        buttons=(
            (Button("满意", "/rate SG20261125-0001 1"), Button("基本满意", "/rate SG20261125-0001 2")),
            (Button("不满意", "/rate SG20261125-0001 3"),),
        ),
    )
    result = await adapter.send(out)
    (msg,) = api.sent
    assert result.message_id == str(msg["message_id"])
    assert msg["chat_id"] == "-1001001" and msg["text"] == "已受理 SG20261125-0001" and msg["parse_mode"] is None
    req = api.calls("sendMessage")[0].params
    assert req["reply_parameters"] == {"message_id": original["message_id"], "allow_sending_without_reply": True}
    assert msg["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "满意", "callback_data": "/rate SG20261125-0001 1"},
                {"text": "基本满意", "callback_data": "/rate SG20261125-0001 2"},
            ],
            [{"text": "不满意", "callback_data": "/rate SG20261125-0001 3"}],
        ]
    }


async def test_force_reply(running, api):
    adapter, _ = running
    api.started.add(3001)
    await adapter.send(
        Outbound(
            platform="telegram", chat_id="3001", chat_type=ChatType.PRIVATE, text="请回复办结说明", force_reply=True
        )
    )
    assert api.sent[0]["reply_markup"] == {"force_reply": True, "selective": True}


async def test_mentions_are_text_mentions_and_the_rest_is_escaped(running, api):
    adapter, _ = running
    out = Outbound(
        platform="telegram",
        chat_id=str(GROUP),
        text='@张主任 请看工单 <SG1> & "路灯" 由 @李网格 跟进',
        mentions=(("3001", "张主任"), ("2001", "李网格"), ("5001", "王大妈")),
    )
    await adapter.send(out)
    msg = api.sent[0]
    assert msg["parse_mode"] == "HTML"
    assert msg["text"] == (
        '<a href="tg://user?id=5001">@王大妈</a> '
        '<a href="tg://user?id=3001">@张主任</a> 请看工单 &lt;SG1&gt; &amp; "路灯" 由 '
        '<a href="tg://user?id=2001">@李网格</a> 跟进'
    )


def test_render_escapes_names_and_keeps_long_button_commands_as_text():
    text, mode = render(Outbound(platform="telegram", chat_id="1", text="hi", mentions=(("42", "<b>坏人</b>"),)))
    assert mode == "HTML" and text == '<a href="tg://user?id=42">@&lt;b&gt;坏人&lt;/b&gt;</a> hi'
    long_cmd = "/return SG20261125-0001 " + "原因" * 10
    text, mode = render(
        Outbound(
            platform="telegram",
            chat_id="1",
            text="工单",
            buttons=((Button("退单", long_cmd), Button("签收", "/accept SG1")),),
        )
    )
    assert mode is None and text == f"工单\n退单: {long_cmd}"
    text, _ = render(Outbound(platform="telegram", chat_id="1", text="长" * 5000))
    assert len(text) == 4096


async def test_oversized_callback_data_never_reaches_telegram(running, api):
    adapter, _ = running
    long_cmd = "/return SG20261125-0001 " + "原因" * 10
    await adapter.send(
        Outbound(
            platform="telegram",
            chat_id=str(GROUP),
            text="工单",
            buttons=((Button("退单", long_cmd), Button("签收", "/accept SG1")),),
        )
    )
    assert api.sent[0]["reply_markup"] == {"inline_keyboard": [[{"text": "签收", "callback_data": "/accept SG1"}]]}


async def test_403_is_permanent_and_unreachable(running, api):
    adapter, _ = running
    with pytest.raises(DeliveryError) as err:  # never /start-ed the bot
        await adapter.send(Outbound(platform="telegram", chat_id="3001", chat_type=ChatType.PRIVATE, text="新工单"))
    assert err.value.permanent and err.value.recipient_unreachable and "initiate" in err.value.reason
    api.started.add(3001)
    api.fail_next("sendMessage", 403, chat_id=3001, description="Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryError) as err:
        await adapter.send(Outbound(platform="telegram", chat_id="3001", chat_type=ChatType.PRIVATE, text="新工单"))
    assert err.value.recipient_unreachable and "blocked" in err.value.reason
    assert (await adapter.send(Outbound(platform="telegram", chat_id="3001", text="新工单"))).message_id


async def test_429_gives_retry_after_and_the_adapter_does_not_retry(running, api):
    adapter, _ = running
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(DeliveryError) as err:
        await adapter.send(Outbound(platform="telegram", chat_id=str(GROUP), text="通知"))
    assert err.value.retry_after == 7 and not err.value.permanent
    assert len(api.calls("sendMessage")) == 1 and api.sent == []


async def test_chat_migrated(running, api):
    adapter, _ = running
    api.migrate(GROUP, -1001001999, user(9001, "周管理"))
    with pytest.raises(DeliveryError) as err:
        await adapter.send(Outbound(platform="telegram", chat_id=str(GROUP), text="通知"))
    assert err.value.migrated_to == "-1001001999" and not err.value.permanent
    assert (await adapter.send(Outbound(platform="telegram", chat_id="-1001001999", text="通知"))).message_id


@pytest.mark.parametrize(
    ("setup", "permanent"),
    [
        (lambda api: api.fail_next("sendMessage", 500), False),
        (lambda api: api.fail_next("sendMessage", 502), False),
        (lambda api: api.drop_next("sendMessage"), False),
        (lambda api: api.hang_next("sendMessage"), False),
        (lambda api: api.fail_next("sendMessage", 400, description="Bad Request: message is too long"), True),
    ],
    ids=["500", "502", "dropped", "timeout", "400"],
)
async def test_server_errors_map_to_transient_or_permanent(running, api, setup, permanent):
    adapter, _ = running
    setup(api)
    with pytest.raises(DeliveryError) as err:
        await adapter.send(Outbound(platform="telegram", chat_id=str(GROUP), text="通知"))
    assert err.value.permanent is permanent and err.value.retry_after is None
    assert api.sent == []
    # the next attempt (the core's decision) goes through on a fresh connection
    assert (await adapter.send(Outbound(platform="telegram", chat_id=str(GROUP), text="通知"))).message_id
    assert len(api.sent) == 1


# ---------------------------------------------------------------- webhook mode


async def test_webhook_mode_answers_200_only_after_the_core_stored_the_update(api, clock):
    rec = Recorder()
    adapter = make_adapter(
        api,
        clock,
        mode="webhook",
        webhook_url="https://bot.example.org/tg/hook",
        listen="127.0.0.1",
        port=0,
        secret_token="s3cret",
    )
    await adapter.start(rec.on_message, rec.on_event)
    try:
        hook = api.calls("setWebhook")[0].params
        assert hook["url"] == "https://bot.example.org/tg/hook" and hook["secret_token"] == "s3cret"
        assert hook["max_connections"] == "1" and "callback_query" in hook["allowed_updates"]
        assert not api.calls("deleteWebhook") and not api.calls("getUpdates")
        api.group_text(GROUP, RESIDENT, "路灯坏了")
        update = api.updates.pop()
        url = f"http://127.0.0.1:{adapter.webhook_port}/tg/hook"
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with httpx.AsyncClient() as client:
            assert (await client.post(url, json=update)).status_code == 403  # no secret
            assert (await client.post(url.replace("hook", "other"), json=update, headers=headers)).status_code == 404
            rec.fail = 1
            assert (await client.post(url, json=update, headers=headers)).status_code == 500  # Telegram will retry
            assert rec.messages == []
            assert (await client.post(url, json=update, headers=headers)).status_code == 200
            assert (await client.post(url, content=b"nope", headers=headers)).status_code == 400
        assert [m.text for m in rec.messages] == ["路灯坏了"]
        api.started.add(3001)
        assert (await adapter.send(Outbound(platform="telegram", chat_id="3001", text="hi"))).message_id
    finally:
        await adapter.stop()


async def test_stop_is_prompt_during_a_long_poll(api, clock):
    rec = Recorder()
    adapter = make_adapter(api, clock, poll_timeout=20, request_timeout=5)
    await adapter.start(rec.on_message, rec.on_event)
    await api.wait_for(lambda: api.calls("getUpdates"))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await adapter.stop()
    assert loop.time() - t0 < 3
    assert not adapter.status().connected
