"""Emergencies (应急处突) as the village and its responders see them: safety advice in the group at once, everyone
who must act alerted in parallel, alerted again and wider until someone says 收到, and the group told who is
coming. Time is the injectable clock: no sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from storage.models import EmergencyAlert
from tests.support.chat import START, Chat
from tests.support.transcripts import STREETLIGHT, ticket_no

FIRE = "快来人啊 后山着火了 风好大"
FIRST_ROUND = {"李网格", "张主任", "杨干事"}  # grid worker, village committee, the township's duty official
WIDER = {"陈镇长", "韩主任", "周管理"}  # the township's leader, the county duty desk, the admin

# kind → (a resident's message, words of the advice the group must get, the county units' people for that kind)
KINDS = {
    "fire": (FIRE, "119", {"马队长", "林股长"}),
    "gas": ("家里煤气泄漏了，一屋子的味", "不要开关电灯电器", {"马队长", "林股长"}),
    "flood": ("河水漫上来了 一楼都进水了 老人还在屋里", "往高处转移", {"林股长"}),
    "landslide": ("后山塌方了 泥巴石头冲下来把路埋了", "立即撤离", {"林股长", "刘局长"}),
    "collapse": ("老张家的土墙塌了 人被压在下面", "立即撤离", {"刘局长", "林股长"}),
    "live_wire": ("电线掉下来了 在路上冒火花", "95598", {"林股长"}),
    "drowning": ("有人落水了，快来人", "能漂的东西", {"马队长", "秦科长"}),
    "trapped": ("电梯困人了 卡在五楼出不来", "119", {"马队长"}),
    "missing": ("我家老爷子早上出门到现在没回来 有老年痴呆 大家帮忙找找", "110", {"蒋所长"}),
    "domestic_violence": ("隔壁男的又在打老婆 喊救命", "110", {"蒋所长"}),
    "weapon_fight": ("村口有人拿刀砍人了", "110", {"蒋所长"}),
    "poisoning": ("一家人吃了野蘑菇 上吐下泻 人都晕了", "120", {"秦科长"}),
    "road_accident": ("路口两车撞了 有人躺地上流血", "122", {"蒋所长", "何科长", "秦科长"}),
    "crowd": (
        "几十个工人堵在厂门口要工资 要打起来了",
        "保持冷静",
        {"蒋所长", "褚科长"},
    ),  # wages: 人社局 has the ticket
}


def alerted(lines, marker: str = "请立即处置") -> set[str]:  # type: ignore[no-untyped-def]
    return {l.chat.removeprefix("私聊:") for l in lines if l.chat.startswith("私聊:") and marker in l.text}


async def sweep(chat: Chat, minutes: float) -> list:  # type: ignore[type-arg]
    """Let `minutes` pass, run the schedules' sweep as the scheduler would, and return what the bot sent."""
    before = len(chat.local.transcript)
    chat.clock.advance(minutes=minutes)
    chat.app.schedules.sweep()
    assert await chat.app.idle(timeout=20)
    return [l for l in chat.local.transcript[before:] if l.speaker == "bot"]


def alert_of(chat: Chat) -> EmergencyAlert:
    with chat.app.services.uow() as uow:
        a = uow.session.exec(select(EmergencyAlert).order_by(EmergencyAlert.id.desc())).first()  # type: ignore[union-attr]
        assert a is not None
        return a


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_each_kind_of_emergency_gets_its_advice_in_the_group_and_alerts_who_must_act(
    chat: Chat, kind: str
) -> None:
    text, advice, county = KINDS[kind]
    replies = await chat.say("周满爹", text)
    t = chat.ticket()
    assert t is not None and t.urgent and t.emergency == kind
    group = [l for l in replies if l.chat == "和平村群"]
    assert len(group) == 1 and advice in group[0].text and t.no in group[0].text
    assert alerted(replies) == FIRST_ROUND | county
    alert = next(l for l in replies if l.chat == "私聊:李网格")
    assert text in alert.text and "周满爹" in alert.text and "收到" in alert.buttons


async def test_the_alert_carries_the_whole_unmasked_text_the_reporter_and_the_place(chat: Chat) -> None:
    replies = await chat.say("周满爹", "三组后山着火了 快来人 我电话13975246031")
    alert = next(l for l in replies if l.chat == "私聊:李网格")
    assert "13975246031" in alert.text and "周满爹" in alert.text and "三组" in alert.text and "后山" in alert.text
    assert [b for b in alert.buttons if "收到" in b] and [b for b in alert.buttons if "到场" in b]
    group = [l for l in replies if l.chat == "和平村群"]
    assert "13975246031" not in group[0].text


