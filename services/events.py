"""Domain events emitted by services inside a unit of work: one small frozen dataclass per kind of event.

Services decide *what happened*; the bot's announcer (injected at wiring) decides *who is told what*, and writes
those messages to the outbox in the same transaction — so a state change and the messages about it commit
together or not at all. An announcer handles an event in its method ``on_<kind>`` (``kind`` is the class's name
in snake case, e.g. ``on_ticket_dispatched`` for ``TicketDispatched``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    ticket_id: int | None = None
    actor_id: int | None = None
    kind: ClassVar[str] = "event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


# --- tickets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketOpened(Event):
    """Registered from a message (receipt to the group), or confirmed by the grid worker."""

    confirmed_by: str | None = None


@dataclass(frozen=True)
class TicketPending(Event):
    """Uncertain: the grid worker is asked to confirm."""


@dataclass(frozen=True)
class TicketDispatched(Event):
    """To a unit (its officials told, with buttons)."""

    unit: str | None = None
    note: str = ""


@dataclass(frozen=True)
class TicketMerged(Event):
    """Another household joined (我家也是)."""

    households: int = 1


@dataclass(frozen=True)
class TicketDetail(Event):
    """More detail added by a reporter."""


@dataclass(frozen=True)
class TicketAccepted(Event):
    pass


@dataclass(frozen=True)
class TicketResolved(Event):
    """Reporters are asked to rate."""


@dataclass(frozen=True)
class TicketReturned(Event):
    reason: str = ""
    unit: str | None = None


@dataclass(frozen=True)
class TicketRecategorised(Event):
    before: str = ""
    after: str = ""


@dataclass(frozen=True)
class TicketDismissed(Event):
    was_pending: bool = False


@dataclass(frozen=True)
class TicketRated(Event):
    rating: str = ""


@dataclass(frozen=True)
class TicketReopened(Event):
    pass


@dataclass(frozen=True)
class TicketClosed(Event):
    satisfaction: str | None = None


@dataclass(frozen=True)
class TicketEscalated(Event):
    from_unit: str | None = None
    to_unit: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class TicketTextEdited(Event):
    pass


# --- messages that are no ticket ---------------------------------------------------------------------


@dataclass(frozen=True)
class Consultation(Event):
    consultation_id: int | None = None
    region: str | None = None


@dataclass(frozen=True)
class NonText(Event):
    """A voice, image or file reached a group: shown to the grid worker."""

    platform: str = ""
    chat_id: str = ""
    sender: str = ""
    message_kind: str = ""


@dataclass(frozen=True)
class GroupUnbound(Event):
    """A message in a group not bound to a region (or a private one from someone unknown)."""

    private: bool = False


@dataclass(frozen=True)
class GroupNeedsBinding(Event):
    """Residents speak in a group no region is bound to: the admins are asked to bind it (once a group)."""

    platform: str = ""
    chat_id: str = ""
    title: str = ""


@dataclass(frozen=True)
class DeliveryFallback(Event):
    """A private message could not be delivered: the admins are told."""

    name: str = ""
    platform: str = ""
    user_id: str = ""
    posted_in: str = ""  # the group the message was posted in instead, with a mention ("" if none)


@dataclass(frozen=True)
class PlatformDown(Event):
    platform: str = ""
    detail: str = ""
    live_platforms: tuple[str, ...] = ()


# --- schedules: reminders, escalation to admins, digests, policy notices --------------------------------


@dataclass(frozen=True)
class ReminderDue(Event):
    reminder_kind: str = ""
    due_at: datetime | None = None
    late: bool = False
    held: bool = False
    reminder_id: int | None = None
    tier: str | None = None
    admins: bool = False  # tell the county admins too
    reason: str = ""


@dataclass(frozen=True)
class DailyDigest(Event):
    person_id: int = 0
    day: date | None = None
    open: list[Any] = field(default_factory=list)
    due_today: list[Any] = field(default_factory=list)
    overdue: list[Any] = field(default_factory=list)
    late: bool = False


@dataclass(frozen=True)
class WeeklyDigest(Event):
    figures: dict[str, Any] = field(default_factory=dict)  # services.reports.Figures.as_dict()
    late: bool = False


@dataclass(frozen=True)
class NoticeDue(Event):
    """Delivery rows exist; the announcer posts one message per group."""

    notice_id: int | None = None


# --- emergencies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmergencyAlert(Event):
    alert_id: int | None = None
    round: int = 0  # 0: the first
    people: tuple[int, ...] = ()  # ids of the people to alert now
    minutes: int = 0  # since the alert began, for a re-alert


@dataclass(frozen=True)
class EmergencyAck(Event):
    """Someone alerted said 收到."""

    alert_id: int | None = None


@dataclass(frozen=True)
class EmergencyOnSite(Event):
    """Someone alerted said 到场."""

    alert_id: int | None = None


@dataclass(frozen=True)
class EmergencyFollowUp(Event):
    """A group message about the emergency."""

    alert_id: int | None = None
    text: str = ""


@dataclass(frozen=True)
class EmergencyClosed(Event):
    alert_id: int | None = None
    reason: str = ""
