"""What goes over Telegram's wire: the Bot API's limits, an `Outbound` rendered as Bot API arguments (HTML text,
inline keyboard), and Telegram's errors as the core's `DeliveryError`."""

from __future__ import annotations

import html
import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.messages import (
    DeliveryError,
    Outbound,
)

log = logging.getLogger(__name__)

PLATFORM = "telegram"

# What we ask Telegram for. `my_chat_member` (bot added / removed) is not sent unless requested
# explicitly once `allowed_updates` is given.
ALLOWED_UPDATES: tuple[str, ...] = ("message", "edited_message", "callback_query", "my_chat_member")

# Bot API limits.
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64  # bytes
MAX_CALLBACK_ANSWER = 200


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _retry_after(exc: RetryAfter) -> float:
    # PTB 22 warns that the int will become a timedelta; accept both without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _seconds(exc.retry_after)


def _chat_ref(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id  # "@channelname"


def delivery_error(exc: TelegramError, out: Outbound | None = None) -> DeliveryError:
    """What a Telegram error means for the delivery loop."""
    detail = exc.message
    if isinstance(exc, RetryAfter):
        return DeliveryError(f"telegram 429: {detail}", retry_after=_retry_after(exc))
    if isinstance(exc, ChatMigrated):
        return DeliveryError(f"telegram: chat migrated to {exc.new_chat_id}", migrated_to=str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        # "bot can't initiate conversation with a user", "bot was blocked by the user",
        # "bot was kicked from the group chat"…
        return DeliveryError(f"telegram 403: {detail}", permanent=True, recipient_unreachable=True)
    if isinstance(exc, BadRequest):
        lowered = detail.lower()
        if isinstance(exc, BadRequest) and out is not None and out.callback_id:
            return DeliveryError(f"telegram 400: {detail}", permanent=True)
        unreachable = "chat not found" in lowered or "user not found" in lowered
        return DeliveryError(f"telegram 400: {detail}", permanent=True, recipient_unreachable=unreachable)
    if isinstance(exc, InvalidToken):
        return DeliveryError(f"telegram: token refused: {detail}")
    if isinstance(exc, (TimedOut, NetworkError)):
        return DeliveryError(f"telegram network: {detail}")
    return DeliveryError(f"telegram: {detail}")


def render(out: Outbound) -> tuple[str, str | None]:
    """The text to send and its parse mode.

    With mentions the message goes as HTML: the whole text is escaped and each "@name" of a mentioned
    person becomes a text mention (`tg://user?id=`), which notifies them even without a username;
    a person not named in the text is mentioned at the start. Buttons whose command does not fit
    Telegram's 64-byte callback data are listed as text so nothing is lost.
    """
    text = out.text
    extra = [f"{b.label}: {b.command}" for row in out.buttons for b in row if not _fits(b.command)]
    if extra:
        text = text + "\n" + "\n".join(extra)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if not out.mentions:
        return text, None
    body = html.escape(text, quote=False)
    leading: list[str] = []
    for user_id, name in out.mentions:
        label = html.escape("@" + name, quote=False)
        if user_id.lstrip("-").isdigit():
            link = f'<a href="tg://user?id={user_id}">{label}</a>'
        else:
            link = label
        if name and label in body:
            body = body.replace(label, link, 1)
        else:
            leading.append(link)
    if leading:
        body = " ".join(leading) + " " + body
    return body, "HTML"


def _fits(command: str) -> bool:
    return 0 < len(command.encode("utf-8")) <= MAX_CALLBACK_DATA


def keyboard(out: Outbound) -> InlineKeyboardMarkup | None:
    rows = []
    for row in out.buttons:
        buttons = [InlineKeyboardButton(b.label, callback_data=b.command) for b in row if _fits(b.command)]
        if buttons:
            rows.append(buttons)
    if not rows:
        return None
    return InlineKeyboardMarkup(rows)
