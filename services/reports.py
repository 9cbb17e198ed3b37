"""Figures (for `shanzhi report` and the Monday digest) and the daily/weekly digests.

Definitions (dates are Asia/Shanghai calendar days, both ends inclusive):

- received: tickets registered in the period (created in it, neither still waiting for a grid
  worker's confirmation nor dismissed as not a complaint);
- 按时签收率 accepted_on_time_rate: share of received tickets first accepted (签收, or 办结
  straight away) within `accept_hours` of their first dispatch;
- 办结率 resolved_rate: share of received tickets resolved (in 回访 or 销号);
- 按时办结率 resolved_on_time_rate: share of received tickets resolved by their deadline;
- 满意率 satisfaction_rate: (满意 + 基本满意) / rated, where rated counts closed tickets with a
  rating; closed as 未表态 (no_answer) is counted apart and not in the denominator;
- avg_handling_hours: mean hours from registration to resolution of the resolved tickets;
- worst_overdue: open tickets past their deadline at the time of the report, most overdue first.

A rate with nothing to rate is None (null in JSON), never NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import col, select

from core.config import Config, ScheduleSettings
from services import events as ev
from services.emergencies import figures as emergency_figures
from services.reminders import insert_ignore
from services.uow import UnitOfWork
from services.workcalendar import WorkCalendar
from storage.models import Person, Reminder, Ticket, TicketEvent
from storage.status import ACTIVE_STATUSES, Status


@dataclass
class Row:
    name: str
    received: int = 0
    accepted_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    basic: int = 0
    unsatisfied: int = 0
    no_answer: int = 0
    handling_hours_total: float = 0.0

    @staticmethod
    def _rate(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "received": self.received,
            "accepted_on_time": self.accepted_on_time,
            "accepted_on_time_rate": self._rate(self.accepted_on_time, self.received),
            "resolved": self.resolved,
            "resolved_rate": self._rate(self.resolved, self.received),
            "resolved_on_time": self.resolved_on_time,
            "resolved_on_time_rate": self._rate(self.resolved_on_time, self.received),
            "rated": self.rated,
            "satisfied": self.satisfied,
            "basic": self.basic,
            "unsatisfied": self.unsatisfied,
            "no_answer": self.no_answer,
            "satisfaction_rate": self._rate(self.satisfied + self.basic, self.rated),
            "avg_handling_hours": round(self.handling_hours_total / self.resolved, 2) if self.resolved else None,
        }


@dataclass
class Figures:
    start: date
    end: date
    as_of: datetime
    summary: Row
    by_township: list[Row] = field(default_factory=list)
    by_unit: list[Row] = field(default_factory=list)
    worst_overdue: list[dict] = field(default_factory=list)
    emergencies: list[dict] = field(default_factory=list)  # services.emergencies.figures

    def as_dict(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "summary": self.summary.as_dict(),
            "by_township": [r.as_dict() for r in self.by_township],
            "by_unit": [r.as_dict() for r in self.by_unit],
            "worst_overdue": self.worst_overdue,
            "emergencies": self.emergencies,
        }


@dataclass(frozen=True)
class TicketFacts:
    accepted_on_time: bool
    resolved: bool
    resolved_on_time: bool
    satisfaction: str | None  # of a closed ticket
    handling_hours: float | None


class ReportService:
    def __init__(self, config: Config, calendar: WorkCalendar, settings: ScheduleSettings | None = None) -> None:
        self.config = config
        self.calendar = calendar
        self.settings = settings or ScheduleSettings()

    # --- figures -------------------------------------------------------------------------------

    def _bounds(self, start: date, end: date) -> tuple[datetime, datetime]:
        tz = self.settings.tz
        return datetime.combine(start, time(0), tzinfo=tz), datetime.combine(
            end + timedelta(days=1), time(0), tzinfo=tz
        )

    def received(self, uow: UnitOfWork, start: date, end: date) -> list[Ticket]:
        lo, hi = self._bounds(start, end)
        return [
            t
            for t in uow.tickets.query(created_from=lo, created_to=hi)
            if t.status not in (Status.PENDING, Status.DISMISSED)
        ]

    def facts(self, uow: UnitOfWork, t: Ticket) -> TicketFacts:
        events = uow.session.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(col(TicketEvent.id))
        ).all()
        first_dispatch = next((e.at for e in events if e.action == "dispatch"), None)
        first_accept = next((e.at for e in events if e.action in ("accept", "resolve")), None)
        on_time_accept = bool(
            first_dispatch
            and first_accept
            and first_accept - first_dispatch <= timedelta(hours=self.settings.accept_hours)
        )
        resolved = t.status in (Status.FOLLOWUP, Status.CLOSED) and t.resolved_at is not None
        on_time = bool(resolved and t.deadline is not None and t.resolved_at <= t.deadline)  # type: ignore[operator]
        hours = (t.resolved_at - t.created_at).total_seconds() / 3600 if resolved and t.created_at else None  # type: ignore[operator]
        return TicketFacts(
            on_time_accept, resolved, on_time, t.satisfaction if t.status == Status.CLOSED else None, hours
        )

    def township_of(self, uow: UnitOfWork, region_code: str) -> str:
        code: str | None = region_code
        seen: set[str] = set()
        while code and code not in seen:
            seen.add(code)
            r = uow.org.region(code)
            if r is None:
                break
            if r.level == "township":
                return r.name
            code = r.parent_code
        r0 = uow.org.region(region_code)
        return r0.name if r0 else region_code

    def unit_name(self, uow: UnitOfWork, code: str | None) -> str:
        u = uow.org.unit(code) if code else None
        return u.name if u else "待指定"

    def figures(self, uow: UnitOfWork, start: date, end: date, now: datetime) -> Figures:
        summary = Row("全县")
        towns: dict[str, Row] = {}
        units: dict[str, Row] = {}
        for t in self.received(uow, start, end):
            f = self.facts(uow, t)
            for row in (
                summary,
                towns.setdefault(self.township_of(uow, t.region_code), Row(self.township_of(uow, t.region_code))),
                units.setdefault(self.unit_name(uow, t.unit_code), Row(self.unit_name(uow, t.unit_code))),
            ):
                row.received += 1
                row.accepted_on_time += f.accepted_on_time
                row.resolved += f.resolved
                row.resolved_on_time += f.resolved_on_time
                if f.handling_hours is not None:
                    row.handling_hours_total += f.handling_hours
                if f.satisfaction == "no_answer":
                    row.no_answer += 1
                elif f.satisfaction in ("satisfied", "basic", "unsatisfied"):
                    row.rated += 1
                    setattr(row, f.satisfaction, getattr(row, f.satisfaction) + 1)
        lo, hi = self._bounds(start, end)
        return Figures(
            start,
            end,
            now,
            summary,
            sorted(towns.values(), key=lambda r: r.name),
            sorted(units.values(), key=lambda r: r.name),
            self.worst_overdue(uow, now),
            emergency_figures(uow, lo, hi),
        )

    def worst_overdue(self, uow: UnitOfWork, now: datetime, limit: int | None = None) -> list[dict]:
        rows = uow.session.exec(
            select(Ticket)
            .where(col(Ticket.status).in_(ACTIVE_STATUSES + (Status.REGISTERED,)), col(Ticket.deadline) < now)
            .order_by(col(Ticket.deadline), col(Ticket.id))
        ).all()
        limit = self.settings.worst_overdue if limit is None else limit
        out = []
        for t in rows[:limit] if limit else rows:
            out.append(
                {
                    "no": t.no,
                    "category": self.config.category_label(t.category),
                    "unit": self.unit_name(uow, t.unit_code),
                    "township": self.township_of(uow, t.region_code),
                    "deadline": t.deadline.astimezone(self.settings.tz).isoformat(),  # type: ignore[union-attr]
                    "overdue_hours": round((now - t.deadline).total_seconds() / 3600, 1),  # type: ignore[operator]
                }
            )
        return out

    # --- digests -------------------------------------------------------------------------------

    def official_digest(self, uow: UnitOfWork, person: Person, now: datetime) -> dict:
        today = now.astimezone(self.settings.tz).date()
        tickets = uow.tickets.query(statuses=ACTIVE_STATUSES, unit_codes=[person.unit_code or ""])

        def item(t: Ticket) -> dict:
            return {
                "no": t.no,
                "category": self.config.category_label(t.category),
                "status": t.status,
                "deadline": t.deadline,
                "urgent": t.urgent,
            }

        return {
            "person_id": person.id,
            "date": today,
            "open": [item(t) for t in tickets],
            "due_today": [
                item(t)
                for t in tickets
                if t.deadline and t.deadline >= now and t.deadline.astimezone(self.settings.tz).date() == today
            ],
            "overdue": [item(t) for t in tickets if t.deadline and t.deadline < now],
        }

    def _slot(self, uow: UnitOfWork, kind: str, due: datetime, now: datetime) -> Reminder | None:
        """Claim the digest run `due` (one row per run); None if it was already made."""
        table = Reminder.__table__  # type: ignore[attr-defined]
        values = dict(
            ticket_id=0,
            kind=kind,
            due_at=due,
            send_after=due,
            status="sent",
            urgent=False,
            held=False,
            late=(now - due) > timedelta(minutes=self.settings.late_grace_minutes),
            recipients=0,
            created_at=now,
            sent_at=now,
        )
        if not insert_ignore(uow, table, values, ["ticket_id", "kind", "due_at"]):
            return None
        return uow.session.exec(
            select(Reminder).where(Reminder.ticket_id == 0, Reminder.kind == kind, Reminder.due_at == due)
        ).one()

    def run_due(self, uow: UnitOfWork, now: datetime) -> dict[str, int]:
        """The daily digest (working days, 08:30) and the weekly one (Mondays, 08:30), once each.

        A run missed while the process was down is made late on the same day (daily) or the same
        week (weekly), once; older runs are not made up.
        """
        s = self.settings
        local = now.astimezone(s.tz)
        today = local.date()
        counts = {"daily_digests": 0, "weekly_digests": 0}
        due = datetime.combine(today, s.digest_time, tzinfo=s.tz)
        if self.calendar.is_workday(today) and now >= due:
            slot = self._slot(uow, "daily_digest", due, now)
            if slot is not None:
                for p in uow.org.people(role="official"):
                    d = self.official_digest(uow, p, now)
                    if d["open"]:
                        uow.emit(
                            ev.DailyDigest(
                                person_id=d["person_id"],
                                day=d["date"],
                                open=d["open"],
                                due_today=d["due_today"],
                                overdue=d["overdue"],
                                late=slot.late,
                            )
                        )
                        slot.recipients += 1
                counts["daily_digests"] = slot.recipients
        monday = today - timedelta(days=(today.weekday() - s.weekly_weekday) % 7)
        wdue = datetime.combine(monday, s.digest_time, tzinfo=s.tz)
        if now >= wdue:
            slot = self._slot(uow, "weekly_digest", wdue, now)
            if slot is not None:
                fig = self.figures(uow, monday - timedelta(days=7), monday - timedelta(days=1), now)
                admins = uow.org.people(role="admin")
                if uow.session.exec(select(Ticket.id).limit(1)).first() is not None:  # not on a fresh install
                    uow.emit(ev.WeeklyDigest(figures=fig.as_dict(), late=slot.late))
                    slot.recipients = len(admins)
                else:
                    slot.note = "nothing to report"
                counts["weekly_digests"] = slot.recipients
        return counts


def figures_dict(fig: Figures) -> dict:
    return fig.as_dict()


__all__ = ["Figures", "ReportService", "Row", "TicketFacts", "asdict"]
