"""Who is told what in an emergency: alert events → outbox messages, all of them urgent.

An extension of the bot's `Announcer` (registered by `bot.app`). Every message here is `urgent`: the delivery
loop sends it before anything already queued and without the pacing waits that are only our own caution.
The group gets the safety advice at once and is told when someone has acknowledged; nothing of a self-harm
alert is ever posted to the group.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.chat import texts
from bot.chat.announce import Announcer
from bot.chat.outbox import enqueue
from bot.messages import Button, Outbound
from services import events as ev
from services.emergencies import places
from services.uow import UnitOfWork
from storage.models import EmergencyAlert, Person, Ticket
from storage.purposes import Purpose

log = logging.getLogger(__name__)


def alert_buttons(no: str) -> tuple[tuple[Button, ...], ...]:
    return ((Button("收到", f"/ack {no}"), Button("到场", f"/onsite {no}")), (Button("办结", f"/resolve {no}"),))


class EmergencyAnnouncer:
    def __init__(self, parent: Announcer) -> None:
        self.parent = parent

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.parent.config

    def _alert(
        self,
        uow: UnitOfWork,
        e: ev.EmergencyAlert | ev.EmergencyAck | ev.EmergencyOnSite | ev.EmergencyFollowUp | ev.EmergencyClosed,
    ) -> EmergencyAlert | None:
        return uow.session.get(EmergencyAlert, e.alert_id) if e.alert_id else None

    def _people(self, uow: UnitOfWork, ids: Sequence[int | None] | None) -> list[Person]:
        return [p for p in (uow.org.person(i) for i in ids or () if i is not None) if p is not None]

    def _to_group(self, uow: UnitOfWork, t: Ticket, text: str, purpose: str) -> None:
        if t.private:
            return
        enqueue(
            uow,
            Outbound(platform=t.platform, chat_id=t.chat_id, text=text, reply_to=t.source_message_id, urgent=True),
            purpose=purpose,
            ticket_id=t.id,
        )

    def _tell(
        self,
        uow: UnitOfWork,
        people: list[Person],
        t: Ticket,
        text: str,
        purpose: str,
        *,
        buttons: tuple = (),
        skip: int | None = None,
        fallback: bool = False,
    ) -> None:
        """Privately. Only the alert itself falls back to an @-mention in the group for someone the bot cannot
        write to (someone must come); news of who acknowledged is not worth a post in the group."""
        for p in people:
            if p.id != skip:
                self.parent.tell_person(
                    uow, p, text, purpose=purpose, ticket=t, buttons=buttons, urgent=True, fallback=fallback
                )

    def _responder(self, uow: UnitOfWork, p: Person) -> str:
        unit = uow.org.unit(p.unit_code) if p.unit_code else None
        return texts.emergency_responder(p.role, p.name if p.public_name else None, unit.name if unit else None)

    # --- events --------------------------------------------------------------------------------

    def on_emergency_alert(self, uow: UnitOfWork, e: ev.EmergencyAlert, t: Ticket | None) -> None:
        alert = self._alert(uow, e)
        if t is None or alert is None:
            return
        first = e.round == 0
        if first:
            self._to_group(
                uow, t, texts.emergency_advice(alert.kind, t.no, self.config.emergency), Purpose.EMERGENCY_ADVICE
            )
        reporter = uow.org.person(t.reporter_id)
        acc = next((a for a in uow.org.accounts_of(t.reporter_id) if a.platform == t.platform), None)
        account = f"{t.platform} {acc.display_name or acc.user_id}" if acc else t.platform
        text = texts.emergency_alert(
            alert.kind,
            t.no,
            self.parent.group_title(uow, t),
            reporter.name if reporter else "",
            account,
            alert.reported_at,
            places(t.text),
            t.text,
            e.round,
            e.minutes,
        )
        self._tell(
            uow,
            self._people(uow, e.people),
            t,
            text,
            Purpose.EMERGENCY_ALERT,
            buttons=alert_buttons(t.no),
            fallback=True,
        )

    def on_emergency_ack(self, uow: UnitOfWork, e: ev.EmergencyAck, t: Ticket | None) -> None:
        self._someone_acts(
            uow,
            e,
            t,
            Purpose.EMERGENCY_ACK,
            texts.emergency_ack_group,
            texts.emergency_ack_circle,
            lambda a: a.acknowledged_at,
        )

    def on_emergency_on_site(self, uow: UnitOfWork, e: ev.EmergencyOnSite, t: Ticket | None) -> None:
        self._someone_acts(
            uow,
            e,
            t,
            Purpose.EMERGENCY_ON_SITE,
            texts.emergency_on_site_group,
            texts.emergency_on_site_circle,
            lambda a: a.on_site_at,
        )

    def _someone_acts(
        self,
        uow: UnitOfWork,
        e: ev.EmergencyAck | ev.EmergencyOnSite,
        t: Ticket | None,
        purpose: str,
        to_group,
        to_circle,  # type: ignore[no-untyped-def]
        at,
    ) -> None:
        """The group is told who is coming (or has come); the others alerted, who it was and when."""
        alert = self._alert(uow, e)
        who = uow.org.person(e.actor_id) if e.actor_id else None
        if t is None or alert is None or who is None:
            return
        self._to_group(uow, t, to_group(self._responder(uow, who)), purpose)
        self._tell(uow, self._people(uow, alert.alerted), t, to_circle(t.no, who.name, at(alert)), purpose, skip=who.id)

    def on_emergency_follow_up(self, uow: UnitOfWork, e: ev.EmergencyFollowUp, t: Ticket | None) -> None:
        """To whoever acknowledged; to everyone alerted while nobody has."""
        alert = self._alert(uow, e)
        sender = uow.org.person(e.actor_id) if e.actor_id else None
        if t is None or alert is None:
            return
        ids = [alert.on_site_by or alert.acknowledged_by] if alert.acknowledged_by else alert.alerted
        text = texts.emergency_follow_up(t.no, sender.name if sender else "", uow.now, e.text)
        self._tell(uow, self._people(uow, ids), t, text, Purpose.EMERGENCY_FOLLOW_UP, skip=e.actor_id)

    def on_emergency_closed(self, uow: UnitOfWork, e: ev.EmergencyClosed, t: Ticket | None) -> None:
        alert = self._alert(uow, e)
        if t is None or alert is None:
            return
        self._tell(
            uow,
            self._people(uow, alert.alerted),
            t,
            texts.emergency_closed(t.no, e.reason),
            Purpose.EMERGENCY_CLOSED,
            skip=e.actor_id,
        )
