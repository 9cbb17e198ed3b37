"""Bad input gets a clear answer or silence — never a crash, never a traceback in a chat."""

from __future__ import annotations

import pytest

from tests.support.chat import Chat
from tests.support.transcripts import open_streetlight


def no_traceback(lines) -> None:  # type: ignore[no-untyped-def]
    for l in lines:
        assert "Traceback" not in l.text and "Error" not in l.text and "Exception" not in l.text


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "😂😂😂", "🙏", "。。。", "\u200b\u200b", "!!!"])
async def test_empty_or_emoji_only_messages_get_silence(chat: Chat, text: str) -> None:
    assert await chat.say("王大妈", text) == []
    assert chat.tickets() == []


async def test_a_twenty_thousand_character_message_is_stored_and_never_crashes(chat: Chat) -> None:
    replies = await chat.say("王大妈", "转发：" + "这是一篇很长的文章。" * 2000)
    no_traceback(replies)
    with chat.app.services.uow() as uow:
        from sqlmodel import select

        from storage.models import InboxMessage

        row = uow.session.exec(select(InboxMessage)).one()
        assert row.status == "done" and len(row.text) > 20000


async def test_a_huge_command_gets_asked_to_shorten(chat: Chat) -> None:
    replies = await chat.dm("陈镇长", "/resolve " + "好" * 6000)
    assert "消息太长" in replies[0].text


@pytest.mark.parametrize("kind", ["image", "file", "video", "sticker", "link", "redpacket", "location"])
async def test_non_text_is_stored_and_never_classified(chat: Chat, kind: str) -> None:
    assert await chat.say("王大妈", None, kind=kind) == []
    assert chat.tickets() == []
    with chat.app.services.uow() as uow:
        from sqlmodel import select

        from storage.models import InboxMessage

        row = uow.session.exec(select(InboxMessage)).one()
        assert (row.kind, row.result) == (kind, "non_text")


async def test_voice_note_asks_to_type_once_per_day_and_shows_grid_worker(chat: Chat) -> None:
    first = await chat.say("王大妈", None, kind="voice")
    assert any("用文字" in l.text for l in first if l.chat == "和平村群")
    assert any("语音" in l.text for l in first if l.chat == "私聊:李网格")
    chat.clock.advance(hours=2)
    second = await chat.say("王大妈", None, kind="voice")
    assert not [l for l in second if l.chat == "和平村群"]
    chat.clock.advance(days=1)
    third = await chat.say("王大妈", None, kind="voice")
    assert any("用文字" in l.text for l in third if l.chat == "和平村群")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/frobnicate", "没有这个命令"),
        ("/accept SG20991231-9999", "没有找到工单 SG20991231-9999"),
        ("办结 SG20991231-9999 好了", "没有找到工单"),
        ("签收", "请写明工单号"),
        ("/transfer", "请写明工单号"),
    ],
)
async def test_malformed_commands_and_unknown_tickets_get_a_clear_answer(chat: Chat, text: str, expected: str) -> None:
    replies = await chat.dm("陈镇长", text)
    assert len(replies) == 1 and expected in replies[0].text, replies[0].text
    no_traceback(replies)


async def test_transfer_without_a_unit_explains_the_format(chat: Chat) -> None:
    no = await open_streetlight(chat)
    replies = await chat.dm("陈镇长", f"转办 {no}")
    assert "转办" in replies[0].text and "单位名称" in replies[0].text


async def test_transfer_to_unknown_unit_is_refused_clearly(chat: Chat) -> None:
    no = await open_streetlight(chat)
    replies = await chat.dm("陈镇长", f"转办 {no} 火星办事处")
    assert "没有找到单位“火星办事处”" in replies[0].text
    assert chat.ticket(no).status == "dispatched"


async def test_accepting_twice_says_it_is_already_accepted(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", f"签收 {no}")
    replies = await chat.dm("陈镇长", f"签收 {no}")
    assert "已签收" in replies[0].text and "不能签收" in replies[0].text
    assert [a for a, _, _ in chat.events(no)].count("accept") == 1


async def test_resolve_without_reply_asks_for_the_result_and_the_reply_resolves(chat: Chat) -> None:
    no = await open_streetlight(chat)
    prompt = await chat.dm("陈镇长", f"办结 {no}")
    assert "办理结果" in prompt[0].text
    await chat.dm("陈镇长", "路灯已更换", reply_to=prompt[0].message_id)
    t = chat.ticket(no)
    assert t.status == "followup" and t.resolution == "路灯已更换"


async def test_a_bare_command_word_in_conversation_is_not_a_command(chat: Chat) -> None:
    assert await chat.say("王大妈", "查看一下天气预报") == []
