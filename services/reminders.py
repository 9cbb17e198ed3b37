"""Deadline reminders, escalation (提级) and the 回访 time limit, decided by one sweep.

`ReminderService.run_due(uow, now)` is the whole scheduler logic, a pure function of the
database and `now`:

1. *Plan.* For every active ticket, the slots of its schedule that are due by `now` are written
   as `Reminder` rows, unique on (ticket, kind, due time). A non-urgent slot falling in quiet
   hours (22:00–07:30 Asia/Shanghai by default) is held: its `send_after` is the end of quiet
   hours. Urgent tickets are never held.
2. *Act.* Pending rows whose `send_after` has come are claimed (FOR UPDATE SKIP LOCKED on
   PostgreSQL), checked against the ticket's current schedule (a reminder that no longer applies,
   e.g. an 签收提醒 after the ticket was accepted, becomes `obsolete`), and acted on: an escalation
   moves the ticket one tier up through `TicketService.escalate`, a 回访 past its time limit is
   closed as 未表态 through `TicketService.close_unanswered`, a reminder becomes a
   `REMINDER_DUE` event the bot's announcer turns into messages in the same transaction.

When several slots of a ticket come due in one sweep (after downtime, or at the end of quiet
hours) only the latest of each family is sent; the earlier ones are recorded as `superseded`, and
an escalation supersedes every reminder due before it. A row sent well after it was due (more
than `late_grace_minutes` after `send_after`) is marked late and says so. Because every row is
unique and acted on in the transaction that marks it sent, a sweep repeated, or run by two
processes at once, sends nothing twice; a sweep skipped is caught up by the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from core.config import ScheduleSettings
from services import events as ev
from services.tickets import TicketService
from services.uow import UnitOfWork
from storage.ids import id_of
from storage.models import Reminder, Ticket, TicketEvent
from storage.status import ACTIVE_STATUSES, Status

log = logging.getLogger(__name__)

DEADLINE_FAMILY = ("due_soon", "due_now", "overdue")
TIERS = ("village", "township", "county")


@dataclass(frozen=True)
class Slot:
    kind: str
    due_at: datetime


def due_soon_kind(hours: float) -> str:
    return f"due_soon_{hours:g}h"


def family(kind: str) -> str:
    for f in DEADLINE_FAMILY:
        if kind.startswith(f):
            return "deadline"
    return kind


def in_quiet_hours(when: datetime, s: ScheduleSettings) -> bool:
    t = when.astimezone(s.tz).time()
    if s.quiet_start <= s.quiet_end:
        return s.quiet_start <= t < s.quiet_end
    return t >= s.quiet_start or t < s.quiet_end


def release_time(when: datetime, s: ScheduleSettings) -> datetime:
    """The end of the quiet hours `when` falls in (or `when` itself outside them)."""
    if not in_quiet_hours(when, s):
        return when
    local = when.astimezone(s.tz)
    day = local.date()
    if local.time() >= s.quiet_start and s.quiet_start > s.quiet_end:
        day = day + timedelta(days=1)
    return datetime.combine(day, s.quiet_end, tzinfo=s.tz)


def insert_ignore(uow: UnitOfWork, table: sa.Table, values: dict, keys: list[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True when this call inserted it."""
    dialect = uow.session.get_bind().dialect.name
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=keys).returning(table.c.id)
    # Not rowcount: with psycopg 3 it reads 1 for a conflicting row that was not inserted.
    return uow.session.execute(stmt).first() is not None


def claim_rows(uow: UnitOfWork, model, rows: list, status: str) -> list:  # type: ignore[no-untyped-def]
    """Keep the rows this transaction could move out of `status` itself.

    A conditional UPDATE takes the write lock (SQLite) or waits for the row lock (PostgreSQL) and
    re-checks the status under it, so of two processes that read the same pending rows only one
    claims each; the other gets nothing. (pysqlite reads outside any transaction, so the SELECT
    alone proves nothing there.)
    """
    if not rows:
        return []
    table = model.__table__
    stmt = (
        sa.update(table)
        .where(table.c.id.in_([r.id for r in rows]), table.c.status == status)
        .values(status="claimed")
        .returning(table.c.id)
    )
    claimed = {i for (i,) in uow.session.execute(stmt, execution_options={"synchronize_session": False}).all()}
    return [r for r in rows if r.id in claimed]


