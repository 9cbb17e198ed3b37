"""The one internal message type in each direction.

Every platform adapter turns its events into `Inbound` and sends `Outbound`; nothing past the
adapter knows which chat SDK a message came from, only the `platform` name used in ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Kinds of inbound content. Only TEXT (and CALLBACK, a button press carrying a command) is ever
# classified; every other kind is stored and acknowledged as non-text.
TEXT = "text"
CALLBACK = "callback"
NON_TEXT_KINDS = (
    "image",
    "voice",
    "video",
    "file",
    "sticker",
    "link",
    "miniprogram",
    "redpacket",
    "location",
    "contact",
    "system",
    "unknown",
)


class ChatType(StrEnum):
    GROUP = "group"
    PRIVATE = "private"


@dataclass(frozen=True)
class Inbound:
    """A message as the bot received it, platform-neutral.

    `chat_id` is the group id for group messages and the sender's own id for private chats.
    `message_id` is the platform's id, unique within (platform, chat_id): the inbox is unique on
    the triple, which makes processing idempotent when a platform redelivers.
    """

    platform: str
    chat_id: str
    chat_type: ChatType
    sender_id: str
    sender_name: str
    message_id: str
    sent_at: datetime
    text: str | None = None
    kind: str = TEXT
    reply_to: str | None = None  # platform message id this one replies to / quotes
    mentions: tuple[str, ...] = ()  # platform user ids @-mentioned
    attachment: str | None = None  # platform file id of a photo/voice/file kept as evidence
    edited: bool = False  # an edit of an earlier message with the same message_id
    callback_id: str | None = None  # a button press to be answered (Telegram)
    chat_title: str | None = None

    @property
    def is_group(self) -> bool:
        return self.chat_type == ChatType.GROUP

    @property
    def is_text(self) -> bool:
        return self.kind in (TEXT, CALLBACK)


@dataclass(frozen=True)
class Button:
    """An inline button; `command` is the text command it stands for (e.g. "/accept SG20261125-0001")."""

    label: str
    command: str


@dataclass(frozen=True)
class Outbound:
    """A message the bot wants delivered. Recorded in the outbox before any attempt to send it."""

    platform: str
    chat_id: str
    text: str
    chat_type: ChatType = ChatType.GROUP
    reply_to: str | None = None  # platform message id to reply to / quote
    mentions: tuple[tuple[str, str], ...] = ()  # (platform user id, display name) to @-mention
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of inline buttons, where the platform has them
    fallback_chat_id: str | None = None  # group to @-mention the recipient in if a private send fails
    recipient_name: str | None = None  # display name of a private recipient (for the fallback mention)
    # answer this button press with `text` instead of posting; with `reply_to` (the message the buttons are on),
    # the press was used: that message's buttons become `buttons` (none: removed), so a used button is not pressed
    # again
    callback_id: str | None = None
    force_reply: bool = False  # ask the platform to prompt a reply (Telegram ForceReply)
    urgent: bool = False  # paced ahead of routine messages


@dataclass(frozen=True)
class SendResult:
    """What a platform said about a delivered message."""

    message_id: str | None = None


class DeliveryError(Exception):
    """A send that failed. `permanent` errors are not retried as they are (e.g. 403 blocked / not a friend)."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        recipient_unreachable: bool = False,
        migrated_to: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.recipient_unreachable = recipient_unreachable
        self.migrated_to = migrated_to


@dataclass
class AdapterStatus:
    platform: str
    connected: bool
    detail: str = ""
    since: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
