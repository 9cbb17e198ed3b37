"""Working days and deadlines (限时办结), with holidays and 调休 make-up days.

chinese-calendar only knows the years it has published; past its last year we fall back to
Monday–Friday plus the county's override lists, and log it once, because a silently wrong
deadline is worse than an approximate one an official was warned about.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)


class WorkCalendar:
    def __init__(
        self,
        *,
        holidays: list[date] | None = None,
        workdays: list[date] | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.holidays = set(holidays or [])
        self.workdays = set(workdays or [])
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self._warned: set[int] = set()
        # every ticket asks for a deadline, nearly always from the same few days: the answers
        # are fixed for the calendar's life (its holidays are given at construction)
        self._after: dict[tuple[date, int], date] = {}

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "chinese-calendar has no data for %s: using Monday-Friday plus the calendar "
                    "overrides in config.yaml for deadlines in that year",
                    day.year,
                )
            return day.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """The Nth working day after `start` (start itself not counted)."""
        found = self._after.get((start, n))
        if found is None:
            found = self._after[(start, n)] = self._count_workdays(start, n)
        return found

    def _count_workdays(self, start: date, n: int) -> date:
        day = start
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day

    def deadline(self, received: datetime, working_days: int) -> datetime:
        """23:59 local time on the Nth working day after the day of receipt."""
        local = received.astimezone(self.tz)
        day = self.add_workdays(local.date(), working_days)
        return datetime.combine(day, time(23, 59), tzinfo=self.tz)

    def urgent_deadline(self, received: datetime, hours: int) -> datetime:
        return received + timedelta(hours=hours)
