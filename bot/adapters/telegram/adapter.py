"""Telegram through python-telegram-bot 22 — this package is the only place of the project that imports `telegram`.

The adapter only translates: Telegram updates → `Inbound` (or platform events), `Outbound` → Bot API
calls, Telegram errors → `DeliveryError`. Storage, classification, pacing and retries belong to the core.

Store first, confirm after
--------------------------
python-telegram-bot's `Updater` confirms an update (by asking for the next offset) whether or not its
handlers finished, so an update in flight at a crash would be lost. We therefore run our own loop over
`Bot.get_updates`: the messages of one answer are handed to `on_batch` (stored durably in one
transaction before it returns; an update carrying a platform event such as a migration is handled on
its own, in its place) or one by one to `on_message`, and the offset moves past them only afterwards.
If storing raises (database down…), the offset stays and the same updates are fetched again after a
back-off; the core's inbox is idempotent on (platform, chat_id, message_id), so a redelivery never
makes a second ticket.

Webhook mode (``mode="webhook"``) serves Telegram's calls through `webhook` (an ASGI app under uvicorn): 200
only after `on_message` returned, 500 otherwise, so Telegram redelivers it — the same at-least-once
guarantee as polling. Telegram delivers one update at a time per connection; `max_connections=1` keeps
them in order.

The adapter never retries a send and never uses PTB's rate limiter: the core's delivery loop paces with
`limits` and decides on retries from the `DeliveryError` it gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    ChatMember,
    ChatMemberUpdated,
    ForceReply,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.error import (
    InvalidToken,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.adapters.base import Adapter, OnBatch, OnEvent, OnMessage, PaceLimits
from bot.adapters.telegram.webhook import WebhookServer, webhook_app
from bot.adapters.telegram.wire import (
    ALLOWED_UPDATES,
    MAX_CALLBACK_ANSWER,
    PLATFORM,
    _chat_ref,
    delivery_error,
    keyboard,
    render,
)
from bot.messages import (
    CALLBACK,
    TEXT,
    AdapterStatus,
    ChatType,
    Inbound,
    Outbound,
    SendResult,
)
from core.clock import SHANGHAI, Clock, SystemClock

log = logging.getLogger(__name__)

_IN_CHAT = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
_OUT_OF_CHAT = (ChatMember.LEFT, ChatMember.BANNED)


def _is_member(member: ChatMember) -> bool:
    if member.status in _IN_CHAT:
        return True
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return False


class TelegramAdapter(Adapter):
    """One bot account on Telegram.

    Parameters beyond the token are for tests and deployment: `base_url`/`base_file_url` point the
    real library at another Bot API server (a local one in the tests, or a self-hosted
    telegram-bot-api); `poll_timeout` is the long-poll hold in seconds; `request_timeout` the read
    timeout of each request; `backoff` the (first, maximum) pause in seconds after a failed poll or a
    failed hand-over to the core.
    """

    platform = PLATFORM
    limits = PaceLimits(global_per_second=30, per_chat_interval=1.0, per_group_per_minute=20, hard=True)

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        base_file_url: str | None = None,
        mode: str = "polling",
        webhook_url: str | None = None,
        listen: str = "0.0.0.0",
        port: int = 8443,
        secret_token: str | None = None,
        max_connections: int = 1,
        poll_timeout: int = 30,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        backoff: tuple[float, float] = (1.0, 60.0),
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
        clock: Clock | None = None,
    ) -> None:
        if not token:
            raise ValueError("telegram: a bot token is required (TELEGRAM_BOT_TOKEN)")
        if mode not in ("polling", "webhook"):
            raise ValueError(f"telegram: mode must be 'polling' or 'webhook', not {mode!r}")
        if mode == "webhook" and not webhook_url:
            raise ValueError("telegram: webhook mode needs webhook_url (the public https URL)")
        self.mode = mode
        self.webhook_url = webhook_url
        self.listen = listen
        self.port = port
        self.secret_token = secret_token
        self.max_connections = max_connections
        self.poll_timeout = poll_timeout
        self.backoff = backoff
        self.allowed_updates = list(allowed_updates)
        self.clock: Clock = clock or SystemClock()

        kwargs: dict[str, Any] = {}
        if base_url:
            kwargs["base_url"] = base_url
        if base_file_url:
            kwargs["base_file_url"] = base_file_url
        # Two connection pools, as PTB does: the long poll must never wait behind a send.
        self._bot = Bot(
            token,
            request=HTTPXRequest(
                connection_pool_size=8,
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=request_timeout,
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=1,
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=request_timeout,
            ),
            **kwargs,
        )
        self._on_message: OnMessage | None = None
        self._on_event: OnEvent | None = None
        self._on_batch: OnBatch | None = None
        self._task: asyncio.Task[None] | None = None
        self._server: WebhookServer | None = None
        self._stopping = asyncio.Event()
        self._fetching = False
        self._handle_lock = asyncio.Lock()
        self._ready = False
        self.offset: int | None = None  # next update_id to ask for (all below are stored)
        self._connected = False
        self._announced: bool | None = None
        self._since: datetime | None = None
        self.last_poll: datetime | None = None
        self.last_error: str = ""
        self.bot_id: int | None = None
        self.bot_username: str = ""
        self.webhook_port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(
        self, on_message: OnMessage, on_event: OnEvent | None = None, on_batch: OnBatch | None = None
    ) -> None:
        self._on_message = on_message
        self._on_event = on_event
        self._on_batch = on_batch
        self._stopping.clear()
        try:
            await self._ensure_ready()
        except InvalidToken as exc:
            await self._bot.shutdown()
            raise RuntimeError(f"telegram: the bot token was refused ({exc.message})") from exc
        except TelegramError as exc:  # network down at start: the loop keeps trying
            self._note_error(f"start: {exc.message}")
        if self.mode == "webhook":
            await self._start_webhook()
        else:
            self._task = asyncio.create_task(self._poll_loop(), name="telegram-poll")

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            await self._server.stop()
            self._server = None
        task, self._task = self._task, None
        if task is not None:
            if self._fetching or not self._handle_lock.locked():
                task.cancel()
            try:
                # A hand-over in progress finishes (it is the core storing a message).
                await asyncio.wait_for(asyncio.shield(task), timeout=30)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._confirm_offset()
        await self._bot.shutdown()
        self._ready = False
        self._connected = False

    def status(self) -> AdapterStatus:
        extra = {"mode": self.mode}
        if self.last_poll is not None:
            extra["last_poll"] = self.last_poll.isoformat()
        if self.last_error:
            extra["last_error"] = self.last_error
        if self.offset is not None:
            extra["offset"] = str(self.offset)
        if self.bot_username:
            extra["bot"] = "@" + self.bot_username
        return AdapterStatus(
            platform=self.platform,
            connected=self._connected,
            detail=self.last_error if not self._connected else "",
            since=self._since,
            extra=extra,
        )

    async def _ensure_ready(self) -> None:
        if self._ready:
            return
        await self._bot.initialize()  # getMe
        me = self._bot.bot
        self.bot_id = me.id
        self.bot_username = me.username or ""
        if self.mode == "polling":
            # getUpdates does not work while a webhook is set; keep pending updates.
            await self._bot.delete_webhook(drop_pending_updates=False)
        self._ready = True
        self._note_ok(polled=False)

    async def _confirm_offset(self) -> None:
        """Tell Telegram which updates are stored, so a restart does not fetch them again.

        Best effort: if this fails the updates come again and the inbox deduplicates them.
        """
        if self.offset is None or not self._ready:
            return
        with contextlib.suppress(TelegramError, Exception):
            await self._bot.get_updates(offset=self.offset, limit=1, timeout=0, allowed_updates=self.allowed_updates)

    def _note_ok(self, *, polled: bool = True) -> bool:
        now = self.clock.now()
        if polled:
            self.last_poll = now
        changed = not self._connected
        if changed:
            self._connected = True
            self._since = now
            self.last_error = ""
        return changed

    def _note_error(self, detail: str) -> bool:
        self.last_error = detail
        changed = self._connected or self._since is None
        if self._connected:
            self._connected = False
            self._since = self.clock.now()
        elif self._since is None:
            self._since = self.clock.now()
        return changed

    async def _announce(self, connected: bool, detail: str) -> None:
        if self._on_event is None:
            return
        try:
            await self._on_event("connection", {"platform": PLATFORM, "connected": connected, "detail": detail})
        except Exception:  # an observer's failure must not stop the connection
            log.exception("telegram: connection event handler failed")

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    # ------------------------------------------------------------------ polling

    async def _poll_loop(self) -> None:
        first, most = self.backoff
        delay = first
        while not self._stopping.is_set():
            try:
                await self._ensure_ready()
                self._fetching = True
                try:
                    updates = await self._bot.get_updates(
                        offset=self.offset,
                        timeout=self.poll_timeout,
                        allowed_updates=self.allowed_updates,
                    )
                finally:
                    self._fetching = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network, 5xx, 409 conflict, bad token…
                detail = exc.message if isinstance(exc, TelegramError) else repr(exc)
                log.warning("telegram: getUpdates failed: %s (retry in %.1fs)", detail, delay)
                self._note_error(f"getUpdates: {detail}")
                if self._announced is not False:
                    self._announced = False
                    await self._announce(False, detail)
                await self._pause(delay)
                delay = min(delay * 2, most)
                continue
            was_connected = self._connected
            self._note_ok()
            if not was_connected or self._announced is not True:
                self._announced = True
                await self._announce(True, "")
            failed = False
            for run in self._runs(updates):
                if self._stopping.is_set():
                    break
                try:
                    async with self._handle_lock:
                        await self._handle_run(run)
                except Exception as exc:
                    # Not stored: keep the offset, fetch the same updates again after a pause.
                    log.warning(
                        "telegram: updates %s–%s not stored (%r); will fetch them again in %.1fs",
                        run[0][0].update_id,
                        run[-1][0].update_id,
                        exc,
                        delay,
                    )
                    self.last_error = f"handler: {exc!r}"
                    failed = True
                    break
                self.offset = run[-1][0].update_id + 1
            if failed:
                await self._pause(delay)
                delay = min(delay * 2, most)
            else:
                delay = first

    # ------------------------------------------------------------------ webhook

    async def _start_webhook(self) -> None:
        path = urlsplit(self.webhook_url or "/").path or "/"
        self._server = WebhookServer(webhook_app(path, self.secret_token, self._webhook_update), self.listen, self.port)
        self.webhook_port = await self._server.start()
        await self._bot.set_webhook(
            url=self.webhook_url,  # type: ignore[arg-type]
            allowed_updates=self.allowed_updates,
            secret_token=self.secret_token,
            max_connections=self.max_connections,
            drop_pending_updates=False,
        )
        self._note_ok()

    async def _webhook_update(self, data: Any) -> int:
        """One update Telegram posted: 200 once the core has stored it, 400 if it is none, 500 to be sent again."""
        try:
            update = Update.de_json(data, self._bot)
        except Exception:
            log.warning("telegram: webhook body is not an update: %r", str(data)[:200])
            return 400
        try:
            async with self._handle_lock:
                await self._handle(update)
        except Exception as exc:
            # 500: Telegram sends it again later; the inbox makes the repeat harmless.
            log.warning("telegram: webhook update %s not stored: %r", update.update_id, exc)
            self.last_error = f"handler: {exc!r}"
            return 500
        self._note_ok()
        return 200

    # ------------------------------------------------------------------ inbound

    def _runs(self, updates: Sequence[Update]) -> list[list[tuple[Update, Inbound | None, list]]]:
        """One getUpdates answer, translated and cut into what is stored together: with a batch
        handler, each stretch of plain messages is one batch; an update that carries a platform
        event (a group migrated, the bot removed…) stands alone, handled in its place in the order."""
        runs: list[list[tuple[Update, Inbound | None, list]]] = []
        for u in updates:
            item = (u, *self._translate_or_skip(u))
            if self._on_batch is not None and not item[2] and runs and not runs[-1][-1][2]:
                runs[-1].append(item)
            else:
                runs.append([item])
        return runs

    async def _handle_run(self, run: list[tuple[Update, Inbound | None, list]]) -> None:
        """Hand a run of updates to the core; raises when the core did not take (all of) it."""
        if self._on_batch is not None and len(run) > 1:
            batch = [inbound for _, inbound, _ in run if inbound is not None]
            if batch:
                await self._on_batch(batch)
            return
        for _, inbound, events in run:
            await self._deliver(inbound, events)

    def _translate_or_skip(self, update: Update) -> tuple[Inbound | None, list]:
        try:
            return self.translate(update)
        except Exception:
            # A bug of ours or an update we cannot read: skipping beats blocking every later one.
            log.exception("telegram: cannot translate update %s; skipped", update.update_id)
            return None, []

    async def _handle(self, update: Update) -> None:
        """Hand one update to the core. Raises when the core did not take it."""
        await self._deliver(*self._translate_or_skip(update))

    async def _deliver(self, inbound: Inbound | None, events: list) -> None:
        for name, payload in events:
            if self._on_event is not None:
                await self._on_event(name, payload)
        if inbound is not None and self._on_message is not None:
            await self._on_message(inbound)

    def translate(self, update: Update) -> tuple[Inbound | None, list[tuple[str, dict]]]:
        """One update → at most one `Inbound` and the platform events it carries."""
        if update.callback_query is not None:
            return self._callback(update), []
        if update.my_chat_member is not None:
            return None, self._member_events(update.my_chat_member)
        edited = update.edited_message is not None
        msg = update.edited_message if edited else update.message
        if msg is None:
            return None, []
        events = self._service_events(msg)
        if events is not None:
            return None, events
        if msg.from_user is not None and self.bot_id is not None and msg.from_user.id == self.bot_id:
            return None, []
        return self._message(msg, edited=edited), []

    def _chat(self, msg: Message) -> tuple[str, ChatType, str | None]:
        chat = msg.chat
        if chat.type in (chat.GROUP, chat.SUPERGROUP):
            return str(chat.id), ChatType.GROUP, chat.title
        if chat.type == chat.PRIVATE:
            user_id = msg.from_user.id if msg.from_user is not None else chat.id
            return str(user_id), ChatType.PRIVATE, None
        return str(chat.id), ChatType.GROUP, chat.title  # channels: not expected

    def _when(self, value: datetime | None) -> datetime:
        if value is None or value.timestamp() <= 0:
            return self.clock.now()
        tz = self.clock.now().tzinfo or SHANGHAI
        return value.astimezone(tz)

    def _message(self, msg: Message, *, edited: bool) -> Inbound | None:
        chat_id, chat_type, title = self._chat(msg)
        user = msg.from_user
        sender_id = str(user.id) if user is not None else chat_id
        sender_name = user.full_name if user is not None else (msg.chat.title or chat_id)
        text: str | None = None
        kind = TEXT
        attachment: str | None = None
        entities: dict[MessageEntity, str] = {}
        if msg.text is not None:
            text = msg.text
            entities = msg.parse_entities()
        elif msg.photo:
            attachment = msg.photo[-1].file_id  # the largest size
            if msg.caption:
                text = msg.caption
                entities = msg.parse_caption_entities()
            else:
                kind = "image"
        else:
            kind, attachment = self._non_text(msg)
        if kind == TEXT and text is not None:
            text = self._strip_bot_name(text)
        mentions: list[str] = []
        for entity, value in entities.items():
            if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
                mentions.append(str(entity.user.id))
            elif entity.type == MessageEntity.MENTION:
                mentions.append(value)  # "@username": Telegram gives no id for these
        reply_to = msg.reply_to_message
        return Inbound(
            platform=PLATFORM,
            chat_id=chat_id,
            chat_type=chat_type,
            sender_id=sender_id,
            sender_name=sender_name,
            message_id=str(msg.message_id),
            sent_at=self._when(msg.edit_date if edited and msg.edit_date else msg.date),
            text=text,
            kind=kind,
            reply_to=str(reply_to.message_id) if reply_to is not None else None,
            mentions=tuple(dict.fromkeys(mentions)),
            attachment=attachment,
            edited=edited,
            chat_title=title,
        )

    @staticmethod
    def _non_text(msg: Message) -> tuple[str, str | None]:
        if msg.voice is not None:
            return "voice", msg.voice.file_id
        if msg.audio is not None:
            return "voice", msg.audio.file_id
        if msg.sticker is not None:
            return "sticker", msg.sticker.file_id
        if msg.animation is not None:
            return "video", msg.animation.file_id
        if msg.video is not None:
            return "video", msg.video.file_id
        if msg.video_note is not None:
            return "video", msg.video_note.file_id
        if msg.document is not None:
            return "file", msg.document.file_id
        if msg.location is not None:
            loc = msg.location
            return "location", f"geo:{loc.latitude},{loc.longitude}"
        if msg.contact is not None:
            return "contact", msg.contact.phone_number or None
        return "unknown", None

    def _strip_bot_name(self, text: str) -> str:
        """ "/accept@shanzhi_bot SG…" → "/accept SG…" (Telegram's command form in groups)."""
        if not text.startswith("/") or not self.bot_username:
            return text
        head, sep, rest = text.partition(" ")
        command, at, name = head.partition("@")
        if at and name.lower() == self.bot_username.lower():
            return command + sep + rest
        return text

    def _service_events(self, msg: Message) -> list[tuple[str, dict]] | None:
        """Events carried by a service message, [] for other service messages, None for content."""
        chat_id = str(msg.chat.id)
        if msg.migrate_to_chat_id:
            return [
                (
                    "chat_migrated",
                    {"platform": PLATFORM, "from": chat_id, "to": str(msg.migrate_to_chat_id)},
                )
            ]
        if msg.migrate_from_chat_id:
            # The same migration seen from the new supergroup; the core's handling is idempotent.
            return [
                (
                    "chat_migrated",
                    {"platform": PLATFORM, "from": str(msg.migrate_from_chat_id), "to": chat_id},
                )
            ]
        if msg.new_chat_members:
            if self.bot_id is not None and any(u.id == self.bot_id for u in msg.new_chat_members):
                return [("bot_added", self._chat_payload(msg.chat, msg.from_user))]
            return []
        if msg.left_chat_member is not None:
            if self.bot_id is not None and msg.left_chat_member.id == self.bot_id:
                payload = self._chat_payload(msg.chat, msg.from_user)
                payload["status"] = ChatMember.LEFT
                return [("bot_removed", payload)]
            return []
        if msg.new_chat_title:
            return [("topic_changed", self._chat_payload(msg.chat, msg.from_user, msg.new_chat_title))]
        if msg.group_chat_created or msg.supergroup_chat_created:
            return [("bot_added", self._chat_payload(msg.chat, msg.from_user))]
        if (
            msg.pinned_message is not None
            or msg.new_chat_photo
            or msg.delete_chat_photo
            or msg.message_auto_delete_timer_changed is not None
        ):
            return []
        return None

    @staticmethod
    def _chat_payload(chat: Any, by: Any, title: str | None = None) -> dict:
        payload = {"platform": PLATFORM, "chat_id": str(chat.id), "title": title or chat.title}
        if by is not None:
            payload["by"] = str(by.id)
            payload["by_name"] = by.full_name
        return payload

    def _member_events(self, change: ChatMemberUpdated) -> list[tuple[str, dict]]:
        if change.chat.type == change.chat.PRIVATE:
            # A user blocked (kicked) or restarted the bot in private: tell the core who.
            status = change.new_chat_member.status
            payload = {"platform": PLATFORM, "user_id": str(change.chat.id), "status": status}
            if status in _OUT_OF_CHAT:
                return [("bot_blocked", payload)]
            return [("bot_unblocked", payload)]
        was_in = _is_member(change.old_chat_member)
        now_in = _is_member(change.new_chat_member)
        payload = self._chat_payload(change.chat, change.from_user)
        payload["status"] = change.new_chat_member.status
        if now_in and not was_in:
            return [("bot_added", payload)]
        if was_in and not now_in:
            return [("bot_removed", payload)]
        return []  # e.g. promoted to administrator: nothing to record

    def _callback(self, update: Update) -> Inbound:
        query = update.callback_query
        assert query is not None
        user = query.from_user
        msg = query.message
        if msg is not None:
            chat = msg.chat
            is_group = chat.type in (chat.GROUP, chat.SUPERGROUP)
            chat_id = str(chat.id) if is_group else str(user.id)
            chat_type = ChatType.GROUP if is_group else ChatType.PRIVATE
            reply_to: str | None = str(msg.message_id)
            title = chat.title if is_group else None
        else:  # a button on an inline-mode message: no chat to speak of
            chat_id, chat_type, reply_to, title = str(user.id), ChatType.PRIVATE, None, None
        return Inbound(
            platform=PLATFORM,
            chat_id=chat_id,
            chat_type=chat_type,
            sender_id=str(user.id),
            sender_name=user.full_name,
            message_id=f"cb:{query.id}",
            sent_at=self.clock.now(),
            text=query.data or "",
            kind=CALLBACK,
            reply_to=reply_to,
            callback_id=query.id,
            chat_title=title,
        )

    # ------------------------------------------------------------------ outbound

    async def _close_buttons(self, out: Outbound) -> None:
        """The press was used: its message keeps only the buttons still of use. The press is answered already, so
        a failure here (the message deleted, too old to edit, unchanged) is logged, not retried: sending the
        answer again would be refused."""
        try:
            await self._bot.edit_message_reply_markup(
                chat_id=_chat_ref(out.chat_id), message_id=int(out.reply_to or 0), reply_markup=keyboard(out)
            )
        except TelegramError as exc:
            log.info("telegram: buttons of message %s in %s not updated: %s", out.reply_to, out.chat_id, exc)

    async def send(self, out: Outbound) -> SendResult:
        try:
            if not self._ready:
                await self._ensure_ready()
            if out.callback_id:
                await self._bot.answer_callback_query(
                    callback_query_id=out.callback_id, text=out.text[:MAX_CALLBACK_ANSWER]
                )
                if out.reply_to and out.reply_to.isdigit():
                    await self._close_buttons(out)
                return SendResult(message_id=None)
            text, parse_mode = render(out)
            kwargs: dict[str, Any] = {"chat_id": _chat_ref(out.chat_id), "text": text}
            if parse_mode:
                kwargs["parse_mode"] = parse_mode
            if out.reply_to and out.reply_to.isdigit():
                kwargs["reply_parameters"] = ReplyParameters(
                    message_id=int(out.reply_to), allow_sending_without_reply=True
                )
            markup = keyboard(out)
            if markup is not None:
                kwargs["reply_markup"] = markup
            elif out.force_reply:
                kwargs["reply_markup"] = ForceReply(selective=True)
            message = await self._bot.send_message(**kwargs)
        except TelegramError as exc:
            raise delivery_error(exc, out) from exc
        return SendResult(message_id=str(message.message_id))
