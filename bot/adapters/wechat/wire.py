"""What goes over WeChat's wire: pacing limits, message kinds, quotes, @-mentions, timestamps and the errors
wechaty reports, read as ours (no wechaty import here)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from bot.adapters.base import PaceLimits
from bot.messages import (
    TEXT,
)
from core.clock import SHANGHAI

log = logging.getLogger("shanzhi.wechat")

PLATFORM = "wechat"

# Conservative defaults: WeChat restricts accounts that talk in bursts.
DEFAULT_LIMITS = PaceLimits(
    global_per_second=0.5,
    per_chat_interval=3.0,
    per_group_per_minute=10,
    per_hour=300,
    jitter=2.0,
)

AT_SEPARATOR = "\u2005"  # what WeChat (and wechaty's Room.say) put after an @name

# 「name：quoted」 / a line of "- - - -" / the reply. The quoted text may itself contain 」 or newlines.
_QUOTE_RE = re.compile(
    r"^\s*「(?P<name>[^「」：:\n]{0,64})[：:]\s?(?P<quoted>.*)」\s*\n\s*(?:-\s*){4,}\n(?P<reply>.*)$",
    re.S,
)

# wechaty-grpc MessageType names → bot.messages kinds
_KIND_BY_TYPE = {
    "MESSAGE_TYPE_TEXT": TEXT,
    "MESSAGE_TYPE_IMAGE": "image",
    "MESSAGE_TYPE_AUDIO": "voice",
    "MESSAGE_TYPE_VIDEO": "video",
    "MESSAGE_TYPE_ATTACHMENT": "file",
    "MESSAGE_TYPE_EMOTICON": "sticker",
    "MESSAGE_TYPE_URL": "link",
    "MESSAGE_TYPE_MINI_PROGRAM": "miniprogram",
    "MESSAGE_TYPE_TRANSFER": "redpacket",
    "MESSAGE_TYPE_RED_ENVELOPE": "redpacket",
    "MESSAGE_TYPE_RECALLED": "system",
    "MESSAGE_TYPE_CONTACT": "contact",
    "MESSAGE_TYPE_LOCATION": "location",
    "MESSAGE_TYPE_CHAT_HISTORY": "file",  # a forwarded chat record: a bundle, like a file
    # 1.x GroupNote and WeChat system notices (入群/拍一拍/撤回提示) arrive untyped
    "MESSAGE_TYPE_UNSPECIFIED": "system",
}
MEDIA_KINDS = {"image", "voice", "video", "file", "sticker"}

AUTH_MARKERS = ("unauthenticated", "invalid wechaty token", "permission_denied", "permission denied")
UNREACHABLE_MARKERS = ("not a friend", "not friend", "非好友", "not exist", "not found", "no such", "unknown contact")


class WeChatFatalError(RuntimeError):
    """The adapter cannot connect and will not retry (e.g. the gateway keeps refusing the token).

    Raised by `start()` when it happens before `start()` returns; later it is reported as
    `on_event("connection", {"connected": False, "fatal": True, ...})` and by `wait_fatal()`.
    The app must end the process with `exit_code` (non-zero).
    """

    exit_code = 3

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WeChatConfigError(ValueError):
    """The adapter was configured in a way that cannot work (says which setting)."""


# ---------------------------------------------------------------------------------------------
# Importing wechaty, with its workarounds
# ---------------------------------------------------------------------------------------------


def parse_quote(text: str) -> tuple[str, str, str] | None:
    """Split a WeChat quote-reply into (quoted name, quoted text, reply), or None if it is not one."""
    m = _QUOTE_RE.match(text or "")
    if not m:
        return None
    return m.group("name").strip(), m.group("quoted").strip(), m.group("reply").strip()


def norm(text: str) -> str:
    text = (text or "").replace(AT_SEPARATOR, " ").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def kind_of(message_type: Any, message_type_enum: Any) -> str:
    name = getattr(message_type, "name", None)
    if name is None:
        try:
            name = message_type_enum(int(message_type)).name
        except (TypeError, ValueError):
            return "unknown"
    return _KIND_BY_TYPE.get(name, "unknown")


def to_datetime(timestamp: Any, fallback: datetime) -> datetime:
    try:
        ts = float(timestamp or 0)
    except (TypeError, ValueError):
        return fallback
    if ts <= 0:
        return fallback
    if ts > 1e11:  # milliseconds
        ts = ts / 1000.0
    try:
        return datetime.fromtimestamp(ts, tz=SHANGHAI)
    except (OverflowError, OSError, ValueError):
        return fallback


def error_text(exc: BaseException) -> str:
    parts = [type(exc).__name__, str(exc)]
    status = getattr(exc, "status", None)
    if status is not None:
        parts.append(str(getattr(status, "name", status)))
    message = getattr(exc, "message", None)
    if message:
        parts.append(str(message))
    return " ".join(parts).lower()