class ReminderService:
    def __init__(self, tickets: TicketService, settings: ScheduleSettings | None = None) -> None:
        self.tickets = tickets
        self.settings = settings or ScheduleSettings()

    # --- a ticket's schedule -------------------------------------------------------------------

    def slots(self, uow: UnitOfWork, t: Ticket, now: datetime) -> list[Slot]:
        """The slots of the ticket's current schedule that are due by `now`."""
        s = self.settings
        out: list[Slot] = []
        if t.status in ACTIVE_STATUSES and t.dispatched_at is not None:
            if t.status == Status.DISPATCHED and t.accepted_at is None:
                out.append(Slot("accept", t.dispatched_at + timedelta(hours=s.accept_hours)))
            if t.deadline is not None:
                for h in s.due_soon_hours:
                    at = t.deadline - timedelta(hours=h)
                    if at > t.dispatched_at:
                        out.append(Slot(due_soon_kind(h), at))
                out.append(Slot("due_now", t.deadline))
                out.append(Slot("escalate", t.deadline + timedelta(hours=s.escalate_after_hours)))
                k = 1
                while t.deadline + timedelta(hours=k * s.overdue_every_hours) <= now:
                    out.append(Slot("overdue", t.deadline + timedelta(hours=k * s.overdue_every_hours)))
                    k += 1
            for at in self._rework_thresholds(uow, t):
                out.append(Slot("escalate", at))
        elif t.status == Status.FOLLOWUP and t.resolved_at is not None:
            out.append(Slot("followup_close", t.resolved_at + timedelta(days=s.followup_days)))
        return [x for x in out if x.due_at <= now]

    def _rework_thresholds(self, uow: UnitOfWork, t: Ticket) -> list[datetime]:
        """When the ticket was returned/reopened for the 3rd (6th, …) time, at its current dispatch."""
        if t.return_count + t.reopen_count < self.settings.escalate_after_returns:
            return []
        rows = uow.session.exec(
            select(TicketEvent.at)
            .where(TicketEvent.ticket_id == t.id, col(TicketEvent.action).in_(("return", "reopen")))
            .order_by(col(TicketEvent.id))
        ).all()
        n = self.settings.escalate_after_returns
        assert t.dispatched_at is not None
        return [at for i, at in enumerate(rows, 1) if i % n == 0 and at is not None and at >= t.dispatched_at]

    # --- the sweep -----------------------------------------------------------------------------

    def run_due(self, uow: UnitOfWork, now: datetime) -> dict[str, int]:
        """Plan the slots due by `now`, then act on those whose time has come. Counts by outcome."""
        planned = self.plan(uow, now)
        counts = self.act(uow, now)
        counts["planned"] = planned
        return counts

    def plan(self, uow: UnitOfWork, now: datetime) -> int:
        s = self.settings
        tickets = uow.session.exec(
            select(Ticket).where(col(Ticket.status).in_(ACTIVE_STATUSES + (Status.FOLLOWUP,))).order_by(col(Ticket.id))
        ).all()
        if not tickets:
            return 0
        ids = [t.id for t in tickets]
        existing = {
            (tid, kind, due)
            for tid, kind, due in uow.session.exec(
                select(Reminder.ticket_id, Reminder.kind, Reminder.due_at).where(col(Reminder.ticket_id).in_(ids))
            ).all()
        }
        table = Reminder.__table__  # type: ignore[attr-defined]
        planned = 0
        for t in tickets:
            for slot in self.slots(uow, t, now):
                if (t.id, slot.kind, slot.due_at) in existing:
                    continue
                send_after = slot.due_at if t.urgent else release_time(slot.due_at, s)
                values = dict(
                    ticket_id=t.id,
                    kind=slot.kind,
                    due_at=slot.due_at,
                    send_after=send_after,
                    status="pending",
                    urgent=t.urgent,
                    held=send_after > slot.due_at,
                    late=False,
                    unit_code=t.unit_code,
                    tier=t.tier,
                    recipients=0,
                    created_at=now,
                )
                if insert_ignore(uow, table, values, ["ticket_id", "kind", "due_at"]):
                    planned += 1
                existing.add((id_of(t), slot.kind, slot.due_at))
        return planned

    def _claim(self, uow: UnitOfWork, now: datetime) -> list[Reminder]:
        stmt = (
            select(Reminder)
            .where(Reminder.status == "pending", Reminder.ticket_id != 0, col(Reminder.send_after) <= now)
            .order_by(col(Reminder.ticket_id), col(Reminder.due_at), col(Reminder.id))
        )
        if uow.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(uow.session.exec(stmt).all())
        return claim_rows(uow, Reminder, rows, "pending")

    def act(self, uow: UnitOfWork, now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {
            "sent": 0,
            "escalated": 0,
            "closed_no_answer": 0,
            "superseded": 0,
            "obsolete": 0,
            "late": 0,
        }
        rows = self._claim(uow, now)
        by_ticket: dict[int, list[Reminder]] = {}
        for r in rows:
            by_ticket.setdefault(r.ticket_id, []).append(r)
        for ticket_id, group in by_ticket.items():
            t = uow.tickets.get(ticket_id)
            current = {(x.kind, x.due_at) for x in self.slots(uow, t, now)} if t is not None else set()
            valid = []
            for r in group:
                if (r.kind, r.due_at) in current:
                    valid.append(r)
                else:
                    self._finish(r, "obsolete", now, counts)
            if not valid or t is None:
                continue
            escalations = [r for r in valid if r.kind == "escalate"]
            if escalations:
                last = escalations[-1]
                for r in valid:
                    if r is not last:
                        self._finish(r, "superseded", now, counts)
                self._escalate(uow, t, last, now, counts)
                continue
            latest: dict[str, Reminder] = {}
            for r in valid:  # ordered by due time: the last of each family wins
                fam = family(r.kind)
                if fam in latest:
                    self._finish(latest[fam], "superseded", now, counts)
                latest[fam] = r
            for r in latest.values():
                if r.kind == "followup_close":
                    self.tickets.close_unanswered(uow, t)
                    self._finish(r, "sent", now, counts)
                    counts["closed_no_answer"] += 1
                    continue
                self._remind(uow, t, r, now, counts)
        return counts

    def _finish(self, r: Reminder, status: str, now: datetime, counts: dict[str, int]) -> None:
        r.status = status
        if status == "sent":
            r.sent_at = now
            r.late = (now - r.send_after) > timedelta(minutes=self.settings.late_grace_minutes)  # type: ignore[operator]
            if r.late:
                counts["late"] += 1
        else:
            counts[status] = counts.get(status, 0) + 1

    def _due(
        self, t: Ticket, r: Reminder, *, kind: str | None = None, admins: bool = False, reason: str = ""
    ) -> ev.ReminderDue:
        return ev.ReminderDue(
            t.id,
            None,
            reminder_kind=kind or r.kind,
            due_at=r.due_at,
            late=r.late,
            held=r.held,
            reminder_id=r.id,
            tier=r.tier,
            admins=admins,
            reason=reason,
        )

    def _remind(self, uow: UnitOfWork, t: Ticket, r: Reminder, now: datetime, counts: dict[str, int]) -> None:
        self._finish(r, "sent", now, counts)
        top = self.tickets.org.next_tier_unit(uow, t) is None
        admins = top and r.kind in ("due_now", "overdue")
        uow.emit(self._due(t, r, admins=admins))
        counts["sent"] += 1

    def _escalate(self, uow: UnitOfWork, t: Ticket, r: Reminder, now: datetime, counts: dict[str, int]) -> None:
        self._finish(r, "sent", now, counts)
        overdue = t.deadline is not None and r.due_at == t.deadline + timedelta(
            hours=self.settings.escalate_after_hours
        )
        reason = "超期未办结" if overdue else f"退单/重办达 {t.return_count + t.reopen_count} 次"
        r.note = reason
        if self.tickets.escalate(uow, t, reason):
            counts["escalated"] += 1
            return
        # Already at the county tier: the county admins' list.
        r.note = f"{reason}（县级，报管理员）"
        uow.emit(self._due(t, r, kind="escalate_admins", admins=True, reason=reason))
        counts["sent"] += 1
