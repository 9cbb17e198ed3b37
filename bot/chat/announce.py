"""Who is told what when something happens to a ticket: domain events → outbox messages.

Runs inside the unit of work that produced the events, so the messages commit with the change.
"""

from __future__ import annotations

import logging

from bot.chat import texts
from bot.chat.outbox import enqueue, pick_account
from bot.messages import Button, ChatType, Outbound
from core.config import Config
from services import events as ev
from services.masking import phone_numbers
from services.org import OrgService, likely_in_group
from services.tickets import PRIVATE_EMERGENCIES, STATUS_LABELS
from services.uow import UnitOfWork
from storage.models import Account, Person, Ticket, TicketReporter
from storage.purposes import Purpose
from storage.status import Status

#: Statuses in which someone works a ticket: a detail added then is told to them.
WORKED = (Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED)
PLATFORM_NAMES = {"telegram": "Telegram 用户", "wechat": "微信", "local": "本地"}

log = logging.getLogger(__name__)


def staff_buttons(no: str) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("签收", f"/accept {no}"), Button("办结", f"/resolve {no}")),
        (Button("退单", f"/return {no}"), Button("不是诉求", f"/dismiss {no}")),
    )


def rating_buttons(no: str) -> tuple[tuple[Button, ...], ...]:
    return ((Button("满意", f"/rate {no} 1"), Button("基本满意", f"/rate {no} 2"), Button("不满意", f"/rate {no} 3")),)


def buttons_after(command: str) -> tuple[tuple[Button, ...], ...]:
    """The buttons a message keeps once one of them was used (``/accept SG…``): what can still be done from it —
    after 签收, 办结 and 退单; after an emergency's 收到, 到场 and 办结; after anything else, nothing."""
    name, _, rest = command.strip().partition(" ")
    no = rest.split(" ", 1)[0]
    if name == "/accept" and no:
        return ((Button("办结", f"/resolve {no}"), Button("退单", f"/return {no}")),)
    if name == "/ack" and no:
        return ((Button("到场", f"/onsite {no}"), Button("办结", f"/resolve {no}")),)
    if name == "/onsite" and no:
        return ((Button("办结", f"/resolve {no}"),),)
    return ()


def confirm_buttons(no: str) -> tuple[tuple[Button, ...], ...]:
    return ((Button("立案", f"/confirm {no}"), Button("忽略", f"/ignore {no}")),)


def _to_account(uow: UnitOfWork, acc: Account, person: Person, text: str, purpose: str) -> None:
    """A private message to one of a person's accounts, with no fallback: the admins' and grid workers' notes."""
    enqueue(
        uow,
        Outbound(
            platform=acc.platform,
            chat_id=acc.user_id,
            chat_type=ChatType.PRIVATE,
            text=text,
            recipient_name=acc.display_name or person.name,
        ),
        purpose=purpose,
        person_id=person.id,
    )


