"""A simulated fortnight in the sample county (岚江县), Mon 28 Sep – Mon 12 Oct 2026: the bot's
schedules swept every half hour, across 中秋/国庆 (1–7 Oct off), the 调休 Saturday 10 Oct
(a working day) and the ordinary Sunday 11 Oct. Tickets are opened at different times; some are
accepted at once, some ignored, some resolved, one reopened three times, one returned three times.
The test asserts the exact reminders, escalations, 回访 closings and digests: who got what, when.
"""

from __future__ import annotations

from collections import Counter

from core.config import Config
from tests.support.fortnight import simulate


# What the residents and the staff do, and when (the tickets are labelled A–I).
def labelled(rows, nos):  # type: ignore[no-untyped-def]
    back = {v: k for k, v in nos.items()}
    return [(when, who, purpose, back.get(no, no)) for when, who, purpose, no in rows]


EXPECTED_REMINDERS = [
    ("09-28 14:00", "钱主任", "reminder:accept", "B"),
    ("09-28 14:00", "赵网格", "reminder:accept", "B"),
    ("09-29 20:30", "张主任", "reminder:accept", "H"),  # after the first 退单 and 转办 back
    ("09-29 20:30", "李网格", "reminder:accept", "H"),
    ("09-30 07:30", "郑主任", "reminder:accept", "C"),  # due at 00:00: held by quiet hours
    ("09-30 07:30", "孙网格", "reminder:accept", "C"),
    ("10-02 01:00", "周管理", "reminder:escalate_admins", "E"),  # urgent: never held, even at 1 a.m.
    ("10-02 03:00", "刘局长", "reminder:accept", "E"),
    ("10-02 03:00", "赵网格", "reminder:accept", "E"),
    ("10-03 01:00", "刘局长", "reminder:overdue", "E"),  # county tier overdue: the admins too
    ("10-03 01:00", "赵网格", "reminder:overdue", "E"),
    ("10-03 01:00", "周管理", "reminder:overdue", "E"),
    ("10-03 14:00", "钱主任", "reminder:accept", "I"),  # opened on a holiday
    ("10-03 14:00", "赵网格", "reminder:accept", "I"),
    ("10-08 07:30", "钱主任", "reminder:due_soon_24h", "B"),  # due 10-07 23:59: held
    ("10-08 07:30", "赵网格", "reminder:due_soon_24h", "B"),
    ("10-08 22:00", "钱主任", "reminder:due_soon_2h", "B"),  # due 21:59, before quiet hours
    ("10-08 22:00", "赵网格", "reminder:due_soon_2h", "B"),
    ("10-09 11:30", "陈镇长", "reminder:accept", "B"),  # at the township, 4 h after the escalation
    ("10-09 11:30", "杨干事", "reminder:accept", "B"),  # the township's other official
    ("10-09 11:30", "赵网格", "reminder:accept", "B"),
    ("10-10 14:00", "刘局长", "reminder:accept", "D"),  # at the county, on the 调休 Saturday
    ("10-10 14:00", "李网格", "reminder:accept", "D"),
]
# The previous unit's officials are told of each escalation (the new unit gets a dispatch).
EXPECTED_ESCALATIONS = [
    ("09-30 10:00", "张主任", "escalated", "H"),  # returned 3 times: 村 → 镇
    ("10-01 23:00", "陈镇长", "escalated", "E"),  # urgent, overdue: 镇 → 县
    ("10-01 23:00", "杨干事", "escalated", "E"),
    ("10-09 07:30", "钱主任", "escalated", "B"),  # overdue at 23:59, held to the morning: 村 → 镇
    ("10-10 10:00", "陈镇长", "escalated", "D"),  # reopened (不满意) 3 times: 镇 → 县
    ("10-10 10:00", "杨干事", "escalated", "D"),
]
EXPECTED_FOLLOWUP_CLOSED = [
    ("10-11 10:00", "钱婆婆", "followup_closed", "H"),  # resolved 10-08 10:00, no answer in 3 days
    ("10-11 15:00", "马大姐", "followup_closed", "C"),
]
# Daily digests at 08:30 on working days only (none 1–7 Oct nor Sunday 11 Oct; one on the 调休
# Saturday 10 Oct), to the officials with open tickets; the weekly one on Mondays to the admin.
EXPECTED_DIGESTS = [
    ("09-29 08:30", "张主任", "digest", ""),
    ("09-29 08:30", "钱主任", "digest", ""),
    ("09-30 08:30", "张主任", "digest", ""),
    ("09-30 08:30", "钱主任", "digest", ""),
    ("09-30 08:30", "郑主任", "digest", ""),
    ("10-05 08:30", "周管理", "weekly_digest", ""),
    ("10-08 08:30", "张主任", "digest", ""),
    ("10-08 08:30", "钱主任", "digest", ""),
    ("10-08 08:30", "陈镇长", "digest", ""),
    ("10-08 08:30", "杨干事", "digest", ""),
    ("10-08 08:30", "郑主任", "digest", ""),
    ("10-09 08:30", "张主任", "digest", ""),
    ("10-09 08:30", "钱主任", "digest", ""),
    ("10-09 08:30", "陈镇长", "digest", ""),
    ("10-09 08:30", "杨干事", "digest", ""),
    ("10-10 08:30", "钱主任", "digest", ""),
    ("10-10 08:30", "陈镇长", "digest", ""),
    ("10-10 08:30", "杨干事", "digest", ""),
    ("10-12 08:30", "陈镇长", "digest", ""),
    ("10-12 08:30", "杨干事", "digest", ""),
    ("10-12 08:30", "刘局长", "digest", ""),
    ("10-12 08:30", "周管理", "weekly_digest", ""),
]
FINAL = {  # label: (status, unit, tier, satisfaction)
    "A": ("closed", "heping_cwh", "village", "satisfied"),
    "B": ("dispatched", "qingshi_gov", "township", None),
    "C": ("closed", "chengguan_office", "township", "no_answer"),
    "D": ("dispatched", "county_zjj", "county", "unsatisfied"),
    "E": ("closed", "county_zjj", "county", "basic"),
    "H": ("closed", "qingshi_gov", "township", "no_answer"),
    "I": ("closed", "shiqiao_cwh", "village", "satisfied"),
}


