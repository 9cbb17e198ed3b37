"""Who is told what when a schedule fires: reminder, digest and notice events → outbox messages.

An extension of the bot's `Announcer` (registered in `announcer.extensions` by schedules.wiring):
it addresses people through the parent's `tell_person`, so private messages fall back to an
@-mention in the ticket's group exactly like every other message of the bot.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.chat import texts
from bot.chat.announce import Announcer, staff_buttons
from bot.chat.outbox import enqueue
from bot.messages import Outbound
from core.config import ScheduleSettings
from services import events as ev
from services.uow import UnitOfWork
from storage.ids import id_of
from storage.models import Notice, NoticeDelivery, Reminder, Ticket
from storage.purposes import Purpose

log = logging.getLogger(__name__)


class ScheduleAnnouncer:
    def __init__(self, parent: Announcer, settings: ScheduleSettings | None = None) -> None:
        self.parent = parent
        self.settings = settings or ScheduleSettings()

    # --- who -----------------------------------------------------------------------------------

    # --- reminders -----------------------------------------------------------------------------

    def on_reminder_due(self, uow: UnitOfWork, e: ev.ReminderDue, t: Ticket | None) -> None:
        if t is None:
            return
        kind = e.reminder_kind
        due_at = e.due_at
        label = self.parent.config.category_label(t.category)
        if kind == "accept":
            text = texts.reminder_accept(
                t.no, label, self.parent.group_title(uow, t), self.settings.accept_hours, t.text
            )
        elif kind.startswith("due_soon_"):
            hours = (t.deadline - due_at).total_seconds() / 3600 if t.deadline else 0  # type: ignore[operator]
            text = texts.reminder_due_soon(t.no, label, t.deadline, round(hours, 1))
        elif kind == "due_now":
            text = texts.reminder_due_now(t.no, label, t.deadline)
        elif kind == "overdue":
            days = max(1, round((due_at - t.deadline).total_seconds() / 86400)) if t.deadline else 1  # type: ignore[operator]
            text = texts.reminder_overdue(t.no, label, t.deadline, days)
        elif kind == "escalate_admins":
            text = texts.escalated_to_admins(t.no, label, self.parent.unit_name(uow, t.unit_code), t.deadline, e.reason)
        else:
            log.warning("unknown reminder kind %s", kind)
            return
        if e.late:
            text = texts.LATE_PREFIX + text
        people = (
            self.parent.org.admins(uow)
            if kind == "escalate_admins"
            else self.parent.org.reminded(uow, t, with_admins=e.admins)
        )
        buttons = staff_buttons(t.no) if kind == "accept" else ()
        row = uow.session.get(Reminder, e.reminder_id) if e.reminder_id else None
        if row is not None:
            row.recipients = len(people)
        for p in people:
            self.parent.tell_person(
                uow, p, text, purpose=f"reminder:{kind}"[:32], ticket=t, buttons=buttons, urgent=t.urgent
            )

    def on_ticket_closed(self, uow: UnitOfWork, e: ev.TicketClosed, t: Ticket | None) -> None:
        if t is not None and e.satisfaction == "no_answer":
            self.parent.tell_reporters(uow, t, texts.closed_no_answer(t.no), purpose=Purpose.FOLLOWUP_CLOSED)

    # --- digests -------------------------------------------------------------------------------

    def on_daily_digest(self, uow: UnitOfWork, e: ev.DailyDigest, t: Ticket | None) -> None:
        person = uow.org.person(e.person_id)
        if person is None:
            return
        day = e.day or uow.now.date()
        text = texts.digest_daily(f"{day.month}月{day.day}日", e.open, e.due_today, e.overdue)
        if e.late:
            text = texts.LATE_PREFIX + text
        self.parent.tell_person(uow, person, text, purpose=Purpose.DIGEST)

    def on_weekly_digest(self, uow: UnitOfWork, e: ev.WeeklyDigest, t: Ticket | None) -> None:
        text = texts.digest_weekly(e.figures)
        if e.late:
            text = texts.LATE_PREFIX + text
        for p in self.parent.org.admins(uow):
            self.parent.tell_person(uow, p, text, purpose=Purpose.WEEKLY_DIGEST)

    # --- notices -------------------------------------------------------------------------------

    def on_notice_due(self, uow: UnitOfWork, e: ev.NoticeDue, t: Ticket | None) -> None:
        from sqlmodel import col, select

        n = uow.session.get(Notice, e.notice_id)
        if n is None:
            return
        text = texts.notice_post(n.text)
        rows = uow.session.exec(
            select(NoticeDelivery)
            .where(NoticeDelivery.notice_id == n.id, col(NoticeDelivery.outbox_id).is_(None))
            .order_by(col(NoticeDelivery.id))  # type: ignore[union-attr]
        ).all()
        for d in rows:
            out = enqueue(
                uow, Outbound(platform=d.platform, chat_id=d.chat_id, text=text), purpose=Purpose.NOTICE, flush=True
            )
            d.outbox_id = id_of(out)


def overdue_days(deadline: datetime, at: datetime) -> int:
    return max(1, round((at - deadline) / timedelta(days=1)))
