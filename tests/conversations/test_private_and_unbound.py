"""Staff talking to the bot in private, and a group that speaks before it is bound: nothing a resident said is
lost, and nothing a grid worker or official writes becomes a resident's complaint."""

from __future__ import annotations

from sqlmodel import select

from storage.models import InboxMessage
from tests.support.chat import Chat
from tests.support.transcripts import open_streetlight, ticket_no


async def test_an_official_who_types_the_result_without_quoting_the_prompt_resolves_the_ticket(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", f"签收 {no}")
    asked = await chat.dm("陈镇长", "办结")
    assert any("办理结果" in l.text for l in asked), [l.text for l in asked]

    await chat.dm("陈镇长", "路灯已经换了新的，晚上试过了能亮")

    t = chat.ticket(no)
    assert t.status in ("resolved", "followup") and "换了新的" in (t.resolution or "")
    assert len(chat.tickets()) == 1


async def test_a_grid_workers_note_in_private_is_answered_with_how_to_use_the_bot_and_opens_nothing(
    chat: Chat,
) -> None:
    replies = await chat.dm("李网格", "明天上午去三组看看那段路，坑挺大的")

    assert any("不会登记为居民诉求" in l.text and "帮助" in l.text for l in replies), [l.text for l in replies]
    assert chat.tickets() == []


async def test_a_result_typed_long_after_the_prompt_is_not_taken_as_it(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", f"签收 {no}")
    await chat.dm("陈镇长", "办结")
    chat.clock.advance(hours=2)

    replies = await chat.dm("陈镇长", "路灯已经换好了")

    assert any("不会登记为居民诉求" in l.text for l in replies)
    assert chat.ticket(no).status == "accepted"


async def test_a_complaint_in_a_group_not_yet_bound_becomes_a_ticket_once_the_admin_binds_it(chat: Chat) -> None:
    told = await chat.say("王大妈", "村口路灯坏了三天了，晚上黑漆漆的", group="新建群")
    assert any("还没有绑定" in l.text and "先记下" in l.text for l in told if l.chat == "新建群")
    assert any("【待绑定】" in l.text and "新建群" in l.text for l in told if l.chat == "私聊:周管理")
    assert chat.tickets() == []

    replies = await chat.say("周管理", "绑定 石桥村", group="新建群")

    assert any("已绑定到石桥村" in l.text and "1 条" in l.text for l in replies if l.chat == "新建群")
    receipt = [l for l in replies if l.chat == "新建群" and "工单号" in l.text]
    assert receipt and "@王大妈" in receipt[0].text
    t = chat.ticket(ticket_no(receipt))
    assert t.region_code == "shiqiao" and t.text.startswith("村口路灯坏了")
    with chat.app.services.uow() as uow:
        row = uow.session.exec(select(InboxMessage).where(InboxMessage.chat_id == "新建群")).first()
        assert row is not None and row.result == "ticket" and row.ticket_id == t.id


async def test_a_group_bound_by_the_admin_gets_its_regions_notice_tags(chat: Chat) -> None:
    await chat.say("周管理", "绑定 和平村", group="新建群")

    with chat.app.services.uow() as uow:
        g = uow.org.group("local", "新建群")
        assert g is not None and g.tags == {"township": ["青石镇"], "kind": ["village"]}


async def test_bind_without_a_village_answers_how_to_use_it(chat: Chat) -> None:
    replies = await chat.say("周管理", "绑定", group="和平村群")

    assert any("绑定 村名" in l.text for l in replies if l.chat == "和平村群"), [l.text for l in replies]
    with chat.app.services.uow() as uow:
        assert uow.org.group("local", "和平村群").region_code == "heping"  # type: ignore[union-attr]


async def test_binding_a_bound_group_elsewhere_says_what_it_was_bound_to(chat: Chat) -> None:
    replies = await chat.say("周管理", "绑定 石桥村", group="和平村群")

    assert any("已绑定到石桥村" in l.text and "原绑定和平村" in l.text for l in replies), [l.text for l in replies]
