"""限时办结: deadlines end 23:59 Asia/Shanghai on the Nth working day after receipt, skipping
statutory holidays and counting 调休 make-up days; past chinese-calendar's data, weekdays plus the
county's overrides."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest

from core.clock import SHANGHAI
from services.workcalendar import WorkCalendar
from tests.support.chat import Chat
from tests.support.transcripts import STREETLIGHT, ticket_no


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "received, days, due",
    [
        (at(2026, 11, 25), 5, date(2026, 12, 2)),  # Wed + 5 working days skips the weekend
        (at(2026, 9, 30), 3, date(2026, 10, 10)),  # National Day off; Sat 10 Oct is a 调休 working day
        (at(2026, 9, 18), 2, date(2026, 9, 21)),  # Sun 20 Sep is a 调休 working day
        (at(2026, 2, 13), 1, date(2026, 2, 14)),  # Sat 14 Feb works before the Spring Festival
        (at(2026, 2, 14), 1, date(2026, 2, 24)),  # nine days of Spring Festival
        (at(2025, 12, 31), 1, date(2026, 1, 4)),  # New Year's Day off, Sun 4 Jan works
        (at(2026, 11, 27, 23), 1, date(2026, 11, 30)),  # a Friday late evening: Monday
    ],
)
def test_deadline_counts_working_days_with_holidays_and_make_up_days(received: datetime, days: int, due: date) -> None:
    deadline = WorkCalendar().deadline(received, days)
    assert deadline == datetime(due.year, due.month, due.day, 23, 59, tzinfo=SHANGHAI)


def test_past_the_calendar_data_weekdays_and_config_overrides_are_used(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar(holidays=[date(2027, 1, 1)], workdays=[date(2027, 1, 9)])
    with caplog.at_level(logging.WARNING):
        assert cal.deadline(at(2026, 12, 30), 3) == datetime(2027, 1, 5, 23, 59, tzinfo=SHANGHAI)
    assert any("2027" in r.message and "overrides" in r.message for r in caplog.records)
    assert cal.deadline(at(2027, 1, 8), 1) == datetime(2027, 1, 9, 23, 59, tzinfo=SHANGHAI)  # a 调休 Saturday


def test_without_overrides_a_2027_weekday_counts_as_working() -> None:
    assert WorkCalendar().deadline(at(2026, 12, 31), 1) == datetime(2027, 1, 1, 23, 59, tzinfo=SHANGHAI)


def test_urgent_deadline_is_in_hours() -> None:
    assert WorkCalendar().urgent_deadline(at(2026, 10, 1, 3), 2) == at(2026, 10, 1, 5)


async def test_receipt_shows_a_deadline_after_national_day(chat: Chat) -> None:
    chat.clock.set(at(2026, 9, 30, 9))
    no = ticket_no(await chat.say("王大妈", STREETLIGHT))
    t = chat.ticket(no)
    assert no.startswith("SG20260930-")
    assert t.deadline == datetime(2026, 10, 13, 23, 59, tzinfo=SHANGHAI)  # road: 5 working days
    assert any("10月13日 23:59" in l.text for l in chat.to("和平村群"))