async def test_a_fortnight_of_reminders_escalations_followups_and_digests(config: Config, database_url: str) -> None:
    bot, nos = await simulate(config, database_url)
    try:
        assert labelled(bot.sent(prefix="reminder:"), nos) == EXPECTED_REMINDERS
        assert labelled(bot.sent("escalated"), nos) == EXPECTED_ESCALATIONS
        assert labelled(bot.sent("followup_closed"), nos) == EXPECTED_FOLLOWUP_CLOSED
        assert sorted(bot.sent("digest", "weekly_digest")) == sorted(EXPECTED_DIGESTS)
        for label, (status, unit, tier, satisfaction) in FINAL.items():
            t = bot.ticket(nos[label])
            assert (t.status, t.unit_code, t.tier, t.satisfaction) == (status, unit, tier, satisfaction), label

        # The new unit was dispatched each escalated ticket, and the audit trail says why.
        dispatches = labelled(bot.sent("dispatch"), nos)
        assert ("10-09 07:30", "陈镇长", "dispatch", "B") in dispatches
        assert ("10-10 10:00", "刘局长", "dispatch", "D") in dispatches
        with bot.app.services.uow() as uow:
            notes = [e.note for e in uow.tickets.events(bot.ticket(nos["B"]).id) if e.action == "dispatch"]
        assert notes == ["自动派单 → 石桥村委会", "提级：超期未办结 → 青石镇人民政府"]

        # Reminder slots: each sent once; the due-now ones gave way to the escalation at the same moment.
        rows = bot.reminders()
        by_status = Counter(r.status for r in rows)
        assert by_status == {"sent": 7 + 1 + 1 + 1 + 4 + 1 + 2 + 7 + 3, "superseded": 3}
        assert not [r for r in rows if r.late]
        sent_kinds = Counter(r.kind for r in rows if r.status == "sent")
        assert sent_kinds == {
            "accept": 7,
            "due_soon_24h": 1,
            "due_soon_2h": 1,
            "overdue": 1,
            "escalate": 5,
            "followup_close": 2,
            "daily_digest": 7,
            "weekly_digest": 3,
        }
        assert {r.kind for r in rows if r.held} >= {"accept", "due_soon_24h", "due_now", "escalate"}

        # Everything queued was delivered through the local chat, privately.
        assert bot.app.unsent()[0] == 0
        lines = [l for l in bot.local.bot_lines("私聊:周管理") if "【退单】" not in l.text]
        assert [l.at.strftime("%m-%d %H:%M") for l in lines] == [
            "10-02 01:00",
            "10-03 01:00",
            "10-05 08:30",
            "10-12 08:30",
        ]
        weekly = [l.text for l in lines if "上周工单统计" in l.text]
        assert "2026-09-28 至 2026-10-04" in weekly[0] and "受理 7 件" in weekly[0] and "按时签收率 28.6%" in weekly[0]
    finally:
        await bot.app.stop()
