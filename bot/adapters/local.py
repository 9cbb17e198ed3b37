"""The local chat: the embedded default platform, in the terminal or driven by tests and replay.

Everyone is addressed by display name (the org file's `local` accounts); groups by their chat id
(e.g. 和平村群). Tests read the transcript: who said what, and what the bot answered where.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.base import Adapter, OnEvent, OnMessage, PaceLimits
from bot.messages import ChatType, Inbound, Outbound, SendResult
from core.clock import Clock


@dataclass(frozen=True)
class Line:
    """One line of the transcript."""

    chat: str  # group chat id, or "私聊:<name>"
    speaker: str  # a person's name, or "bot"
    text: str
    message_id: str
    at: datetime
    reply_to: str | None = None
    buttons: tuple[str, ...] = ()
    callback: bool = False

    def __str__(self) -> str:
        return f"[{self.chat}] {self.speaker}: {self.text}"


class LocalAdapter(Adapter):
    platform = "local"
    limits = PaceLimits()

    def __init__(self, clock: Clock, *, echo: Callable[[Line], None] | None = None) -> None:
        self.clock = clock
        self.echo = echo
        self.transcript: list[Line] = []
        self._on_message: OnMessage | None = None
        self._on_event: OnEvent | None = None
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:8]  # message ids stay unique across restarts

    async def start(self, on_message: OnMessage, on_event: OnEvent | None = None, on_batch: object = None) -> None:
        self._on_message, self._on_event = on_message, on_event

    async def stop(self) -> None:
        self._on_message = None

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._run}-{next(self._ids)}"

    async def say(
        self,
        sender: str,
        text: str | None,
        *,
        group: str | None = None,
        kind: str = "text",
        reply_to: str | None = None,
        message_id: str | None = None,
        sent_at: datetime | None = None,
        attachment: str | None = None,
        edited: bool = False,
        callback: bool = False,
    ) -> str:
        """A person speaks in a group (or privately to the bot when group is None); returns the message id."""
        if self._on_message is None:
            raise RuntimeError("local chat is not started")
        mid = message_id or self._next_id("m")
        chat = group or sender
        msg = Inbound(
            platform=self.platform,
            chat_id=chat,
            chat_type=ChatType.GROUP if group else ChatType.PRIVATE,
            sender_id=sender,
            sender_name=sender,
            message_id=mid,
            sent_at=sent_at or self.clock.now(),
            text=text,
            kind="callback" if callback else kind,
            reply_to=reply_to,
            attachment=attachment,
            edited=edited,
            callback_id=self._next_id("cb") if callback else None,
            chat_title=group,
        )
        self._log(
            Line(
                group or f"私聊:{sender}", sender, text if text is not None else f"[{kind}]", mid, msg.sent_at, reply_to
            )
        )
        await self._on_message(msg)
        return mid

    async def send(self, out: Outbound) -> SendResult:
        mid = self._next_id("b")
        chat = out.chat_id if out.chat_type == ChatType.GROUP else f"私聊:{out.chat_id}"
        mentions = " ".join(f"@{name}" for _, name in out.mentions)
        text = f"{mentions} {out.text}" if mentions else out.text
        buttons = tuple(b.label for row in out.buttons for b in row)
        self._log(Line(chat, "bot", text, mid, self.clock.now(), out.reply_to, buttons, out.callback_id is not None))
        return SendResult(message_id=mid)

    def _log(self, line: Line) -> None:
        self.transcript.append(line)
        if self.echo is not None:
            self.echo(line)

    # --- reading the transcript (tests, replay) -------------------------------------------------

    def bot_lines(self, chat: str | None = None) -> list[Line]:
        return [l for l in self.transcript if l.speaker == "bot" and (chat is None or l.chat == chat)]

    def last_bot_line(self, chat: str | None = None) -> Line | None:
        lines = self.bot_lines(chat)
        return lines[-1] if lines else None
