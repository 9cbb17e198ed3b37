"""拆分: a grid worker takes a household the rules joined to the wrong ticket back out of it."""

from __future__ import annotations

from sqlmodel import select

from storage.models import TicketReporter
from tests.support.chat import Chat
from tests.support.transcripts import TICKET_NO, open_streetlight

PIG_FARM = "后山那个养猪场臭得不得了，天天早上一开窗就是猪屎味，饭都吃不下"


def households(chat: Chat, no: str) -> int:
    t = chat.ticket(no)
    with chat.app.services.uow() as uow:
        return len(uow.session.exec(select(TicketReporter).where(TicketReporter.ticket_id == t.id)).all())


async def quote_receipt_with(chat: Chat, no: str, who: str, text: str) -> None:
    receipt = [l for l in chat.to("和平村群") if no in l.text][0]
    await chat.say(who, text, reply_to=receipt.message_id)


async def test_grid_worker_splits_a_complaint_joined_by_a_quote_into_its_own_ticket(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await quote_receipt_with(chat, no, "赵叔", PIG_FARM)  # a quote joins the quoted ticket, whatever it says
    assert households(chat, no) == 2

    replies = await chat.dm("李网格", f"拆分 {no} 赵叔")

    answer = [l.text for l in replies if l.chat == "私聊:李网格"]
    assert any(f"已把 赵叔 从 {no} 拆出" in a and "另立工单" in a for a in answer), answer
    new_no = TICKET_NO.findall(" ".join(a.split("另立工单", 1)[1] for a in answer if "另立工单" in a))[0]
    assert new_no != no and households(chat, no) == 1
    split_out = chat.ticket(new_no)
    assert split_out.text == PIG_FARM and split_out.category == "environment"
    receipt = [l for l in replies if l.chat == "和平村群" and new_no in l.text]
    assert receipt and "@赵叔" in receipt[0].text
    with chat.app.services.uow() as uow:
        notes = [e.note or "" for e in uow.tickets.events(chat.ticket(no).id) if e.action == "split"]
    assert len(notes) == 1 and "赵叔" in notes[0] and new_no in notes[0]


async def test_a_split_bare_me_too_is_only_taken_out(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.say("赵叔", "我家也是")
    assert households(chat, no) == 2

    replies = await chat.dm("李网格", f"拆分 {no} @赵叔")

    assert any("不另立工单" in l.text for l in replies if l.chat == "私聊:李网格")
    assert households(chat, no) == 1 and len(chat.tickets()) == 1


async def test_split_without_a_known_name_lists_who_joined(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.say("赵叔", "我家也是")

    replies = await chat.dm("李网格", f"拆分 {no} 钱大爷")

    answer = " ".join(l.text for l in replies if l.chat == "私聊:李网格")
    assert "赵叔" in answer and "拆分" in answer
    assert households(chat, no) == 2


async def test_a_resident_cannot_split_a_ticket(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.say("赵叔", "我家也是")

    await chat.dm("赵叔", f"拆分 {no} 赵叔")

    assert households(chat, no) == 2
