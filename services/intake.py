"""What to do with a resident's text: open, ask, merge, add detail, hand a question on, or stay silent.

The classifier only says what the text *is*; intake decides what the bot *does*, given the open
tickets of the group, who is speaking, and the thresholds in config. Silence is the default:
a false ticket embarrasses a resident in front of their village.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import select

from classifiers.types import Classification
from core.config import Config
from services import events as ev
from services import relation
from services.emergencies import EmergencyService
from services.incoming import Outcome, Said
from services.org import Actor, OrgService
from services.tickets import OpenRequest, TicketService
from services.uow import UnitOfWork
from storage.bulk.objects import new
from storage.models import ChatGroup, Consultation, Ticket
from storage.purposes import TICKET_RECEIPTS
from storage.status import OPEN_STATUSES, Status

# Outcomes recorded on the inbox row (and counted by `shanzhi replay`).
OPENED, MERGED, DETAIL, PROMPTED, CONSULTATION, IGNORED, URGENT, EMERGENCY_FOLLOW_UP = (
    "ticket",
    "merged",
    "detail",
    "prompt",
    "consultation",
    "ignored",
    "urgent",
    "emergency_detail",
)


class IntakeService:
    def __init__(self, config: Config, org: OrgService, tickets: TicketService, emergencies: EmergencyService) -> None:
        self.config = config
        self.org = org
        self.tickets = tickets
        self.emergencies = emergencies

    def prepare_batch(self, uow: UnitOfWork, messages: list[Said]) -> None:
        """Read up front, in a few queries, what handling a batch of messages will look up message by
        message: the senders (first-time speakers registered together), their groups, who reported
        what there within the follow-up time, and the tickets a new complaint there may repeat."""
        group_chats = {(m.platform, m.chat_id) for m in messages if m.chat_type == "group"}
        uow.org.prefetch_groups(group_chats)
        self.org.prepare_senders(
            uow, [(m.platform, m.sender_id, m.sender_name, self._bound_chat(uow, m)) for m in messages]
        )
        if group_chats:
            # every message of the batch is handled at this time or later, so its window starts no earlier
            uow.tickets.prefetch_recent_reporters(
                group_chats, uow.now - timedelta(minutes=self.config.merge.followup_minutes)
            )
            uow.tickets.prefetch_chat_tickets(group_chats, uow.now - timedelta(hours=self.config.merge.window_hours))

    def prepare_staff(self, uow: UnitOfWork, classified: Iterable[tuple[str, Classification]]) -> None:
        """Read in one query the staff that the batch's complaints (region, classification) will
        be announced to: the officials of the unit each routes to, the grid workers over each
        region (they confirm uncertain complaints and stand in for a unit without officials), the
        admins (the last resort). Without it, each unit's staff is one more query."""
        units: set[str] = set()
        regions: set[str] = set()
        for region, c in classified:
            if c.acted_intent(self.config.classifier.middle) != "complaint":
                continue
            regions.update(self.org.ancestors(uow, region))
            unit = self.org.route(uow, c.category or "other", region)
            if unit is not None:
                units.add(unit.code)
        if regions:
            uow.org.prefetch_staff(units, regions)

    @staticmethod
    def _bound_chat(uow: UnitOfWork, said: Said) -> str | None:
        """The group a message was sent in, if it is bound to a region (what `Router` tells `actor`)."""
        if said.chat_type != "group":
            return None
        group = uow.org.group(said.platform, said.chat_id)
        return said.chat_id if group is not None and group.region_code else None

    def handle_text(
        self, uow: UnitOfWork, said: Said, actor: Actor, group: ChatGroup | None, c: Classification
    ) -> Outcome:
        text = said.text
        region = group.region_code if group else self.org.home_region(uow, actor)
        th = self.config.classifier
        intent = c.acted_intent(th.middle)

        replied = self._ticket_replied_to(uow, said)
        if replied is not None and not replied.urgent and replied.status in OPEN_STATUSES + (Status.FOLLOWUP,):
            return self._join(uow, replied, actor, said, text, "reply.quotes_ticket")

        if group is not None:
            alert = self.emergencies.follow_up(uow, said.platform, said.chat_id, actor, text, c)
            if alert is not None:
                # about an emergency of this group the last hour: it goes to who is acting
                emergency = uow.tickets.get(alert.ticket_id) if alert.ticket_id else None
                if emergency is not None and emergency.reporter_id == actor.id:
                    self._correct(uow, emergency, actor, text)
                return Outcome(EMERGENCY_FOLLOW_UP, alert.ticket_id)

        window_start = uow.now - timedelta(hours=self.config.merge.window_hours)
        if group is not None and actor.is_staff and not c.urgent:
            # grid workers and cadres in a group answer, ask and announce: what they say is not a resident's report
            return Outcome(IGNORED)
        if group is not None:
            said_me_too, content = relation.me_too(text)
            if said_me_too and content and intent == "consultation" and c.confidence >= th.high:
                said_me_too = False  # "我也想问问…": a question of their own
            if said_me_too:
                target = self._me_too_target(uow, said, content, c, window_start)
                if target is not None:
                    return self._join(uow, target[0], actor, said, text, target[1])
                if not content:
                    return Outcome(IGNORED)  # a bare "+1" with nothing open that it can be about

            follow_start = uow.now - timedelta(minutes=self.config.merge.followup_minutes)
            # someone first seen in this very transaction has reported nothing yet
            own = uow.tickets.latest_by_reporter_in_chat(actor.id, said.platform, said.chat_id, follow_start)
            if own is None and (relation.is_correction(text) or relation.points_back(text)):
                # "更正一下 不是村口 是…", "还是没修好": about the reporter's ticket however late it comes
                own = uow.tickets.latest_by_reporter_in_chat(actor.id, said.platform, said.chat_id, window_start)
            if own is not None:
                why = self._detail_reason(own, text, c, intent)
                if why is not None:
                    self.tickets.add_detail(uow, own, actor, text, said.attachment, reason=why)
                    self._correct(uow, own, actor, text)
                    return Outcome(DETAIL, own.id)
            if (
                not c.urgent
                and not (intent == "consultation" and c.confidence >= th.high)
                and not relation.turns_to_another(text)
                and relation.points_back(text)
            ):
                back = self._pointed_at(uow, said, text, c, window_start)
                if back is not None:
                    return self._join(uow, back[0], actor, said, text, back[1])

        if intent == "complaint":
            return self._complaint(uow, said, actor, group, region, c, text, window_start)
        if intent == "consultation":
            return self._consultation(uow, said, actor, region, text)
        return Outcome(IGNORED)

    def _correct(self, uow: UnitOfWork, t: Ticket, actor: Actor, text: str) -> None:
        """The reporter's "不是三组，是五组" changes where their ticket says it is, from now on."""
        fixed = relation.corrected(t.text, text) if relation.is_correction(text) else None
        if fixed is not None:
            self.tickets.edit_text(uow, t, actor, fixed)

    def _detail_reason(self, own: Ticket, text: str, c: Classification, intent: str) -> str | None:
        """Why the reporter's next message is more about their own ticket, or None: it is not when it is a
        question, a notice or forward, chit-chat or thanks, or a complaint about another problem."""
        if c.urgent and not (own.urgent and own.emergency in (c.emergency, None)):
            # an emergency is never "more detail" of what its reporter said before (着火了 after a lamp), but where
            # it is or that it is still so is, however alarming the words ("就在…那根电线杆旁边")
            return "detail.adds_to" if relation.adds_to(text, own.text) else None
        if relation.is_attachment(text):
            return "detail.attachment"
        if relation.says_only_where(text):
            return "detail.place"
        if (
            intent == "consultation"
            or relation.is_forward(text)
            or relation.is_acknowledgement(text)
            or relation.turns_to_another(text)
        ):
            return None
        if intent == "complaint":
            f = relation.fit(
                text, c.category, own.text, own.category, similarity=self.config.merge.similarity, landmarks=False
            )
            if f.same:
                return f"detail.{f.reason}"
            if f.reason in ("place.differs", "thing.differs", "fault.differs"):
                return None  # named a different place or thing: a second problem
            if c.category not in (None, own.category) and c.confidence >= self.config.classifier.high:
                # another kind of problem, unless it names nothing new and points back ("上次也是这样 又满了") or
                # says where ("就在东门那块空地")
                if relation.problem_of(text).things:
                    return None
                return relation.detail_like(text, own.text)
            return "detail.same_reporter"
        return relation.detail_like(text, own.text)

    def _me_too_target(
        self, uow: UnitOfWork, said: Said, content: str, c: Classification, since: datetime
    ) -> tuple[Ticket, str] | None:
        """The open ticket a "me too" is about: the latest when it only points at what was said ("+1",
        "我们二组也是这样"); else the one whose problem its words fit (water talk joins the water ticket, not
        the latest), places aside (a neighbour's "me too" from 二组 is the same outage)."""
        open_ = uow.tickets.open_in_chat(said.platform, said.chat_id, since)
        if not open_:
            return None
        if not content or relation.LIKE_THIS.search(content):
            t = uow.tickets.get(open_[0][0])
            return (t, "me_too.latest") if t is not None else None
        best: tuple[float, int, str] | None = None
        problem = relation.problem_of(content)
        for tid, category, ticket_text in open_:
            theirs = relation.problem_of(ticket_text)
            if relation.places_conflict(problem, theirs):
                continue  # the same at another place (三组 / 五组, 6栋 / 7栋) is another problem
            if problem.things:
                f = relation.fit(
                    content, c.category, ticket_text, category, similarity=self.config.merge.similarity, places=False
                )
                if not f.same:
                    continue
                score, why = f.score, f"me_too.{f.reason}"
            else:
                # it names no thing: it is about what is being discussed — the problem it shares a place, a
                # fault, words or a category with, else the latest
                place = relation.shares_place(problem, theirs)
                fault = bool(problem.faults & theirs.faults)
                words = relation.bigram_overlap(content, ticket_text)
                same_category = c.category is not None and c.category == category
                score = 0.1 + place + 0.5 * fault + words + 0.3 * same_category
                why = f"me_too.about:place={int(place)},fault={int(fault)},words={words:.2f}"
            if best is None or score > best[0]:  # newest first: the first of equal scores is the latest
                best = (score, tid, why)
        return self._ticket_of(uow, best)

    @staticmethod
    def _ticket_of(uow: UnitOfWork, best: tuple[float, int, str] | None) -> tuple[Ticket, str] | None:
        """The ticket of the best (score, ticket id, reason) of a search over the group's open tickets."""
        if best is None:
            return None
        t = uow.tickets.get(best[1])
        return (t, best[2]) if t is not None else None

    def _pointed_at(
        self, uow: UnitOfWork, said: Said, text: str, c: Classification, since: datetime
    ) -> tuple[Ticket, str] | None:
        """A neighbour speaking of a problem already open ("那个坑我昨晚也差点翻了", "过桥那盏是坏好久了"): the
        open ticket whose thing it names, or whose landmark, at no other place."""
        problem = relation.problem_of(text)
        if not problem.things and not problem.landmarks:
            return None
        best: tuple[float, int, str] | None = None
        for tid, _category, ticket_text in uow.tickets.open_in_chat(said.platform, said.chat_id, since):
            theirs = relation.problem_of(ticket_text)
            if relation.places_conflict(problem, theirs):
                continue
            shared = problem.things & theirs.things
            if problem.things and theirs.things and not shared:
                continue
            if relation.faults_differ(shared, problem, theirs):
                continue  # yellow water and a burst main: two problems
            place = relation.shares_landmark(problem, theirs)
            if not shared and not place:
                continue
            score = len(shared) + place + relation.bigram_overlap(text, ticket_text)
            if best is None or score > best[0]:
                best = (score, tid, f"points_back.{'+'.join(sorted(shared)) or 'place'}")
        return self._ticket_of(uow, best)

    # --- complaints ----------------------------------------------------------------------------

    def _complaint(  # type: ignore[no-untyped-def]
        self, uow: UnitOfWork, said: Said, actor: Actor, group, region, c: Classification, text: str, window_start
    ) -> Outcome:
        th = self.config.classifier
        category = c.category or "other"
        if region is None:
            uow.emit(ev.GroupUnbound(None, actor.id, private=group is None))
            return Outcome(IGNORED)
        if group is not None and not c.urgent:  # an emergency is never one more household of an ordinary ticket
            dup = self._duplicate(uow, said, c, text, window_start)
            if dup is not None:
                return self._join(uow, dup[0], actor, said, text, dup[1])
        urgent = bool(c.urgent)
        pending = not urgent and c.confidence < th.high
        req = OpenRequest(
            text=text,
            category=category,
            urgent=urgent,
            confidence=c.confidence,
            evidence=c.explain(),
            platform=said.platform,
            chat_id=said.chat_id,
            region_code=region,
            source_message_id=said.message_id,
            source_inbox_id=said.inbox_id,
            private=group is None,
            attachment=said.attachment,
            emergency=c.emergency if urgent else None,
        )
        t = self.tickets.open(uow, actor, req, pending=pending)
        if urgent and t.emergency:
            self.emergencies.raise_(uow, t, said.sent_at)
        if pending:
            return Outcome(PROMPTED, t.id)
        return Outcome(URGENT if urgent else OPENED, t.id)

    def _duplicate(self, uow: UnitOfWork, said: Said, c: Classification, text: str, since) -> tuple[Ticket, str] | None:  # type: ignore[no-untyped-def]
        """An open ticket of the group about the same problem, told by another household in its own words:
        the same thing named (or the same category in much the same words), at no other place."""
        best: tuple[float, int, str] | None = None
        for tid, category, ticket_text in uow.tickets.open_in_chat(said.platform, said.chat_id, since):
            f = relation.fit(text, c.category, ticket_text, category, similarity=self.config.merge.similarity)
            if f.same and (best is None or f.score > best[0]):
                best = (f.score, tid, f"merge.{f.reason}")
        return self._ticket_of(uow, best)

    def _join(self, uow: UnitOfWork, t: Ticket, actor: Actor, said: Said, text: str, reason: str) -> Outcome:
        if uow.tickets.reporter(t.id, actor.id) is not None:  # type: ignore[arg-type]
            self.tickets.add_detail(uow, t, actor, text, said.attachment, reason=reason)
            return Outcome(DETAIL, t.id)
        self.tickets.add_reporter(uow, t, actor, said.platform, said.chat_id, said.message_id, text, reason=reason)
        if t.status == Status.PENDING:
            # A second household reporting the same problem is confirmation enough.
            self.tickets.confirm_by_system(uow, t, "另一户居民反映了同一问题")
        return Outcome(MERGED, t.id)

    def _ticket_replied_to(self, uow: UnitOfWork, said: Said) -> Ticket | None:
        """A reply to the bot's receipt (or to the reporter's original message) belongs to that ticket."""
        if not said.reply_to:
            return None
        out = uow.outbox.by_sent_message(said.platform, said.chat_id, said.reply_to)
        if out is not None and out.ticket_id and out.purpose in TICKET_RECEIPTS:
            return uow.tickets.get(out.ticket_id)
        return uow.session.exec(
            select(Ticket).where(
                Ticket.platform == said.platform,
                Ticket.chat_id == said.chat_id,
                Ticket.source_message_id == said.reply_to,
            )
        ).first()

    # --- consultations -------------------------------------------------------------------------

    def _consultation(self, uow: UnitOfWork, said: Said, actor: Actor, region: str | None, text: str) -> Outcome:
        q = uow.consultations.add(
            new(
                Consultation,
                inbox_id=said.inbox_id,
                platform=said.platform,
                chat_id=said.chat_id,
                region_code=region,
                person_id=actor.id,
                text=text,
                created_at=uow.now,
            )
        )
        uow.emit(ev.Consultation(None, actor.id, consultation_id=q.id, region=region))
        return Outcome(CONSULTATION)

    # --- edits ---------------------------------------------------------------------------------

    def handle_edit(self, uow: UnitOfWork, said: Said, actor: Actor) -> Outcome:
        """An edited message within the edit window updates the text of the ticket it opened."""
        t = uow.session.exec(
            select(Ticket).where(
                Ticket.platform == said.platform,
                Ticket.chat_id == said.chat_id,
                Ticket.source_message_id == said.message_id,
            )
        ).first()
        if t is None or t.reporter_id != actor.id or t.status not in OPEN_STATUSES:
            return Outcome(IGNORED)
        if t.created_at and uow.now - t.created_at > timedelta(minutes=self.config.merge.edit_window_minutes):
            return Outcome(IGNORED)
        self.tickets.edit_text(uow, t, actor, said.text)
        return Outcome(DETAIL, t.id)
