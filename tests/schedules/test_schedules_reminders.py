"""Reminders as the owners see them: quiet hours, urgent tickets, restarts across deadlines."""

from __future__ import annotations

from bot.app import BotApp
from core.clock import ManualClock
from core.config import Config, ScheduleSettings
from services.reminders import in_quiet_hours, release_time
from tests.support.schedules import Bot, at, hm, start_bot


async def test_reminder_due_at_night_waits_for_morning_then_goes_once(config: Config, database_url: str) -> None:
    bot = await start_bot(config, ManualClock(at(11, 25, 19)), database_url)
    try:
        no = bot.open("王大妈", "和平村群", "noise", "楼下烧烤摊吵到半夜")  # 签收提醒 due at 23:00
        for when in (at(11, 25, 23), at(11, 26, 2), at(11, 26, 7, 29)):
            await bot.sweep(when)
        assert bot.sent(prefix="reminder:") == []
        [held] = bot.reminders(tickets_only=True)
        assert (held.kind, held.status, held.held, hm(held.due_at), hm(held.send_after)) == (
            "accept",
            "pending",
            True,
            "11-25 23:00",
            "11-26 07:30",
        )
        await bot.sweep(at(11, 26, 7, 30))
        await bot.sweep(at(11, 26, 7, 45))
        assert bot.sent(prefix="reminder:") == [
            ("11-26 07:30", "张主任", "reminder:accept", no),
            ("11-26 07:30", "李网格", "reminder:accept", no),
        ]
        assert not bot.reminders(tickets_only=True)[0].late
        assert [l.at for l in bot.local.bot_lines("私聊:张主任") if "签收提醒" in l.text] == [at(11, 26, 7, 30)]
    finally:
        await bot.app.stop()


async def test_a_held_reminder_that_no_longer_applies_is_dropped(config: Config, database_url: str) -> None:
    bot = await start_bot(config, ManualClock(at(11, 25, 19)), database_url)
    try:
        no = bot.open("王大妈", "和平村群", "noise", "楼下烧烤摊吵到半夜")
        await bot.sweep(at(11, 25, 23))
        bot.clock.set(at(11, 26, 7))
        bot.do("张主任", "accept", no)  # accepted before the morning: the 签收提醒 is moot
        await bot.sweep(at(11, 26, 7, 30))
        assert bot.sent(prefix="reminder:") == []
        assert [r.status for r in bot.reminders(tickets_only=True)] == ["obsolete"]
    finally:
        await bot.app.stop()


async def test_urgent_ticket_reminds_and_escalates_in_the_night(config: Config, database_url: str) -> None:
    bot = await start_bot(config, ManualClock(at(11, 25, 22)), database_url)
    try:
        no = bot.open("王大妈", "和平村群", "noise", "隔壁在砸墙 老人吓坏了", urgent=True)  # 4 h → 02:00
        assert hm(bot.ticket(no).deadline) == "11-26 02:00"
        for h in range(0, 5):
            await bot.sweep(at(11, 26, h))
        sent = sorted(bot.sent(prefix="reminder:") + bot.sent("escalated"))
        assert sent == sorted(
            [
                ("11-26 00:00", "张主任", "reminder:due_soon_2h", no),
                ("11-26 00:00", "李网格", "reminder:due_soon_2h", no),
                ("11-26 02:00", "张主任", "escalated", no),
                ("11-26 04:00", "杨干事", "reminder:due_soon_2h", no),  # the township's new 4-hour limit, 06:00
                ("11-26 04:00", "陈镇长", "reminder:due_soon_2h", no),
                ("11-26 04:00", "李网格", "reminder:due_soon_2h", no),
            ]
        )
        t = bot.ticket(no)
        assert (t.unit_code, t.tier) == ("qingshi_gov", "township")
        assert [(r.kind, r.status, r.held) for r in bot.reminders(tickets_only=True)] == [
            ("due_soon_2h", "sent", False),
            ("accept", "superseded", False),
            ("due_now", "superseded", False),
            ("escalate", "sent", False),
            ("due_soon_2h", "sent", False),
        ]
        assert ("11-26 02:00", "陈镇长", "dispatch", no) in bot.sent("dispatch")
    finally:
        await bot.app.stop()


async def _restart(config: Config, clock: ManualClock, url: str) -> Bot:
    """A new process on the same database: it leads at once and catches up before anything else."""
    from bot.adapters.local import LocalAdapter

    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=url, adapters=[local], classify=lambda text: None)  # type: ignore[arg-type,return-value]
    app.schedules.catch_up_on_start = True  # what a real-time process does (the manual clock turns it off)
    await app.start(background=False)
    assert await app.idle(timeout=30)
    return Bot(app, local, clock)


