"""The ticket state machine (受理 → 派单 → 签收 → 办结 → 回访 → 销号, with 退单, 发回重办, dismissal).

Every transition is checked here, recorded as an audit event, and announced as a domain event.
Callers pass a unit of work; the unit of work commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from classifiers.types import Classification
from core.config import Config
from services import events as ev
from services.errors import BadArgument, InvalidTransition, NotAuthorised, TicketNotFound, UnknownUnit
from services.org import Actor, OrgService
from services.uow import UnitOfWork
from services.workcalendar import WorkCalendar
from storage.bulk.objects import new
from storage.models import Person, Ticket, TicketReporter
from storage.status import OPEN_STATUSES, Status

STATUS_LABELS = {s.value: s.label for s in Status}
RATINGS = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}
RATING_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意", "no_answer": "未表态"}

# action -> statuses it may start from
ALLOWED = {
    "confirm": (Status.PENDING,),
    "accept": (Status.DISPATCHED,),
    "resolve": (Status.DISPATCHED, Status.ACCEPTED),
    "return": (Status.DISPATCHED, Status.ACCEPTED),
    "transfer": (Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED, Status.REGISTERED),
    "recat": (Status.PENDING, Status.REGISTERED, Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED),
    "dismiss": (Status.PENDING, Status.REGISTERED, Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED),
    "rate": (Status.FOLLOWUP,),
    "escalate": (Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED),
    "split": (Status.PENDING, Status.REGISTERED, Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED),
}


@dataclass(frozen=True)
class OpenRequest:
    """What intake knows when it opens a ticket."""

    text: str
    category: str
    urgent: bool
    confidence: float
    evidence: str
    platform: str
    chat_id: str
    region_code: str
    source_message_id: str | None
    source_inbox_id: int | None
    private: bool = False
    attachment: str | None = None
    emergency: str | None = None  # the kind of emergency, for urgent tickets


#: What someone says about harming themselves is never echoed in the group: their ticket is handled as if reported
#: privately (every message to them goes to them alone), and the group's grid worker is told as well.
PRIVATE_EMERGENCIES = ("self_harm",)


class TicketService:
    def __init__(self, config: Config, org: OrgService, calendar: WorkCalendar) -> None:
        self.config = config
        self.org = org
        self.calendar = calendar

    # --- lookups -----------------------------------------------------------------------------

    def get(self, uow: UnitOfWork, no: str) -> Ticket:
        t = uow.tickets.by_no(no)
        if t is None:
            raise TicketNotFound(no=no)
        return t

    def may_view(self, uow: UnitOfWork, actor: Actor, t: Ticket) -> bool:
        return self.org.may_work(uow, actor, t) or uow.tickets.reporter(t.id, actor.id) is not None  # type: ignore[arg-type]

    def mine(self, uow: UnitOfWork, actor: Actor) -> list[Ticket]:
        """Open tickets an official or grid worker is responsible for."""
        if actor.role == "admin":
            return uow.tickets.query(statuses=OPEN_STATUSES, limit=50)
        if not actor.is_staff:
            return []
        own = (
            uow.tickets.query(statuses=OPEN_STATUSES + (Status.FOLLOWUP,), unit_codes=[actor.person.unit_code])
            if actor.person.unit_code
            else []
        )
        area = (
            uow.tickets.query(statuses=OPEN_STATUSES, region_codes=self._area(uow, actor))
            if self._area(uow, actor)
            else []
        )
        seen = {t.id for t in own}
        area = [t for t in area if t.id not in seen and self.org.may_work(uow, actor, t)]
        if actor.role == "official":
            area = [
                t for t in area if t.status != Status.PENDING
            ]  # uncertain messages are the grid worker's to confirm
        return own + area

    def _area(self, uow: UnitOfWork, actor: Actor) -> list[str]:
        """The regions a grid worker or a non-county official looks after: theirs and those below."""
        home = actor.person.region_code
        if actor.role == "official" and actor.person.unit_code:
            unit = uow.org.unit(actor.person.unit_code)
            home = unit.region_code if unit and unit.tier != "county" else None
        if not home:
            return []
        return [r.code for r in uow.org.regions() if home in self.org.ancestors(uow, r.code)]

    # --- helpers -----------------------------------------------------------------------------

    def _audit(
        self,
        uow: UnitOfWork,
        t: Ticket,
        actor_id: int | None,
        action: str,
        before: str | None,
        note: str | None = None,
        *,
        to: str | None = None,
    ) -> None:
        """An audit event from `before` to `to` (default: the ticket's status now)."""
        t.updated_at = uow.now
        uow.tickets.add_event(t, uow.now, actor_id, action, before, to or t.status, note)

    def _workable(self, uow: UnitOfWork, actor: Actor, no: str, action: str) -> Ticket:
        """The ticket, if this person may work it and `action` is allowed from its state."""
        t = self.get(uow, no)
        self.org.require_work(uow, actor, t)
        self._check(t, action)
        return t

    def _check(self, t: Ticket, action: str) -> None:
        if t.status not in ALLOWED[action]:
            raise InvalidTransition(no=t.no, status=t.status, action=action)

    def deadline_for(self, category: str, urgent: bool, start: datetime) -> datetime:
        cat = self.config.categories.get(category) or self.config.categories["other"]
        if urgent:
            return self.calendar.urgent_deadline(start, cat.urgent_hours)
        return self.calendar.deadline(start, cat.limit_days)

    def _number(self, uow: UnitOfWork) -> str:
        day = uow.now.astimezone(self.calendar.tz).strftime("%Y%m%d")
        seq = uow.tickets.next_number(day)
        return f"{self.config.ticket_prefix}{day}-{seq:04d}"

    # --- transitions -------------------------------------------------------------------------

    def open(self, uow: UnitOfWork, reporter: Actor, req: OpenRequest, *, pending: bool = False) -> Ticket:
        """Register a complaint; dispatch it at once unless it waits for a grid worker's confirmation.

        A dispatched ticket is written once, already dispatched; its audit trail still records
        both steps (registered, then dispatched)."""
        status = Status.PENDING if pending else Status.REGISTERED
        t = new(
            Ticket,
            no=self._number(uow),
            status=status,
            category=req.category if req.category in self.config.categories else "other",
            urgent=req.urgent,
            text=req.text,
            details=[],
            attachments=[req.attachment] if req.attachment else [],
            platform=req.platform,
            chat_id=req.chat_id,
            source_message_id=req.source_message_id,
            source_inbox_id=req.source_inbox_id,
            private=req.private or req.emergency in PRIVATE_EMERGENCIES,
            emergency=req.emergency if req.urgent else None,
            region_code=req.region_code,
            reporter_id=reporter.id,
            confidence=req.confidence,
            evidence=req.evidence,
            created_at=uow.now,
            updated_at=uow.now,
        )
        unit = self.org.route(uow, t.category, t.region_code)
        if pending:
            t.unit_code = unit.code if unit else None  # who would handle it, once confirmed
        else:
            self._set_dispatched(uow, t, unit, new_deadline=True)
        uow.tickets.add(t)
        uow.tickets.add_reporter(
            new(
                TicketReporter,
                ticket_id=t.id,
                person_id=reporter.id,
                platform=req.platform,
                chat_id=req.chat_id,
                message_id=req.source_message_id,
                joined_at=uow.now,
            )
        )
        self._audit(uow, t, reporter.id, "pending" if pending else "register", None, req.evidence, to=status)
        if pending:
            uow.emit(ev.TicketPending(t.id, reporter.id))
            return t
        uow.emit(ev.TicketOpened(t.id, reporter.id))
        self._dispatched(uow, t, None, unit, Status.REGISTERED, note="自动派单")
        return t

    def _dispatch(
        self, uow: UnitOfWork, t: Ticket, actor_id: int | None, unit, *, note: str, new_deadline: bool = True
    ) -> None:  # type: ignore[no-untyped-def]
        before = t.status
        self._set_dispatched(uow, t, unit, new_deadline=new_deadline)
        self._dispatched(uow, t, actor_id, unit, before, note=note)

    def _set_dispatched(self, uow: UnitOfWork, t: Ticket, unit, *, new_deadline: bool) -> None:  # type: ignore[no-untyped-def]
        t.unit_code = unit.code if unit else None
        t.tier = unit.tier if unit else t.tier
        t.status = Status.DISPATCHED
        t.dispatched_at = uow.now
        t.accepted_at = None
        if new_deadline or t.deadline is None:
            t.deadline = self.deadline_for(t.category, t.urgent, uow.now)

    def _dispatched(self, uow: UnitOfWork, t: Ticket, actor_id: int | None, unit, before: str, *, note: str) -> None:  # type: ignore[no-untyped-def]
        self._audit(uow, t, actor_id, "dispatch", before, f"{note} → {unit.name if unit else '待指定'}")
        uow.emit(ev.TicketDispatched(t.id, actor_id, unit=t.unit_code, note=note))

    def confirm(self, uow: UnitOfWork, actor: Actor, no: str) -> Ticket:
        t = self._workable(uow, actor, no, "confirm")
        t.status = Status.REGISTERED
        t.created_at = t.created_at or uow.now
        self._audit(uow, t, actor.id, "confirm", Status.PENDING, "网格员确认立案")
        uow.emit(ev.TicketOpened(t.id, actor.id, confirmed_by=actor.person.name))
        self._dispatch(uow, t, actor.id, self.org.route(uow, t.category, t.region_code), note="确认后派单")
        return t

    def confirm_by_system(self, uow: UnitOfWork, t: Ticket, note: str) -> None:
        self._check(t, "confirm")
        t.status = Status.REGISTERED
        self._audit(uow, t, None, "confirm", Status.PENDING, note)
        uow.emit(ev.TicketOpened(t.id, None))
        self._dispatch(uow, t, None, self.org.route(uow, t.category, t.region_code), note="自动派单")

    def accept(self, uow: UnitOfWork, actor: Actor, no: str) -> Ticket:
        t = self._workable(uow, actor, no, "accept")
        if not self.org.may_accept(uow, actor, t):
            raise NotAuthorised(ticket=t.no)
        t.status, t.accepted_at = Status.ACCEPTED, uow.now
        self._audit(uow, t, actor.id, "accept", Status.DISPATCHED)
        uow.emit(ev.TicketAccepted(t.id, actor.id))
        return t

    def resolve(self, uow: UnitOfWork, actor: Actor, no: str, reply: str) -> Ticket:
        t = self._workable(uow, actor, no, "resolve")
        if not reply.strip():
            raise BadArgument(what="reply")
        before = t.status
        if t.accepted_at is None:
            t.accepted_at = uow.now
        t.status, t.resolved_at, t.resolution = Status.RESOLVED, uow.now, reply.strip()
        self._audit(uow, t, actor.id, "resolve", before, reply.strip())
        for r in uow.tickets.reporters(t.id):  # type: ignore[arg-type]
            r.rating, r.rated_at = None, None
        t.status = Status.FOLLOWUP
        self._audit(uow, t, None, "followup", Status.RESOLVED, "请报告人评价")
        uow.emit(ev.TicketResolved(t.id, actor.id))
        return t

    def return_(self, uow: UnitOfWork, actor: Actor, no: str, reason: str) -> Ticket:
        t = self._workable(uow, actor, no, "return")
        if not reason.strip():
            raise BadArgument(what="reason")
        before = t.status
        t.status = Status.RETURNED
        t.return_count += 1
        self._audit(uow, t, actor.id, "return", before, reason.strip())
        uow.emit(ev.TicketReturned(t.id, actor.id, reason=reason.strip(), unit=t.unit_code))
        return t

    def transfer(self, uow: UnitOfWork, actor: Actor, no: str, unit_name: str) -> Ticket:
        t = self._workable(uow, actor, no, "transfer")
        unit = self.org.find_unit(uow, unit_name)
        if unit is None:
            raise UnknownUnit(value=unit_name)
        if t.category == "conduct" and self._is_own_unit_of_accused(uow, t, unit.code):
            raise NotAuthorised(ticket=t.no)
        self._dispatch(uow, t, actor.id, unit, note="转办", new_deadline=False)
        return t

    def _is_own_unit_of_accused(self, uow: UnitOfWork, t: Ticket, unit_code: str) -> bool:
        unit = uow.org.unit(unit_code)
        return bool(unit and unit.tier == "village" and unit.region_code == t.region_code)

    def recategorise(self, uow: UnitOfWork, actor: Actor, no: str, category: str) -> Ticket:
        t = self._workable(uow, actor, no, "recat")
        key = self.category_key(category)
        before_cat = t.category
        t.category = key
        self._audit(uow, t, actor.id, "recategorise", t.status, f"{before_cat} → {key}")
        uow.emit(ev.TicketRecategorised(t.id, actor.id, before=before_cat, after=key))
        return t

    def category_key(self, name: str) -> str:
        name = name.strip()
        for key, cat in self.config.categories.items():
            if name in (key, cat.label):
                return key
        raise BadArgument(what="category", value=name)

    def dismiss(self, uow: UnitOfWork, actor: Actor, no: str, reason: str = "") -> Ticket:
        t = self._workable(uow, actor, no, "dismiss")
        before = t.status
        t.status, t.closed_at, t.close_reason = Status.DISMISSED, uow.now, "not_a_complaint"
        self._audit(uow, t, actor.id, "dismiss", before, reason or "不是诉求")
        uow.emit(ev.TicketDismissed(t.id, actor.id, was_pending=before == Status.PENDING))
        return t

    def rate(self, uow: UnitOfWork, actor: Actor, no: str, score: str) -> Ticket:
        """A reporter's 回访 answer. Any 不满意 reopens the ticket (发回重办); all answered → 销号."""
        t = self.get(uow, no)
        rep = uow.tickets.reporter(t.id, actor.id)  # type: ignore[arg-type]
        if rep is None:
            raise NotAuthorised(ticket=t.no)
        self._check(t, "rate")
        rating = RATINGS.get(score)
        if rating is None:
            raise BadArgument(what="rating", value=score)
        rep.rating, rep.rated_at = rating, uow.now
        self._audit(uow, t, actor.id, "rate", t.status, RATING_LABELS[rating])
        uow.emit(ev.TicketRated(t.id, actor.id, rating=rating))
        if rating == "unsatisfied":
            self.reopen(uow, t, actor.id, "报告人不满意，发回重办")
            return t
        reporters = uow.tickets.reporters(t.id)  # type: ignore[arg-type]
        if all(r.rating for r in reporters):
            self._close(uow, t, actor.id, worst_rating(r.rating for r in reporters))
        return t

    def reopen(self, uow: UnitOfWork, t: Ticket, actor_id: int | None, note: str) -> None:
        t.reopen_count += 1
        t.resolved_at = None
        t.satisfaction = "unsatisfied"
        before = t.status
        t.status = Status.REGISTERED
        self._audit(uow, t, actor_id, "reopen", before, note)
        uow.emit(ev.TicketReopened(t.id, actor_id))
        unit = uow.org.unit(t.unit_code) if t.unit_code else self.org.route(uow, t.category, t.region_code)
        self._dispatch(uow, t, actor_id, unit, note="发回重办")

    def _close(self, uow: UnitOfWork, t: Ticket, actor_id: int | None, satisfaction: str) -> None:
        before = t.status
        t.status, t.closed_at, t.satisfaction, t.close_reason = Status.CLOSED, uow.now, satisfaction, "rated"
        self._audit(uow, t, actor_id, "close", before, RATING_LABELS.get(satisfaction, satisfaction))
        uow.emit(ev.TicketClosed(t.id, actor_id, satisfaction=satisfaction))

    def close_unanswered(self, uow: UnitOfWork, t: Ticket) -> None:
        """回访 with no answer in time: close as 未表态 (or by the ratings that did come)."""
        if t.status != Status.FOLLOWUP:
            return
        ratings = [r.rating for r in uow.tickets.reporters(t.id) if r.rating]  # type: ignore[arg-type]
        self._close(uow, t, None, worst_rating(ratings) if ratings else "no_answer")
        t.close_reason = "rated" if ratings else "no_answer"

    def escalate(self, uow: UnitOfWork, t: Ticket, reason: str) -> bool:
        """Move a ticket one tier up (提级). False when it is already at the top tier."""
        self._check(t, "escalate")
        unit = self.org.next_tier_unit(uow, t)
        if unit is None:
            return False
        previous = t.unit_code
        self._dispatch(uow, t, None, unit, note=f"提级：{reason}")
        uow.emit(ev.TicketEscalated(t.id, None, from_unit=previous, to_unit=unit.code, reason=reason))
        return True

    # --- reporters and details ----------------------------------------------------------------

    def add_reporter(
        self,
        uow: UnitOfWork,
        t: Ticket,
        actor: Actor,
        platform: str,
        chat_id: str,
        message_id: str | None,
        text: str,
        reason: str = "",
    ) -> bool:
        """Another household reports the same problem. False if they had already reported it. ``reason``
        (the rule that joined it) is kept in the audit trail: a grid worker can see why, and split it out."""
        if uow.tickets.reporter(t.id, actor.id) is not None:  # type: ignore[arg-type]
            self.add_detail(uow, t, actor, text, reason=reason)
            return False
        uow.tickets.add_reporter(
            new(
                TicketReporter,
                ticket_id=t.id,
                person_id=actor.id,
                platform=platform,
                chat_id=chat_id,
                message_id=message_id,
                joined_at=uow.now,
            )
        )
        self._audit(uow, t, actor.id, "merge", t.status, _with_reason(text, reason))
        uow.emit(ev.TicketMerged(t.id, actor.id, households=len(uow.tickets.reporters(t.id))))  # type: ignore[arg-type]
        return True

    def add_detail(
        self, uow: UnitOfWork, t: Ticket, actor: Actor, text: str, attachment: str | None = None, reason: str = ""
    ) -> None:
        details = list(t.details or [])
        details.append({"by": actor.person.name, "at": uow.now.isoformat(), "text": text[:2000]})
        t.details = details
        if attachment:
            t.attachments = list(t.attachments or []) + [attachment]
        self._audit(uow, t, actor.id, "detail", t.status, _with_reason(text, reason))
        uow.emit(ev.TicketDetail(t.id, actor.id))

    def joined_households(self, uow: UnitOfWork, t: Ticket) -> list[tuple[TicketReporter, Person]]:
        """The households joined to a ticket after its first reporter: who a grid worker may split out."""
        out = []
        for r in uow.tickets.reporters(t.id):  # type: ignore[arg-type]
            p = uow.org.person(r.person_id)
            if r.person_id != t.reporter_id and p is not None:
                out.append((r, p))
        return out

    def split(
        self, uow: UnitOfWork, actor: Actor, no: str, who: str, reread: Callable[[str], Classification]
    ) -> Ticket | None:
        """Take a household wrongly joined to a ticket out of it (the rules read "我家也是" as about the wrong
        problem): their message is read again on its own and becomes a ticket of its own when it is a
        complaint (waiting for the grid worker when the classifier is unsure), else it is only taken out.
        The new ticket, or None."""
        t = self._workable(uow, actor, no, "split")
        name = who.strip().lstrip("@＠").strip()
        joined = self.joined_households(uow, t)
        found = [(r, p) for r, p in joined if p.name == name]
        if not found:
            names = "、".join(p.name for _, p in joined) or "（没有后来并入的居民）"
            raise BadArgument(hint=f"拆分 {t.no} 居民名字；并入这张工单的有：{names}")
        r, person = found[0]
        inbox = uow.inbox.find(r.platform, r.chat_id, r.message_id) if r.message_id else None
        text = (inbox.text or "").strip() if inbox is not None else ""
        if not text:  # the message itself is gone (purged): the audit trail kept what they said
            events = uow.tickets.events(t.id)  # type: ignore[arg-type]
            notes = [e.note or "" for e in events if e.action == "merge" and e.actor_id == r.person_id]
            text = notes[-1].split("〔", 1)[0] if notes else ""
        account = next((a for a in uow.org.accounts_of(person.id) if a.platform == r.platform), None)  # type: ignore[arg-type]
        uow.tickets.remove_reporter(r)
        new_ticket: Ticket | None = None
        c = reread(text) if text else None
        th = self.config.classifier
        if c is not None and account is not None and (c.urgent or c.acted_intent(th.middle) == "complaint"):
            req = OpenRequest(
                text=text,
                category=c.category or "other",
                urgent=bool(c.urgent),
                confidence=c.confidence,
                evidence=c.explain(),
                platform=r.platform,
                chat_id=r.chat_id,
                region_code=t.region_code,
                source_message_id=r.message_id,
                source_inbox_id=inbox.id if inbox is not None else None,
                private=t.private,
                emergency=c.emergency if c.urgent else None,
            )
            pending = not c.urgent and c.confidence < th.high
            new_ticket = self.open(uow, Actor(person, account), req, pending=pending)
        outcome = f"另立 {new_ticket.no}" if new_ticket is not None else "不再作为诉求"
        self._audit(uow, t, actor.id, "split", t.status, f"拆出 {person.name}（{outcome}）：{text[:200]}")
        return new_ticket

    def edit_text(self, uow: UnitOfWork, t: Ticket, actor: Actor, text: str) -> None:
        before = t.text
        t.text = text
        self._audit(uow, t, actor.id, "edit", t.status, f"原文：{before[:500]}")
        uow.emit(ev.TicketTextEdited(t.id, actor.id))


def _with_reason(text: str, reason: str) -> str:
    """An audit note: the message, and the rule that attached it to the ticket."""
    return f"{text[:460]}〔{reason}〕" if reason else text[:500]


def worst_rating(ratings) -> str:  # type: ignore[no-untyped-def]
    order = ["unsatisfied", "basic", "satisfied"]
    present = [r for r in ratings if r in order]
    return min(present, key=order.index) if present else "no_answer"


def is_overdue(t: Ticket, now: datetime) -> bool:
    return t.deadline is not None and t.status in OPEN_STATUSES and now > t.deadline


def followup_expired(t: Ticket, now: datetime, days: int = 3) -> bool:
    return t.status == Status.FOLLOWUP and t.resolved_at is not None and now - t.resolved_at > timedelta(days=days)
