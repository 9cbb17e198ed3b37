"""Retention (`shanzhi purge`): personal data of tickets closed long ago is masked, not deleted.

For every ticket closed or dismissed more than `retention.purge_after_days` ago:
- the ticket's text, details, resolution and audit notes, the inbox messages that made it, and
  the outbox messages about it are *masked*: phone and ID numbers and the names of the people
  involved are replaced by placeholders; the rest of the text stays, because dismissed and
  re-categorised tickets are the classifier's labelled feedback;
- attachments (platform file ids) are dropped;
- residents whose every ticket is purged and who wrote nothing since the cut-off lose their name
  (it becomes 居民#<id>) on the person and on their platform accounts.
Anonymous figures stay: categories, statuses, units, regions, times, ratings, counts.
Consultations older than the cut-off are masked the same way. Running it twice changes nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from services.masking import _ID, _LANDLINE, _MOBILE
from services.uow import UnitOfWork
from storage.ids import id_of
from storage.models import (
    Account,
    Consultation,
    InboxMessage,
    OutboxMessage,
    Person,
    Ticket,
    TicketEvent,
    TicketReporter,
)
from storage.status import ENDED_STATUSES

PHONE, IDNO, NAME = "[电话]", "[证件号]", "某某"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def redact(text: str | None, names: set[str] = frozenset()) -> str | None:  # type: ignore[assignment]
    """Phone, ID and e-mail numbers out entirely; the given names replaced by 某某."""
    if not text:
        return text
    text = _ID.sub(IDNO, text)
    text = _MOBILE.sub(PHONE, text)
    text = _LANDLINE.sub(PHONE, text)
    text = _EMAIL.sub("[邮箱]", text)
    for n in sorted((n for n in names if n and len(n) >= 2), key=len, reverse=True):
        text = text.replace(n, NAME)
    return text


@dataclass
class PurgeResult:
    cutoff: datetime
    tickets: int = 0
    inbox_messages: int = 0
    outbox_messages: int = 0
    events: int = 0
    consultations: int = 0
    people: int = 0

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def purge(uow: UnitOfWork, days: int, *, dry_run: bool = False) -> PurgeResult:
    cutoff = uow.now - timedelta(days=days)
    res = PurgeResult(cutoff=cutoff)
    s = uow.session
    tickets = list(
        s.exec(select(Ticket).where(col(Ticket.status).in_(ENDED_STATUSES), col(Ticket.closed_at) < cutoff)).all()
    )
    if tickets:
        ids = [t.id for t in tickets]
        reps = list(s.exec(select(TicketReporter).where(col(TicketReporter.ticket_id).in_(ids))).all())
        person_ids = {r.person_id for r in reps} | {t.reporter_id for t in tickets}
        people = {p.id: p for p in s.exec(select(Person).where(col(Person.id).in_(person_ids))).all()}
        accounts = list(s.exec(select(Account).where(col(Account.person_id).in_(person_ids))).all())
        names = {p.name for p in people.values()} | {a.display_name for a in accounts}
        by_ticket_names: dict[int, set[str]] = {}
        for r in reps:
            p = people.get(r.person_id)
            by_ticket_names.setdefault(r.ticket_id, set()).update({p.name} if p else set())
        for t in tickets:
            own = by_ticket_names.get(id_of(t))
            nm = own | names if own else names
            t.text = redact(t.text, nm) or ""
            t.resolution = redact(t.resolution, nm)
            t.details = [redact(d, nm) if isinstance(d, str) else _redact_obj(d, nm) for d in (t.details or [])] or None
            t.attachments = None
            res.tickets += 1
        for e in s.exec(select(TicketEvent).where(col(TicketEvent.ticket_id).in_(ids))).all():
            if e.note:
                e.note = redact(e.note, names)
                res.events += 1
        inbox_stmt = select(InboxMessage).where(
            sa.or_(
                col(InboxMessage.ticket_id).in_(ids),
                col(InboxMessage.id).in_([t.source_inbox_id for t in tickets if t.source_inbox_id]),
            )
        )
        for m in s.exec(inbox_stmt).all():
            m.text, m.sender_name, m.attachment = redact(m.text, names), "", None
            res.inbox_messages += 1
        for o in s.exec(select(OutboxMessage).where(col(OutboxMessage.ticket_id).in_(ids))).all():
            o.text, o.recipient_name = redact(o.text, names) or "", None
            res.outbox_messages += 1
        # residents with nothing left that is not purged
        for pid, p in people.items():
            if p.role != "resident" or p.name.startswith("居民#"):
                continue
            live = s.exec(
                select(sa.func.count())
                .select_from(TicketReporter)
                .join(Ticket, Ticket.id == TicketReporter.ticket_id)  # type: ignore[arg-type]
                .where(
                    TicketReporter.person_id == pid,
                    sa.or_(col(Ticket.status).not_in(ENDED_STATUSES), col(Ticket.closed_at) >= cutoff),
                )
            ).one()
            accs = [a for a in accounts if a.person_id == pid]
            recent = (
                s.exec(
                    select(sa.func.count())
                    .select_from(InboxMessage)
                    .where(
                        col(InboxMessage.sender_id).in_([a.user_id for a in accs]),
                        col(InboxMessage.received_at) >= cutoff,
                    )
                ).one()
                if accs
                else 0
            )
            if live or recent:
                continue
            p.name = f"居民#{pid}"
            for a in accs:
                a.display_name = p.name
            res.people += 1
    for c in s.exec(select(Consultation).where(col(Consultation.created_at) < cutoff)).all():
        new = redact(c.text, set()) or ""
        if new != c.text:
            c.text = new
        res.consultations += 1
    if dry_run:
        s.rollback()
    return res


def _redact_obj(v: object, names: set[str]) -> object:
    if isinstance(v, str):
        return redact(v, names)
    if isinstance(v, dict):
        return {k: _redact_obj(x, names) for k, x in v.items()}
    if isinstance(v, list):
        return [_redact_obj(x, names) for x in v]
    return v