async def test_process_down_over_deadlines_sends_missed_reminders_once_marked_late(
    config: Config, database_url: str
) -> None:
    clock = ManualClock(at(11, 25, 9))
    bot = await start_bot(config, clock, database_url)
    no = bot.open("王大妈", "和平村群", "noise", "楼下烧烤摊吵到半夜")  # 3 working days → Mon 30 Nov 23:59
    bot.do("张主任", "accept", no)
    await bot.sweep(at(11, 25, 10))
    await bot.app.stop()

    # Down from Wednesday to Monday 15:00: the 24-hour reminder (held to 07:30) and the Monday digests were missed.
    clock.set(at(11, 30, 15))
    bot = await _restart(config, clock, database_url)
    assert bot.sent(prefix="reminder:") == [
        ("11-30 15:00", "张主任", "reminder:due_soon_24h", no),
        ("11-30 15:00", "李网格", "reminder:due_soon_24h", no),
    ]
    assert all(t.startswith("（补发）【到期提醒】") for t in bot.texts("reminder:due_soon_24h"))
    monday = [r for r in bot.sent("digest", "weekly_digest") if r[0].startswith("11-30")]
    assert monday == [("11-30 15:00", "张主任", "digest", ""), ("11-30 15:00", "周管理", "weekly_digest", "")]
    assert sorted((r.kind, r.late) for r in bot.reminders("sent") if r.sent_at == at(11, 30, 15)) == [
        ("daily_digest", True),
        ("due_soon_24h", True),
        ("weekly_digest", True),
    ]
    await bot.app.stop()

    # Restarted again a few minutes later: nothing is sent twice.
    clock.set(at(11, 30, 15, 5))
    bot = await _restart(config, clock, database_url)
    assert (
        len(bot.sent(prefix="reminder:")) == 2
        and len([r for r in bot.sent("digest", "weekly_digest") if r[0].startswith("11-30")]) == 2
    )
    await bot.app.stop()

    # Down over the deadline itself (Monday 21:00 → Tuesday 10:00): escalated on restart, once, late.
    clock.set(at(12, 1, 10))
    bot = await _restart(config, clock, database_url)
    try:
        assert bot.sent("escalated") == [("12-01 10:00", "张主任", "escalated", no)]
        assert ("12-01 10:00", "陈镇长", "dispatch", no) in bot.sent("dispatch")
        by_kind = {r.kind: r for r in bot.reminders() if r.ticket_id}
        assert (by_kind["escalate"].status, by_kind["escalate"].late, by_kind["escalate"].held) == ("sent", True, True)
        assert by_kind["due_soon_2h"].status == by_kind["due_now"].status == "superseded"
        assert bot.ticket(no).unit_code == "qingshi_gov"
        await bot.sweep(at(12, 1, 10, 30))
        assert len(bot.sent("escalated")) == 1
    finally:
        await bot.app.stop()


async def test_unanswered_followup_closes_as_no_answer_and_counts_apart(config: Config, database_url: str) -> None:
    bot = await start_bot(config, ManualClock(at(11, 25, 9)), database_url)
    try:
        no = bot.open("王大妈", "和平村群", "environment", "村口垃圾没人收")
        bot.do("张主任", "resolve", no, "已清运")
        await bot.sweep(at(11, 28, 8, 59))
        assert bot.ticket(no).status == "followup"
        await bot.sweep(at(11, 28, 9, 0))
        t = bot.ticket(no)
        assert (t.status, t.satisfaction, t.close_reason) == ("closed", "no_answer", "no_answer")
        assert [l.text for l in bot.local.bot_lines("和平村群") if "未表态" in l.text] == [
            f"@王大妈 您反映的问题（{no}）回访期满未收到评价，已按“未表态”销号。如问题仍未解决，请在群里再次反映。"
        ]
    finally:
        await bot.app.stop()


def test_quiet_hours_span_midnight() -> None:
    s = ScheduleSettings()
    assert in_quiet_hours(at(11, 25, 22), s) and in_quiet_hours(at(11, 26, 7, 29), s)
    assert not in_quiet_hours(at(11, 25, 21, 59), s) and not in_quiet_hours(at(11, 26, 7, 30), s)
    assert release_time(at(11, 25, 23, 59), s) == at(11, 26, 7, 30)
    assert release_time(at(11, 26, 3), s) == at(11, 26, 7, 30)
    assert release_time(at(11, 26, 12), s) == at(11, 26, 12)
