"""Domain events emitted by services inside a unit of work.

Services decide *what happened*; the bot's announcer (injected at wiring) decides *who is told
what*, and writes those messages to the outbox in the same transaction — so a state change and
the messages about it commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Event kinds
TICKET_OPENED = "ticket_opened"  # registered from a message (receipt to the group)
TICKET_PENDING = "ticket_pending"  # uncertain: grid worker asked to confirm
TICKET_DISPATCHED = "ticket_dispatched"  # to a unit (officials told, with buttons)
TICKET_MERGED = "ticket_merged"  # another reporter joined (我家也是)
TICKET_DETAIL = "ticket_detail"  # more detail added by a reporter
TICKET_ACCEPTED = "ticket_accepted"
TICKET_RESOLVED = "ticket_resolved"  # reporters asked to rate
TICKET_RETURNED = "ticket_returned"
TICKET_RECATEGORISED = "ticket_recategorised"
TICKET_DISMISSED = "ticket_dismissed"
TICKET_RATED = "ticket_rated"
TICKET_REOPENED = "ticket_reopened"
TICKET_CLOSED = "ticket_closed"
TICKET_ESCALATED = "ticket_escalated"
TICKET_TEXT_EDITED = "ticket_text_edited"
CONSULTATION = "consultation"
NON_TEXT = "non_text"  # a voice/image/file reached a group: shown to the grid worker
VOICE_HINT = "voice_hint"  # ask the sender to type it (once per sender per day)
GROUP_UNBOUND = "group_unbound"  # a message in a group not bound to a region
DELIVERY_FALLBACK = "delivery_fallback"  # a private message could not be delivered
PLATFORM_DOWN = "platform_down"


@dataclass
class Event:
    kind: str
    ticket_id: int | None = None
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


# --- schedules (issue 6): reminders, escalation to admins, digests, policy notices ---
REMINDER_DUE = "reminder_due"  # data: kind, due_at, late, held, tier, admins (tell the county admins too)
DAILY_DIGEST = "daily_digest"  # data: person_id, date, open, due_today, overdue (lists of ticket summaries)
WEEKLY_DIGEST = "weekly_digest"  # data: the week's figures (services.reports.Figures.as_dict())
NOTICE_DUE = "notice_due"  # data: notice_id (delivery rows exist; the announcer posts one message per group)

# --- emergencies (issue 22) ---
EMERGENCY_ALERT = "emergency_alert"  # data: alert_id, round (0 first), people (ids to alert now), minutes
EMERGENCY_ACK = "emergency_ack"  # actor said 收到
EMERGENCY_ON_SITE = "emergency_on_site"  # actor said 到场
EMERGENCY_FOLLOW_UP = "emergency_follow_up"  # data: alert_id, text (a group message about it, from actor)
EMERGENCY_CLOSED = "emergency_closed"  # data: alert_id, reason
