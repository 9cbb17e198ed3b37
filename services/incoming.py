"""What the services are handed and what they hand back: a message as said, and what became of it.

The inbox row is the router's (it stores the message before anything else and records the outcome on it); the
services read the message as a value and return the outcome, so what they decide cannot depend on, or change, how
it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.ids import id_of
from storage.models import InboxMessage


@dataclass(frozen=True)
class Said:
    """One message as the services read it: who said what where, in reply to what."""

    inbox_id: int
    platform: str
    chat_id: str
    chat_type: str
    message_id: str
    sender_id: str
    sender_name: str
    text: str
    reply_to: str | None = None
    attachment: str | None = None
    sent_at: datetime | None = None

    @classmethod
    def of(cls, row: InboxMessage) -> Said:
        return cls(
            inbox_id=id_of(row),
            platform=row.platform,
            chat_id=row.chat_id,
            chat_type=row.chat_type,
            message_id=row.message_id,
            sender_id=row.sender_id,
            sender_name=row.sender_name,
            text=(row.text or "").strip(),
            reply_to=row.reply_to,
            attachment=row.attachment,
            sent_at=row.sent_at,
        )


@dataclass(frozen=True)
class Outcome:
    """What became of a message (``result``: ticket, merged, detail, consultation, ignored, …; recorded on its inbox
    row and counted by ``shanzhi replay``) and the ticket it now belongs to, if any."""

    result: str
    ticket_id: int | None = None