class Announcer:
    def __init__(self, config: Config, org: OrgService) -> None:
        self.config = config
        self.org = org
        # Other modules (e.g. schedules' reminders and notices) add objects with more on_<kind> handlers.
        self.extensions: list[object] = []

    def __call__(self, uow: UnitOfWork, events: list[ev.Event]) -> None:
        for e in events:
            for owner in (self, *self.extensions):
                handler = getattr(owner, f"on_{e.kind}", None)
                if handler is not None:
                    ticket = uow.tickets.get(e.ticket_id) if e.ticket_id else None
                    handler(uow, e, ticket)
                    break

    # --- addressing ----------------------------------------------------------------------------

    def group_title(self, uow: UnitOfWork, t: Ticket) -> str:
        g = uow.org.group(t.platform, t.chat_id)
        if g is not None:
            return g.title
        region = uow.org.region(t.region_code)
        return f"{region.name if region else t.region_code}（私信）"

    def unit_name(self, uow: UnitOfWork, code: str | None) -> str:
        unit = uow.org.unit(code) if code else None
        return unit.name if unit else "待指定"

    def tell_person(
        self,
        uow: UnitOfWork,
        person: Person,
        text: str,
        *,
        purpose: str,
        ticket: Ticket | None = None,
        buttons: tuple = (),
        urgent: bool = False,
        fallback: bool = True,
    ) -> None:
        """A private message, falling back to an @-mention in the ticket's group if it cannot be delivered."""
        platform = ticket.platform if ticket else None
        acc = pick_account(uow, person, platform)
        if acc is None:
            log.warning("no account to reach %s (%s)", person.name, person.id)
            return
        fallback_chat = None
        if fallback and ticket is not None and not ticket.private and acc.platform == ticket.platform:
            fallback_chat = ticket.chat_id
        name = acc.display_name or person.name
        if (
            not acc.can_dm
            and fallback_chat
            and likely_in_group(uow, person, acc.user_id, acc.platform, fallback_chat)  # a mention reaches only them
        ):
            # They have not started a private chat with the bot (or blocked it): mention them in the group.
            enqueue(
                uow,
                Outbound(
                    platform=acc.platform,
                    chat_id=fallback_chat,
                    text=texts.fallback_mention(text, acc.platform),
                    mentions=((acc.user_id, name),),
                    urgent=urgent,
                ),
                purpose=f"fallback:{purpose}"[:32],
                ticket_id=ticket.id if ticket else None,
                person_id=person.id,
            )
            return
        enqueue(
            uow,
            Outbound(
                platform=acc.platform,
                chat_id=acc.user_id,
                chat_type=ChatType.PRIVATE,
                text=text,
                buttons=buttons,
                fallback_chat_id=fallback_chat,
                recipient_name=acc.display_name or person.name,
                urgent=urgent,
            ),
            purpose=purpose,
            ticket_id=ticket.id if ticket else None,
            person_id=person.id,
        )

    def tell_reporters(
        self, uow: UnitOfWork, t: Ticket, text: str, *, purpose: str, buttons: tuple = (), only: int | None = None
    ) -> None:
        """The reporters where they reported: privately one by one, and in a group one message that @-mentions
        every household there, replying to the first report (a ticket of ten households is one post an event,
        not ten: WeChat restricts accounts that burst)."""
        groups: dict[tuple[str, str], list[tuple[TicketReporter, Person, Account]]] = {}
        for r in uow.tickets.reporters(t.id):  # type: ignore[arg-type]
            if only is not None and r.person_id != only:
                continue
            person = uow.org.person(r.person_id)
            if person is None:
                continue
            acc = next((a for a in uow.org.accounts_of(person.id) if a.platform == r.platform), None)  # type: ignore[arg-type]
            if t.private or acc is None or r.chat_id == acc.user_id:
                self.tell_person(uow, person, text, purpose=purpose, ticket=t, buttons=buttons, fallback=False)
                continue
            groups.setdefault((r.platform, r.chat_id), []).append((r, person, acc))
        for (platform, chat_id), members in groups.items():
            first, person, _ = members[0]
            enqueue(
                uow,
                Outbound(
                    platform=platform,
                    chat_id=chat_id,
                    text=text,
                    reply_to=first.message_id,
                    mentions=tuple((acc.user_id, acc.display_name or p.name) for _, p, acc in members),
                    buttons=buttons,
                ),
                purpose=purpose,
                ticket_id=t.id,
                person_id=person.id,
            )

    # --- events --------------------------------------------------------------------------------

    def on_ticket_opened(self, uow: UnitOfWork, e: ev.TicketOpened, t: Ticket | None) -> None:
        assert t is not None
        unit = self.unit_name(uow, t.unit_code)
        deadline = t.deadline  # set by the dispatch that always follows opening, in the same unit of work
        label = self.config.category_label(t.category)
        if t.emergency in PRIVATE_EMERGENCIES:
            self.tell_reporters(
                uow, t, texts.self_harm_reply(self.config.emergency.crisis_line), purpose=Purpose.RECEIPT
            )
            return
        if t.emergency and not t.private:
            return  # the group's safety advice, sent with the alert, carries the ticket number
        if t.private:
            self.tell_reporters(uow, t, texts.receipt_private(t.no, label, unit, deadline), purpose=Purpose.RECEIPT)
            return
        self.tell_reporters(
            uow, t, texts.receipt(t.no, label, unit, deadline, t.urgent, t.text), purpose=Purpose.RECEIPT
        )

    def on_ticket_pending(self, uow: UnitOfWork, e: ev.TicketPending, t: Ticket | None) -> None:
        assert t is not None
        text = texts.pending_prompt(t.no, self.group_title(uow, t), t.text)
        # A possible complaint about cadres is confirmed by the discipline unit, not the village's own staff.
        confirmers = (
            self.org.officials(uow, t.unit_code)
            if t.category == "conduct"
            else self.org.grid_workers(uow, t.region_code)
        )
        for p in confirmers or self.org.admins(uow):
            self.tell_person(uow, p, text, purpose=Purpose.CONFIRM_PROMPT, ticket=t, buttons=confirm_buttons(t.no))

    def on_ticket_dispatched(self, uow: UnitOfWork, e: ev.TicketDispatched, t: Ticket | None) -> None:
        assert t is not None
        label = self.config.category_label(t.category)
        note = e.note
        if t.emergency and note == "自动派单":
            return  # the emergency alert goes to this unit and everyone else who must act
        note = "" if note in ("自动派单", "确认后派单") else note
        text = texts.dispatch_notice(
            t.no, label, self.group_title(uow, t), t.deadline, t.urgent, t.text, note, self.reporter_contact(uow, t)
        )
        people = self.org.handlers(uow, t)
        for p in people:
            self.tell_person(
                uow, p, text, purpose=Purpose.DISPATCH, ticket=t, buttons=staff_buttons(t.no), urgent=t.urgent
            )

    def on_ticket_merged(self, uow: UnitOfWork, e: ev.TicketMerged, t: Ticket | None) -> None:
        assert t is not None and e.actor_id is not None
        self.tell_reporters(uow, t, texts.merged(t.no, e.households), purpose=Purpose.MERGED, only=e.actor_id)

    def on_ticket_detail(self, uow: UnitOfWork, e: ev.TicketDetail, t: Ticket | None) -> None:
        assert t is not None and e.actor_id is not None
        self.tell_reporters(uow, t, texts.detail_added(t.no), purpose=Purpose.DETAIL, only=e.actor_id)
        if t.status in WORKED and t.details:
            # the people working it hear of it, not only the database ("就在小卖部门口那一根")
            last = t.details[-1]
            note = texts.detail_note(t.no, str(last.get("by") or ""), str(last.get("text") or ""))
            for p in self.org.handlers(uow, t):
                self.tell_person(uow, p, note, purpose=Purpose.DETAIL_NOTE, ticket=t)

    def reporter_contact(self, uow: UnitOfWork, t: Ticket) -> str:
        """The first reporter's name and a way to reach them: the numbers they wrote, else their account."""
        person = uow.org.person(t.reporter_id) if t.reporter_id is not None else None
        if person is None:
            return ""
        acc = next((a for a in uow.org.accounts_of(person.id) if a.platform == t.platform), None)  # type: ignore[arg-type]
        handle = f"{PLATFORM_NAMES.get(t.platform, t.platform)} {acc.user_id}" if acc is not None else t.platform
        return texts.reporter_contact(person.name, phone_numbers(t.text or ""), handle)

    def on_ticket_accepted(self, uow: UnitOfWork, e: ev.TicketAccepted, t: Ticket | None) -> None:
        assert t is not None
        if t.emergency:
            return  # the group was told who is coming when they said 收到 (see announce_emergency)
        # the unit of who accepted: a township official accepting a village committee's ticket is the township
        accepter = uow.org.person(e.actor_id) if e.actor_id is not None else None
        unit = accepter.unit_code if accepter is not None and accepter.unit_code else t.unit_code
        self.tell_reporters(uow, t, texts.accepted(t.no, self.unit_name(uow, unit)), purpose=Purpose.ACCEPTED)

    def on_ticket_resolved(self, uow: UnitOfWork, e: ev.TicketResolved, t: Ticket | None) -> None:
        assert t is not None
        text = texts.resolved_ask(t.no, self.unit_name(uow, t.unit_code), t.resolution or "")
        self.tell_reporters(uow, t, text, purpose=Purpose.FOLLOWUP, buttons=rating_buttons(t.no))

    def on_ticket_returned(self, uow: UnitOfWork, e: ev.TicketReturned, t: Ticket | None) -> None:
        assert t is not None
        text = texts.returned_notice(t.no, self.unit_name(uow, t.unit_code), e.reason)
        people = ([] if t.category == "conduct" else self.org.grid_workers(uow, t.region_code)) + self.org.admins(uow)
        for p in people:
            self.tell_person(uow, p, text, purpose=Purpose.RETURNED, ticket=t)

    def on_ticket_escalated(self, uow: UnitOfWork, e: ev.TicketEscalated, t: Ticket | None) -> None:
        assert t is not None
        text = texts.escalated_notice(
            t.no,
            self.unit_name(uow, e.from_unit),
            self.unit_name(uow, e.to_unit),
            e.reason,
        )
        for p in self.org.officials(uow, e.from_unit):
            self.tell_person(uow, p, text, purpose=Purpose.ESCALATED, ticket=t)

    def on_ticket_dismissed(self, uow: UnitOfWork, e: ev.TicketDismissed, t: Ticket | None) -> None:
        assert t is not None
        if not e.was_pending:
            self.tell_reporters(uow, t, texts.dismissed_to_reporter(t.no), purpose=Purpose.DISMISSED)

    def on_group_unbound(self, uow: UnitOfWork, e: ev.GroupUnbound, t: Ticket | None) -> None:
        """A private report from someone whose village the bot does not know yet."""
        person = uow.org.person(e.actor_id) if e.actor_id else None
        if person is not None and e.private:
            self.tell_person(uow, person, texts.unknown_home(), purpose=Purpose.REPLY, fallback=False)

    def on_consultation(self, uow: UnitOfWork, e: ev.Consultation, t: Ticket | None) -> None:
        q = uow.consultations.get(e.consultation_id) if e.consultation_id else None
        asker = uow.org.person(e.actor_id) if e.actor_id else None
        if q is None:
            return
        g = uow.org.group(q.platform, q.chat_id)
        text = texts.consultation_prompt(g.title if g else "私信", asker.name if asker else "", q.text)
        for p in self.org.grid_workers(uow, q.region_code) or self.org.admins(uow):
            acc = pick_account(uow, p, q.platform)
            if acc is None:
                continue
            enqueue(
                uow,
                Outbound(
                    platform=acc.platform,
                    chat_id=acc.user_id,
                    chat_type=ChatType.PRIVATE,
                    text=text,
                    fallback_chat_id=q.chat_id if g else None,
                    recipient_name=acc.display_name or p.name,
                ),
                purpose=Purpose.CONSULTATION,
                person_id=p.id,
            )

    def on_non_text(self, uow: UnitOfWork, e: ev.NonText, t: Ticket | None) -> None:
        g = uow.org.group(e.platform, e.chat_id)
        if g is None or not g.region_code:
            return
        text = texts.non_text_notice(g.title, e.sender, e.message_kind)
        for p in self.org.grid_workers(uow, g.region_code):
            acc = pick_account(uow, p, g.platform)
            if acc is not None:
                _to_account(uow, acc, p, text, Purpose.NON_TEXT)

    def on_group_needs_binding(self, uow: UnitOfWork, e: ev.GroupNeedsBinding, t: Ticket | None) -> None:
        text = texts.bind_request(e.title or e.chat_id, e.platform)
        for p in self.org.admins(uow):
            self.tell_person(uow, p, text, purpose=Purpose.ADMIN_ALERT, fallback=False)

    def on_delivery_fallback(self, uow: UnitOfWork, e: ev.DeliveryFallback, t: Ticket | None) -> None:
        text = texts.fallback_admin(e.name, e.platform, e.posted_in)
        for p in self.org.admins(uow):
            acc = pick_account(uow, p, e.platform)
            if acc is None or (acc.platform == e.platform and acc.user_id == e.user_id):
                continue
            _to_account(uow, acc, p, text, Purpose.ADMIN_ALERT)

    def on_platform_down(self, uow: UnitOfWork, e: ev.PlatformDown, t: Ticket | None) -> None:
        down = e.platform
        text = texts.platform_down(down, e.detail)
        for p in self.org.admins(uow):
            for acc in uow.org.accounts_of(p.id):  # type: ignore[arg-type]
                if acc.platform != down and acc.platform in e.live_platforms:
                    _to_account(uow, acc, p, text, Purpose.ADMIN_ALERT)
                    break


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)
