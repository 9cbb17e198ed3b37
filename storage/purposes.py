"""What an outbound message is for (``OutboxMessage.purpose``): written by the chat side when it queues a message,
read by the services (which receipt a reply quotes, which alerts an emergency sent) and by delivery (what may be
posted in a fallback). One list, so the two sides cannot drift. Three kinds are written with a suffix:
``reminder:<kind>``, ``fallback:<purpose>`` and ``<command>_prompt``.
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    ACCEPTED = "accepted"
    ADMIN_ALERT = "admin_alert"
    BIND_PROMPT = "bind_prompt"
    CALLBACK_ANSWER = "callback_answer"
    CONFIRM_PROMPT = "confirm_prompt"
    CONSULTATION = "consultation"
    DETAIL = "detail"
    DETAIL_NOTE = "detail_note"
    DIGEST = "digest"
    DISMISSED = "dismissed"
    DISPATCH = "dispatch"
    EMERGENCY_ACK = "emergency_ack"
    EMERGENCY_ADVICE = "emergency_advice"
    EMERGENCY_ALERT = "emergency_alert"
    EMERGENCY_CLOSED = "emergency_closed"
    EMERGENCY_FOLLOW_UP = "emergency_follow_up"
    EMERGENCY_ON_SITE = "emergency_on_site"
    ESCALATED = "escalated"
    FOLLOWUP = "followup"
    FOLLOWUP_CLOSED = "followup_closed"
    MERGED = "merged"
    NON_TEXT = "non_text"
    NOTICE = "notice"
    RECEIPT = "receipt"
    REPLY = "reply"
    RESOLVE_PROMPT = "resolve_prompt"
    RETURN_PROMPT = "return_prompt"
    RETURNED = "returned"
    WEEKLY_DIGEST = "weekly_digest"


#: a reply quoting one of these is about the ticket it was sent for
TICKET_RECEIPTS = (Purpose.RECEIPT, Purpose.MERGED, Purpose.DETAIL)
