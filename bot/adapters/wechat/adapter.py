"""WeChat through the `wechaty` Python SDK (0.10.x) and a wechaty puppet service (gateway).

This is the only module of the project that imports `wechaty` / `wechaty_puppet`, and it does so
lazily (`WeChatAdapter` construction or `start()`), so importing it is free. Everything the 0.10
client needs to run on Python 3.11 against today's 1.x TypeScript gateways lives here:

* `PuppetOptions.__hash__` is set before `wechaty` is imported (dataclass "mutable default" error on
  Python 3.11, python-wechaty #422/#385).
* `CACHE_DIR` points under the project's data dir before the import, and the import runs with the
  working directory switched there (`wechaty_puppet.config` creates `./.wechaty` unconditionally);
  wechaty's own APScheduler job store is `<data_dir>/wechaty/job.db`; its HTTP port is 0.
* 1.x servers send events that the 0.10 payload dataclasses reject (error events carry only
  `{gerror}`, logout events may lack `data`): the `data` fields get a default, otherwise the
  ValueError silently ends wechaty's event loop. Message types a 1.x server knows and the 0.10
  client does not (e.g. Post = 16) would raise an IndexError and lose the message: they map to
  "unknown" instead.
* `Wechaty.start()` swallows errors, sleeps 60 s after network errors and, on a bad token, simply
  returns. The adapter does not call it: it runs the same steps itself (init_puppet, event bridge,
  puppet.start()) under a watchdog that notices the puppet's start()/event stream returning or
  raising, logout, and auth failures, records them (`status()`), reports
  `on_event("connection", {...})`, and reconnects with backoff on a *fresh* Wechaty instance; a
  token the gateway keeps refusing ends in `WeChatFatalError` (exit_code != 0), never a silent 0.
* wechaty caches Contact/Room objects in class-level pools shared by every Wechaty instance (and so
  bound to a dead puppet after a reconnect): each session gets its own pools.
* The gateway echoes the bot's own messages back: `is_self()` messages are skipped.
* File boxes differ between 0.10 (`{boxType, remoteUrl}`) and 1.x (`{type, url}`, UUID boxes over
  20 KB): media is never downloaded here; it becomes a non-text Inbound whose `attachment` is the
  WeChat message id (what a later download would need).
* `Room.say()` fetches the payload of the message it just sent and fails when a gateway does not
  return a message id (the 1.x mock does not), which would turn a delivered message into a retried
  one. `send()` therefore composes the @-mention prefix exactly as `Room.say()` does and calls the
  puppet's `message_send_text` itself.

WeChat has no buttons: `Outbound.buttons` is ignored (the core writes the text commands into the text).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.adapters.base import Adapter, OnEvent, OnMessage, PaceLimits
from bot.adapters.wechat.compat import load_wechaty_unlocked
from bot.adapters.wechat.wire import (
    AT_SEPARATOR,
    AUTH_MARKERS,
    DEFAULT_LIMITS,
    MEDIA_KINDS,
    PLATFORM,
    UNREACHABLE_MARKERS,
    WeChatConfigError,
    WeChatFatalError,
    error_text,
    kind_of,
    norm,
    parse_quote,
    to_datetime,
)
from bot.messages import (
    TEXT,
    AdapterStatus,
    ChatType,
    DeliveryError,
    Inbound,
    Outbound,
    SendResult,
)
from core.clock import Clock, SystemClock
from core.environment import environment

log = logging.getLogger("shanzhi.wechat")


@dataclass
class _Said:
    chat_id: str
    message_id: str
    text: str  # normalised
    from_bot: bool
    sender_name: str


class _SessionEnded(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------


class WeChatAdapter(Adapter):
    """WeChat groups (rooms) and private chats through a wechaty puppet service.

    Either `endpoint` (host:port of a puppet-service gateway; `WECHATY_PUPPET_SERVICE_ENDPOINT`
    when not given) with `token` (`WECHATY_PUPPET_SERVICE_TOKEN`), or `puppet`: an in-process
    `wechaty_puppet.Puppet` (tests).
    """

    platform = PLATFORM

    def __init__(
        self,
        *,
        token: str | None = None,
        endpoint: str | None = None,
        puppet: Any = None,
        data_dir: Path,
        clock: Clock | None = None,
        limits: PaceLimits | None = None,
        reconnect_delays: Iterable[float] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
        max_auth_failures: int = 3,
        max_reconnect_attempts: int | None = None,
        start_timeout: float = 30.0,
        require_friend: bool = True,
        accept_friend_requests: bool = False,
        on_message_retries: int = 3,
    ) -> None:
        env = environment()
        self._token = token or env.wechat_token_value or None
        self._endpoint = endpoint or env.wechat_endpoint or None
        self._puppet_obj = puppet
        if puppet is None and not self._endpoint:
            # With a token only, python-wechaty asks a discovery service on the internet that no
            # longer answers: refuse clearly instead of hanging.
            raise WeChatConfigError(
                "wechat: set platforms.wechat.endpoint or WECHATY_PUPPET_SERVICE_ENDPOINT "
                "(host:port of the puppet service gateway)"
            )
        self._data_dir = Path(data_dir)
        self._clock: Clock = clock or SystemClock()
        self.limits = limits or DEFAULT_LIMITS
        self._delays = tuple(float(d) for d in reconnect_delays) or (1.0,)
        self._max_auth_failures = max(1, int(max_auth_failures))
        self._max_reconnect_attempts = max_reconnect_attempts
        self._start_timeout = start_timeout
        self._require_friend = require_friend
        self._accept_friend_requests = accept_friend_requests
        self._on_message_retries = max(1, on_message_retries)

        self._w: SimpleNamespace | None = None
        self._on_message: OnMessage | None = None
        self._on_event: OnEvent | None = None
        self._bot: Any = None
        self._session = 0
        self._session_end: asyncio.Future[str] | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._stopping = False
        self._logged_in = asyncio.Event()
        self._fatal_event = asyncio.Event()
        self._fatal: WeChatFatalError | None = None

        self._connected = False
        self._detail = "not started"
        self._since: datetime | None = None
        self._self_id = ""
        self._self_name = ""
        self._logins = 0
        self._reconnects = 0
        self._last_error = ""
        self._last_qrcode = ""
        self._reported_down = False
        self._online = asyncio.Event()
        self._seen: dict[str, None] = {}
        self._said: deque[_Said] = deque(maxlen=1000)

    @classmethod
    def from_config(
        cls, wechat_config: Any, *, data_dir: Path, clock: Clock | None = None, **kwargs: Any
    ) -> WeChatAdapter:
        """Build from `platforms.wechat` of config.yaml (endpoint, pacing); the token comes from the env."""
        limits = PaceLimits(
            global_per_second=DEFAULT_LIMITS.global_per_second,
            per_chat_interval=float(
                getattr(wechat_config, "per_chat_interval_seconds", DEFAULT_LIMITS.per_chat_interval)
            ),
            per_group_per_minute=DEFAULT_LIMITS.per_group_per_minute,
            per_hour=int(getattr(wechat_config, "per_hour", DEFAULT_LIMITS.per_hour)),
            jitter=float(getattr(wechat_config, "jitter_seconds", DEFAULT_LIMITS.jitter)),
        )
        return cls(
            endpoint=getattr(wechat_config, "endpoint", None), data_dir=data_dir, clock=clock, limits=limits, **kwargs
        )

    # -- Adapter interface ------------------------------------------------------------------

    async def start(self, on_message: OnMessage, on_event: OnEvent | None = None, on_batch: object = None) -> None:
        """Connect; returns once logged in (or after `start_timeout` s while the watchdog keeps trying).

        Raises `WeChatFatalError` if the gateway refuses the token before that.
        """
        self._on_message = on_message
        self._on_event = on_event
        self._stopping = False
        self._w = load_wechaty_unlocked(self._data_dir)
        self._detail = "connecting"
        self._consumer = asyncio.create_task(self._consume(), name="wechat-inbound")
        self._runner = asyncio.create_task(self._run(), name="wechat-watchdog")
        waiters = [
            asyncio.create_task(self._logged_in.wait()),
            asyncio.create_task(self._fatal_event.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=self._start_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if self._fatal is not None:
            await self.stop()
            raise self._fatal
        if not self._logged_in.is_set():
            log.warning("wechat: not logged in after %.0f s (%s); still trying", self._start_timeout, self._detail)

    async def stop(self) -> None:
        self._stopping = True
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None and self._online.is_set():
            # Hand over what already arrived before going (bounded: the pipeline stores quickly).
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout=10.0)
        await self._teardown()
        self._online.clear()
        if consumer is not None:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        self._connected = False
        if self._fatal is None:
            self._detail = "stopped"

    async def send(self, out: Outbound) -> SendResult:
        bot = self._bot
        if bot is None or not self._connected:
            raise DeliveryError(f"wechat not connected ({self._detail})", retry_after=5.0)
        try:
            if out.chat_type == ChatType.PRIVATE:
                return await self._send_private(bot, out)
            return await self._send_room(bot, out)
        except DeliveryError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._classify_send_error(exc, out) from exc

    def status(self) -> AdapterStatus:
        extra = {
            "self_id": self._self_id,
            "self_name": self._self_name,
            "logins": str(self._logins),
            "reconnects": str(self._reconnects),
            "last_error": self._last_error,
            "endpoint": self._endpoint or "(in-process puppet)",
        }
        if self._last_qrcode and not self._connected:
            extra["qrcode"] = self._last_qrcode
        if self._fatal is not None:
            extra["fatal"] = self._fatal.reason
        return AdapterStatus(
            platform=self.platform, connected=self._connected, detail=self._detail, since=self._since, extra=extra
        )

    # -- for the app ---------------------------------------------------------------------------

    @property
    def fatal_error(self) -> WeChatFatalError | None:
        return self._fatal

    async def wait_fatal(self) -> WeChatFatalError:
        """Returns the fatal error once the watchdog has given up (the app then exits non-zero)."""
        await self._fatal_event.wait()
        assert self._fatal is not None
        return self._fatal

    async def settle(self) -> None:
        """Wait until everything received so far has been handed to on_message/on_event (tests, replay)."""
        await self._queue.join()

    @property
    def self_id(self) -> str:
        return self._self_id

    # -- watchdog ------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        auth_failures = 0
        while not self._stopping:
            self._session += 1
            session = self._session
            loop = asyncio.get_running_loop()
            self._session_end = loop.create_future()
            logged_in_before = self._logins
            reason = ""
            error: BaseException | None = None
            try:
                reason = await self._run_session(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
                reason = f"{type(exc).__name__}: {exc}"
            if self._stopping:
                break
            self._last_error = reason
            log.warning("wechat: session %d ended: %s", session, reason)
            await self._mark_disconnected(reason)
            await self._teardown()

            session_logged_in = self._logins > logged_in_before
            if error is not None and self._is_auth_error(error):
                auth_failures += 1
                if auth_failures >= self._max_auth_failures:
                    await self._go_fatal(f"the puppet service refuses the token ({reason})")
                    return
            elif session_logged_in:
                auth_failures = 0
            if session_logged_in:
                attempt = 0
            if self._max_reconnect_attempts is not None and attempt >= self._max_reconnect_attempts:
                await self._go_fatal(f"gave up after {attempt} reconnect attempts ({reason})")
                return
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            attempt += 1
            self._reconnects += 1
            self._detail = f"reconnecting in {delay:g} s: {reason}"
            await self._clock.sleep(delay)

    async def _run_session(self, session: int) -> str:
        """One connection: returns (or raises) when it is over."""
        w = self._w
        assert w is not None
        bot = self._new_bot()
        self._bot = bot
        await bot.init_puppet()
        # wechaty's Contact/Room pools are class attributes shared by every Wechaty instance:
        # give this session its own, or objects stay bound to the previous (dead) puppet.
        bot.Contact._pool = {}
        bot.ContactSelf._pool = {}
        bot.Room._pool = {}
        bot.Tag._pool = {}
        await bot.init_puppet_event_bridge(bot.puppet)
        puppet = bot.puppet
        self._hook(bot, puppet, session)
        bot.started = True
        # A puppet service's start() connects (Stop then Start) and then *is* the event stream:
        # its returning means the stream ended. An in-process puppet may return at once.
        ends_on_return = isinstance(puppet, w.PuppetService) or bool(getattr(puppet, "start_blocks", False))
        start_task = asyncio.ensure_future(puppet.start())
        assert self._session_end is not None
        session_end = self._session_end
        try:
            done, _ = await asyncio.wait({start_task, session_end}, return_when=asyncio.FIRST_COMPLETED)
            if start_task in done:
                exc = start_task.exception()
                if exc is not None:
                    raise exc
                if ends_on_return:
                    return "the puppet's event stream ended (start() returned)"
                return await session_end
            return session_end.result()
        finally:
            if not start_task.done():
                start_task.cancel()
                await asyncio.gather(start_task, return_exceptions=True)

    def _new_bot(self) -> Any:
        w = self._w
        assert w is not None
        puppet = self._puppet_obj if self._puppet_obj is not None else "wechaty-puppet-service"
        options = w.WechatyOptions(
            name="shanzhi",
            puppet=puppet,
            puppet_options=w.PuppetOptions(token=self._token, end_point=self._endpoint),
            host="127.0.0.1",
            port=0,
            token=self._token,
            endpoint=self._endpoint,
            scheduler=w.WechatySchedulerOptions(job_store=f"sqlite:///{self._cache_dir() / 'job.db'}"),
        )
        return w.Wechaty(options)

    def _cache_dir(self) -> Path:
        path = (self._data_dir / "wechaty").resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _end_session(self, session: int, reason: str) -> None:
        if session != self._session:
            return
        fut = self._session_end
        if fut is not None and not fut.done():
            fut.set_result(reason)

    def _hook(self, bot: Any, puppet: Any, session: int) -> None:
        async def on_login(contact: Any) -> None:
            if session != self._session:
                return
            self._self_id = getattr(contact, "contact_id", "") or ""
            with contextlib.suppress(Exception):
                self._self_name = contact.name or ""
            self._logins += 1
            self._reported_down = False
            first = self._logins == 1
            self._connected = True
            self._since = self._clock.now()
            self._last_qrcode = ""
            self._detail = f"logged in as {self._self_name or self._self_id}"
            log.info("wechat: %s", self._detail)
            self._logged_in.set()
            self._online.set()
            await self._queue.put(
                (
                    "event",
                    (
                        "connection",
                        {
                            "platform": PLATFORM,
                            "connected": True,
                            "detail": self._detail if first else f"reconnected, {self._detail}",
                            "reconnected": not first,
                        },
                    ),
                )
            )

        def on_puppet_message(payload: Any) -> None:
            # Called synchronously in arrival order (wechaty's own listener readies messages in
            # parallel tasks and so reorders them): the consumer reads them one by one.
            if session != self._session:
                return
            message_id = str(getattr(payload, "message_id", "") or "")
            if not message_id or message_id in self._seen:
                return
            self._seen[message_id] = None
            while len(self._seen) > 20000:
                self._seen.pop(next(iter(self._seen)))
            self._queue.put_nowait(("message", message_id))

        async def on_room_join(room: Any, invitees: list, inviter: Any, date: Any) -> None:
            ids = [getattr(c, "contact_id", "") for c in invitees]
            if self._self_id and self._self_id in ids:
                payload = {
                    "platform": PLATFORM,
                    "chat_id": room.room_id,
                    "title": self._room_topic(room),
                    "inviter_id": getattr(inviter, "contact_id", ""),
                    "inviter_name": self._contact_name(inviter),
                }
                await self._queue.put(("event", ("bot_added", payload)))
            else:
                log.info("wechat: %s joined room %s", ids, room.room_id)

        async def on_room_leave(room: Any, leavers: list, remover: Any, date: Any) -> None:
            ids = [getattr(c, "contact_id", "") for c in leavers]
            if self._self_id and self._self_id in ids:
                payload = {"platform": PLATFORM, "chat_id": room.room_id, "title": self._room_topic(room)}
                await self._queue.put(("event", ("bot_removed", payload)))

        async def on_room_topic(room: Any, new_topic: str, old_topic: str, changer: Any, date: Any) -> None:
            room._payload = None  # cached payload carries the old topic
            payload = {
                "platform": PLATFORM,
                "chat_id": room.room_id,
                "title": new_topic,
                "old_title": old_topic,
                "changer_id": getattr(changer, "contact_id", ""),
                "changer_name": self._contact_name(changer),
            }
            await self._queue.put(("event", ("topic_changed", payload)))

        async def on_scan(qrcode: str, status: Any, data: Any = None) -> None:
            self._last_qrcode = qrcode or ""
            self._detail = f"waiting for a QR code scan ({getattr(status, 'name', status)})"
            log.warning("wechat: the account must scan a QR code to log in: %s", qrcode)

        async def on_friendship(friendship: Any) -> None:
            if not self._accept_friend_requests:
                log.info("wechat: friend request %s (not accepted automatically)", friendship)
                return
            with contextlib.suppress(Exception):
                await friendship.accept()
                log.info("wechat: accepted friend request %s", friendship)

        def on_bot_error(err: Any) -> None:
            # Exceptions of wechaty's own listeners land here; without a listener pyee re-raises
            # them. Error events proper are recorded from the puppet directly.
            if isinstance(err, BaseException):
                self._record_error(err)

        def on_puppet_logout(payload: Any) -> None:
            if session != self._session:
                return
            self._end_session(session, f"logged out ({getattr(payload, 'data', '') or 'no reason given'})")

        def on_puppet_error(payload: Any) -> None:
            if session != self._session:
                return
            self._record_error(payload)

        bot.on("login", on_login)
        bot.on("room-join", on_room_join)
        bot.on("room-leave", on_room_leave)
        bot.on("room-topic", on_room_topic)
        bot.on("scan", on_scan)
        bot.on("friendship", on_friendship)
        bot.on("error", on_bot_error)
        # wechaty's own message listener would fetch every payload a second time: drop it where we can.
        stream = getattr(puppet, "_event_stream", None)
        if stream is not None and hasattr(stream, "remove_all_listeners"):
            stream.remove_all_listeners("message")
        puppet.on("message", on_puppet_message)
        puppet.on("logout", on_puppet_logout)
        puppet.on("error", on_puppet_error)

    def _record_error(self, err: Any) -> None:
        if err is None or err == "":
            return
        text = getattr(err, "data", None) if not isinstance(err, BaseException) else None
        text = text or str(err)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            # a 1.x gerror is JSON: {"code": 2, "details": "GError: boom\n    at ..."}
            details = json.loads(text).get("details")
            if details:
                text = str(details).splitlines()[0]
        self._last_error = f"error event: {text}"[:500]
        log.warning("wechat: %s", self._last_error)

    async def _mark_disconnected(self, reason: str) -> None:
        was = self._connected
        self._connected = False
        self._online.clear()
        self._since = self._clock.now()
        self._detail = f"disconnected: {reason}"
        if was or not self._reported_down:
            self._reported_down = True
            await self._queue.put(
                ("event", ("connection", {"platform": PLATFORM, "connected": False, "detail": reason}))
            )

    async def _go_fatal(self, reason: str) -> None:
        self._fatal = WeChatFatalError(f"wechat: {reason}")
        self._connected = False
        self._detail = f"fatal: {reason}"
        log.error("wechat: giving up: %s", reason)
        await self._queue.put(
            ("event", ("connection", {"platform": PLATFORM, "connected": False, "fatal": True, "detail": reason}))
        )
        await self._queue.put(
            ("event", ("fatal", {"platform": PLATFORM, "detail": reason, "exit_code": WeChatFatalError.exit_code}))
        )
        # Let the consumer hand the event over before anyone reacts to the fatal flag.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=5.0)
        self._fatal_event.set()

    def _is_auth_error(self, exc: BaseException) -> bool:
        w = self._w
        if w is not None and isinstance(exc, w.GRPCError):
            status = getattr(getattr(exc, "status", None), "name", "")
            if status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
                return True
        text = error_text(exc)
        return any(m in text for m in AUTH_MARKERS)

    async def _teardown(self) -> None:
        bot, self._bot = self._bot, None
        if bot is None:
            return
        puppet = getattr(bot, "_puppet", None)
        if puppet is not None:
            try:
                await asyncio.wait_for(puppet.stop(), timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("wechat: puppet.stop() failed: %s", exc)
            channel = getattr(puppet, "channel", None)
            if channel is not None:
                with contextlib.suppress(Exception):
                    channel.close()
                puppet.channel = None
        manager = getattr(bot, "_plugin_manager", None)
        scheduler = getattr(manager, "scheduler", None)
        if scheduler is not None and getattr(scheduler, "running", False):
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=False)
        with contextlib.suppress(Exception):
            bot.remove_all_listeners()

    # -- inbound -------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            item_type, item = await self._queue.get()
            try:
                if item_type == "message":
                    await self._deliver_message(item)
                else:
                    name, payload = item
                    if self._on_event is not None:
                        try:
                            await self._on_event(name, payload)
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            log.exception("wechat: on_event(%s) failed", name)
            finally:
                self._queue.task_done()

    async def _read_message(self, message_id: str) -> Inbound | None:
        """Fetch and convert one message; waits out a reconnection rather than losing it."""
        for attempt in range(1, 4):
            if not self._online.is_set():
                await self._online.wait()
            bot = self._bot
            try:
                if bot is None:
                    raise ConnectionError("no connection")
                msg = bot.Message.load(message_id)
                await msg.ready()
                return await self._to_inbound(msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._online.is_set() and self._bot is bot:
                    log.exception("wechat: could not read message %s; skipped", message_id)
                    return None
                log.warning("wechat: connection lost while reading message %s (attempt %d)", message_id, attempt)
        log.error("wechat: message %s could not be read after reconnecting; skipped", message_id)
        return None

    async def _deliver_message(self, message_id: str) -> None:
        inbound = await self._read_message(message_id)
        if inbound is None or self._on_message is None:
            return
        for attempt in range(1, self._on_message_retries + 1):
            try:
                await self._on_message(inbound)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("wechat: on_message failed for %s (attempt %d)", inbound.message_id, attempt)
                if attempt < self._on_message_retries:
                    await self._clock.sleep(1.0 * attempt)

    def _is_self(self, msg: Any) -> bool:
        from_id = getattr(msg.payload, "from_id", "") or ""
        if self._self_id:
            return from_id == self._self_id
        try:
            return bool(msg.is_self())
        except Exception:
            return False

    async def _to_inbound(self, msg: Any) -> Inbound | None:
        w = self._w
        assert w is not None
        payload = msg.payload
        if self._is_self(msg):
            return None
        message_id = str(getattr(payload, "id", "") or msg.message_id)
        sender_id = str(getattr(payload, "from_id", "") or "")
        room_id = str(getattr(payload, "room_id", "") or "")
        kind = kind_of(getattr(payload, "type", None), w.MessageType)
        sent_at = to_datetime(getattr(payload, "timestamp", 0), self._clock.now())

        talker = None
        if sender_id:
            with contextlib.suppress(Exception):
                talker = msg.talker()
                await talker.ready()
        if talker is not None and not room_id:
            ctype = getattr(getattr(talker, "payload", None), "type", None)
            if getattr(ctype, "name", "") == "CONTACT_TYPE_OFFICIAL":
                log.info("wechat: ignoring a message from official account %s", sender_id)
                return None
        sender_name = self._contact_name(talker) or sender_id

        room = None
        chat_title = None
        if room_id:
            with contextlib.suppress(Exception):
                room = msg.room()
                await room.ready()
            if room is not None:
                chat_title = self._room_topic(room) or None
                alias = await self._room_alias(room, talker)
                if alias:
                    sender_name = alias

        text: str | None = None
        mentions: tuple[str, ...] = ()
        reply_to: str | None = None
        attachment: str | None = None
        if kind == TEXT:
            raw = getattr(payload, "text", "") or ""
            if room_id:
                mentions = tuple(m for m in (getattr(payload, "mention_ids", None) or []) if m)
            quote = parse_quote(raw)
            if quote is not None:
                qname, qtext, reply = quote
                reply_to = self._find_quoted(room_id or sender_id, qname, qtext)
                raw = reply
            text = self._strip_self_mention(raw)
            self._remember(room_id or sender_id, message_id, text, from_bot=False, sender_name=sender_name)
        elif kind in MEDIA_KINDS:
            attachment = message_id

        return Inbound(
            platform=PLATFORM,
            chat_id=room_id or sender_id,
            chat_type=ChatType.GROUP if room_id else ChatType.PRIVATE,
            sender_id=sender_id,
            sender_name=sender_name,
            message_id=message_id,
            sent_at=sent_at,
            text=text,
            kind=kind,
            reply_to=reply_to,
            mentions=mentions,
            attachment=attachment,
            chat_title=chat_title,
        )

    def _strip_self_mention(self, text: str) -> str:
        name = self._self_name
        if name:
            text = re.sub(rf"@{re.escape(name)}(?:{AT_SEPARATOR}|\s|$)", "", text)
        return text.strip()

    @staticmethod
    def _contact_name(contact: Any) -> str:
        if contact is None:
            return ""
        payload = getattr(contact, "_payload", None)
        if payload is None:
            return ""
        return (getattr(payload, "name", "") or "").strip()

    @staticmethod
    def _room_topic(room: Any) -> str:
        payload = getattr(room, "_payload", None)
        return (getattr(payload, "topic", "") or "").strip() if payload is not None else ""

    async def _room_alias(self, room: Any, contact: Any) -> str:
        if room is None or contact is None:
            return ""
        try:
            member = await room.puppet.room_member_payload(room.room_id, contact.contact_id)
        except Exception:
            return ""
        return (getattr(member, "room_alias", "") or "").strip()

    def _remember(self, chat_id: str, message_id: str, text: str, *, from_bot: bool, sender_name: str) -> None:
        if message_id and text:
            self._said.append(_Said(chat_id, message_id, norm(text), from_bot, sender_name))

    def _find_quoted(self, chat_id: str, name: str, quoted: str) -> str | None:
        """The id of the message a quote-reply quotes, from what this process saw and said."""
        q = norm(quoted)
        if q.endswith("...") or q.endswith("…"):
            q = q.rstrip(".…").strip()
        if not q:
            return None
        bot_names = {self._self_name, self._self_id} - {""}
        quoted_bot = name in bot_names if name else None
        best_loose = None
        for said in reversed(self._said):
            if said.chat_id != chat_id:
                continue
            if quoted_bot is True and not said.from_bot:
                continue
            if quoted_bot is False and said.from_bot and name and name != said.sender_name:
                continue
            if said.text == q:
                return said.message_id
            if best_loose is None and (said.text.startswith(q) or q in said.text):
                best_loose = said.message_id
        return best_loose

    # -- outbound ------------------------------------------------------------------------------

    async def _send_room(self, bot: Any, out: Outbound) -> SendResult:
        room = bot.Room.load(out.chat_id)
        try:
            await room.ready()
        except Exception as exc:
            raise self._classify_send_error(exc, out, looking_up=True) from exc
        payload = room.payload
        members = list(getattr(payload, "member_ids", None) or [])
        if getattr(payload, "id", "") == "" and not self._room_topic(room):
            raise DeliveryError(f"wechat room {out.chat_id} unknown", permanent=True, recipient_unreachable=True)
        if members and self._self_id and self._self_id not in members:
            raise DeliveryError(f"the bot is not in room {out.chat_id}", permanent=True, recipient_unreachable=True)
        ids: list[str] = []
        names: list[str] = []
        for user_id, fallback_name in out.mentions:
            name = await self._mention_name(bot, room, user_id) or fallback_name or user_id
            names.append("@" + name)
            if not members or user_id in members:
                ids.append(user_id)
        text = out.text
        if names:
            text = AT_SEPARATOR.join(names) + " " + text  # exactly what wechaty's Room.say() sends
        message_id = await bot.puppet.message_send_text(
            conversation_id=out.chat_id, message=text, mention_ids=ids or None
        )
        message_id = str(message_id or "") or None
        if message_id:
            self._remember(out.chat_id, message_id, text, from_bot=True, sender_name=self._self_name)
        return SendResult(message_id=message_id)

    async def _mention_name(self, bot: Any, room: Any, user_id: str) -> str:
        alias = ""
        with contextlib.suppress(Exception):
            member = await bot.puppet.room_member_payload(room.room_id, user_id)
            alias = (getattr(member, "room_alias", "") or "").strip() or (getattr(member, "name", "") or "").strip()
        if alias:
            return alias
        with contextlib.suppress(Exception):
            contact = bot.Contact.load(user_id)
            await contact.ready()
            return self._contact_name(contact)
        return ""

    async def _send_private(self, bot: Any, out: Outbound) -> SendResult:
        contact = bot.Contact.load(out.chat_id)
        try:
            await contact.ready(force_sync=True)
        except Exception as exc:
            raise self._classify_send_error(exc, out, looking_up=True) from exc
        payload = contact.payload
        if not (getattr(payload, "id", "") or "").strip():
            raise DeliveryError(f"wechat contact {out.chat_id} unknown", permanent=True, recipient_unreachable=True)
        if self._require_friend and getattr(payload, "friend", True) is False:
            raise DeliveryError(
                f"wechat contact {out.chat_id} is not a friend of the bot", permanent=True, recipient_unreachable=True
            )
        message_id = await bot.puppet.message_send_text(conversation_id=out.chat_id, message=out.text, mention_ids=None)
        message_id = str(message_id or "") or None
        if message_id:
            self._remember(out.chat_id, message_id, out.text, from_bot=True, sender_name=self._self_name)
        return SendResult(message_id=message_id)

    def _classify_send_error(self, exc: BaseException, out: Outbound, *, looking_up: bool = False) -> DeliveryError:
        w = self._w
        text = error_text(exc)
        connection_errors: tuple[type[BaseException], ...] = (ConnectionError, OSError, asyncio.TimeoutError)
        if w is not None:
            connection_errors = connection_errors + (w.StreamTerminatedError,)
        if (
            isinstance(exc, connection_errors)
            or "unavailable" in text
            or "not logged in" in text
            or self._is_auth_error(exc)
        ):
            return DeliveryError(f"wechat send to {out.chat_id} failed: {exc}", retry_after=5.0)
        if any(m in text for m in UNREACHABLE_MARKERS) or (looking_up and not isinstance(exc, connection_errors)):
            return DeliveryError(
                f"wechat recipient {out.chat_id} unreachable: {exc}", permanent=True, recipient_unreachable=True
            )
        return DeliveryError(f"wechat send to {out.chat_id} failed: {exc}")