async def test_an_emergency_at_half_past_two_in_the_night_is_alerted_at_once(chat: Chat) -> None:
    night = START.replace(hour=2, minute=30) + timedelta(days=1)  # quiet hours: 22:00–07:30
    chat.clock.set(night)
    replies = await chat.say("周满爹", FIRE)
    alerts = [l for l in replies if l.chat.startswith("私聊:") and "紧急警报" in l.text]
    assert {l.chat for l in alerts} >= {"私聊:李网格", "私聊:张主任"}
    assert all(l.at - night < timedelta(minutes=1) for l in alerts)


async def test_nobody_acknowledges_so_the_alert_repeats_wider_at_5_and_10_minutes_until_someone_does(
    chat: Chat,
) -> None:
    first = await chat.say("周满爹", FIRE)
    assert not alerted(first) & WIDER
    assert alerted(await sweep(chat, 4)) == set()
    second = await sweep(chat, 1)  # 5 minutes, nobody has said 收到
    assert alerted(second, "第2次") >= FIRST_ROUND | WIDER
    third = await sweep(chat, 5)  # 10 minutes
    assert alerted(third, "第3次") >= FIRST_ROUND | WIDER
    ack = await chat.dm("李网格", "收到")
    assert any("已确认收到" in l.text for l in ack if l.chat == "私聊:李网格")
    assert [l.text for l in ack if l.chat == "和平村群"] == ["网格员李网格已收到，正在赶往处置。"]
    assert alerted(await sweep(chat, 5)) == set() and alerted(await sweep(chat, 30)) == set()
    actions = [a for a, _f, _t in chat.events(chat.ticket().no)]
    assert actions.count("alert") == 3 and "ack" in actions


async def test_the_others_alerted_are_told_who_acknowledged(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    replies = await chat.dm("张主任", "收到")
    told = {l.chat for l in replies if "张主任 已于" in l.text}
    assert {"私聊:李网格", "私聊:杨干事"} <= told and "私聊:张主任" not in told


async def test_the_group_is_not_told_the_name_of_someone_the_county_keeps_private(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    no = chat.ticket().no
    replies = await chat.dm("杨干事", f"/ack {no}", callback=True)
    group = [l.text for l in replies if l.chat == "和平村群"]
    assert group == ["青石镇人民政府工作人员已收到，正在赶往处置。"]


async def test_arriving_on_site_is_told_to_the_group_and_recorded(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    await chat.dm("李网格", "收到")
    chat.clock.advance(minutes=12)
    replies = await chat.dm("李网格", "到场")
    assert [l.text for l in replies if l.chat == "和平村群"] == ["网格员李网格已到达现场处置。"]
    a = alert_of(chat)
    assert a.status == "on_site" and a.on_site_at is not None and a.acknowledged_at is not None
    assert a.on_site_at - a.acknowledged_at == timedelta(minutes=12)


async def test_a_self_harm_statement_is_never_echoed_to_the_group_even_when_nobody_acknowledges(chat: Chat) -> None:
    replies = await chat.say("刘姐", "活着真没意思 我不想活了")
    replies += await sweep(chat, 5)
    replies += await chat.dm("李网格", "收到")
    assert not [l for l in replies if l.chat == "和平村群"]
    assert "李网格" in alerted(replies) and "秦科长" in alerted(replies)
    to_her = [l.text for l in replies if l.chat == "私聊:刘姐"]
    assert len(to_her) == 1 and "12356" in to_her[0]


async def test_what_neighbours_say_next_about_the_fire_goes_to_the_responders_not_into_a_new_ticket(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    no = chat.ticket().no
    replies = await chat.say("王大妈", "烧到后山那片竹林了 消防车还没来")
    assert len(chat.tickets()) == 1 and not [l for l in replies if l.chat == "和平村群"]
    assert FIRST_ROUND <= alerted(replies, "群里新消息")
    await chat.dm("李网格", "收到")
    later = await chat.say("李大爷", "火往周家那边烧过去了")
    assert alerted(later, "群里新消息") == {"李网格"}
    assert [d["text"] for d in chat.ticket(no).details] == ["烧到后山那片竹林了 消防车还没来", "火往周家那边烧过去了"]


async def test_a_resident_saying_it_is_over_closes_the_alert_and_the_repeats_stop(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    replies = await chat.say("周满爹", "火已经扑灭了 没事了 谢谢大家")
    assert alert_of(chat).status == "closed"
    assert "李网格" in alerted(replies, "警报解除")
    assert alerted(await sweep(chat, 5)) == set()
    assert chat.ticket().status in ("dispatched", "accepted")  # the ticket itself is still to be 办结


async def test_a_different_emergency_in_the_same_group_is_its_own_alert(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    replies = await chat.say("王大妈", "村口有人拿刀砍人了")
    assert [t.emergency for t in chat.tickets()] == ["fire", "weapon_fight"]
    assert "蒋所长" in alerted(replies)


async def test_a_resolved_emergency_is_not_alerted_again(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    no = chat.ticket().no
    await chat.dm("陈镇长", f"办结 {no} 火已扑灭，无人受伤")
    assert alerted(await sweep(chat, 5)) == set()
    assert alert_of(chat).status == "closed"


async def test_a_resident_saying_shoudao_in_the_group_acknowledges_nothing(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    replies = await chat.say("王大妈", "收到")
    assert not replies and alert_of(chat).status == "alerting"


async def test_an_official_saying_shoudao_to_a_reminder_with_no_emergency_gets_no_answer(chat: Chat) -> None:
    assert await chat.dm("陈镇长", "收到") == []


async def test_the_groups_advice_goes_out_before_receipts_already_waiting_in_the_outbox(chat: Chat) -> None:
    # Two complaints are processed but not yet delivered when the emergency comes in.
    await chat.local.say("王大妈", STREETLIGHT, group="和平村群")
    await chat.local.say("赵大爷", "石桥村的自来水停了两天了 打电话也冇人接", group="石桥村群")
    await chat.local.say("周满爹", FIRE, group="和平村群")
    assert await chat.app.idle(timeout=20)
    sent = [l for l in chat.local.transcript if l.speaker == "bot"]
    advice = next(i for i, l in enumerate(sent) if "119" in l.text)
    receipts = [i for i, l in enumerate(sent) if "已受理" in l.text or "工单号" in l.text and "紧急" not in l.text]
    assert receipts and advice < min(receipts)
    assert ticket_no(sent[advice : advice + 1])


async def test_the_figures_give_each_emergencys_times_to_alert_acknowledgement_and_arrival(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    chat.clock.advance(minutes=3)
    await chat.dm("李网格", "收到")
    chat.clock.advance(minutes=15)
    await chat.dm("李网格", "到场")
    with chat.app.services.uow() as uow:
        rows = chat.app.services.emergencies.figures(uow, START - timedelta(days=1), START + timedelta(days=1))
    assert len(rows) == 1
    r = rows[0]
    assert r["kind"] == "fire" and r["to_alert_minutes"] is not None and r["to_alert_minutes"] < 1
    assert r["to_ack_minutes"] == pytest.approx(3, abs=0.1) and r["to_on_site_minutes"] == pytest.approx(18, abs=0.1)


async def test_the_weekly_digest_lists_each_emergency_with_its_minutes(chat: Chat) -> None:
    from bot.chat.texts import digest_weekly
    from services.reports import ReportService

    await chat.say("周满爹", FIRE)
    no = chat.ticket().no
    chat.clock.advance(minutes=4)
    await chat.dm("张主任", "收到")
    s = chat.app.services
    with s.uow() as uow:
        fig = ReportService(s.config, s.calendar, s.config.schedules).figures(uow, START.date(), START.date(), uow.now)
    text = digest_weekly(fig.as_dict())
    line = next(l for l in text.splitlines() if no in l)
    assert "火情" in line and "收到 4" in line and "张主任" in line and "到场 —" in line


async def test_a_neighbours_own_complaint_of_another_kind_during_a_fire_is_its_own_ticket(chat: Chat) -> None:
    await chat.say("周满爹", FIRE)
    replies = await chat.say("王大妈", "村口路灯又不亮了 怕是烧掉了 晚上黑得很")
    assert [t.category for t in chat.tickets()] == ["security", "road"]
    assert not alerted(replies, "群里新消息")
