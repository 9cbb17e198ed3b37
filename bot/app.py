"""Wiring: config, database, services, classifier, adapters, delivery loops.

`BotApp` is the whole bot in one object; `shanzhi run`, `shanzhi replay` and the tests all use it,
so there is one pipeline whatever the platform.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.adapters.base import Adapter
from bot.chat import texts
from bot.chat.announce import Announcer
from bot.chat.announce_emergency import EmergencyAnnouncer
from bot.chat.announce_schedules import ScheduleAnnouncer
from bot.chat.outbox import enqueue
from bot.chat.routing import Classify, Router
from bot.delivery.loop import Delivery
from bot.delivery.resilience import Resilience
from bot.messages import Inbound, Outbound
from core.clock import Clock, ManualClock, SystemClock
from core.config import Config
from core.environment import environment
from schedules.scheduler import ScheduleRunner
from services import events as ev
from services.container import Services
from storage import db
from storage.models import PlatformState
from storage.purposes import Purpose

log = logging.getLogger(__name__)

# Inbox rows processed in one transaction by `on_messages` and `process_pending`.
BATCH = 32


def load_classifier(config: Config, model_path: str | None = None) -> Classify:
    """The configured model, loaded once per process, as a text → Classification function."""
    from classifiers.model import Classifier, load_model

    path = model_path or config.classifier.model
    classifier = Classifier(load_model(path, urgent_threshold=config.classifier.urgent))
    # What is built on first use (jieba's dictionary, ~0.5 s, and the compiled cutter) is built now:
    # otherwise the first complaint after a start waits for it, and its whole batch with it.
    classifier(WARM_UP_TEXT)
    return classifier


WARM_UP_TEXT = "村口的路灯坏了好几天了，晚上走路太黑，希望尽快修一下"  # a complaint: takes every path of the classifier


def freeze_loaded() -> None:
    """Take what start-up loaded (above all the classifier's tables, hundreds of thousands of
    objects that live as long as the process) out of the garbage collector's sight. Otherwise
    every full collection walks them all: a pause of about 100 ms in the middle of a batch,
    which was most of the ingest benchmark's p99. Once per process, after start-up."""
    gc.collect()
    gc.freeze()


class BotApp:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        database_url: str | None = None,
        adapters: Sequence[Adapter] = (),
        classify: Classify | None = None,
        migrate: bool = True,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.database_url = database_url or config.database_url()
        self.adapters = list(adapters)
        if migrate:
            db.upgrade(self.database_url)
        self.engine = db.make_engine(self.database_url, background=True)
        self.services = Services(config, self.engine, self.clock)
        self.announcer = Announcer(config, self.services.org)
        self.announcer.extensions += [
            EmergencyAnnouncer(self.announcer),
            ScheduleAnnouncer(self.announcer, config.schedules),
        ]
        self.services.announce = self.announcer
        self.router = Router(config, self.services, classify or load_classifier(config))
        self.deliveries = {a.platform: Delivery(self.services, a, self.clock, config.delivery) for a in self.adapters}
        self._tasks: list[asyncio.Task] = []
        self.fatal = asyncio.Event()  # set when a platform cannot go on (e.g. a rejected token)
        self.fatal_reason = ""
        self._bootstrap_org()
        self.on_start: list[Callable[[BotApp], Awaitable[None]]] = []
        self.on_stop: list[Callable[[BotApp], Awaitable[None]]] = []
        # The schedules. APScheduler runs on wall-clock time, so with a ManualClock (tests, simulations, replay)
        # it is not started and the caller drives `schedules.sweep(now)`; SHANZHI_SCHEDULER=off keeps a process
        # from ever leading (e.g. a web-only worker).
        real_time = not isinstance(self.clock, ManualClock)
        scheduling = environment().scheduler
        self.schedules = ScheduleRunner(
            self.services,
            self.clock,
            config.schedules,
            wake=lambda: self._wake(None),
            use_apscheduler=real_time and scheduling,
            catch_up_on_start=real_time and scheduling,
        )
        if scheduling:
            self.on_start.append(self.schedules.on_start)
            self.on_stop.append(self.schedules.on_stop)
        # Every message from a platform goes through resilience (spool or hold while the database is down)
        # before it is stored and processed by `ingest` / `ingest_many`.
        self.resilience = Resilience(self)
        self.on_start.append(self.resilience.on_start)
        self.on_stop.append(self.resilience.on_stop)

    def _bootstrap_org(self) -> None:
        """Load the org file; several processes starting together may race: the loser tries again."""
        from sqlalchemy.exc import IntegrityError

        if self.config.org is None:
            return
        for attempt in range(3):
            try:
                with self.services.uow() as uow:
                    self.services.org.bootstrap(uow, self.config.org)
                return
            except IntegrityError:
                if attempt == 2:
                    raise
                log.info("another process bootstrapped the organisation at the same time; again")

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> None:
        """Recover what a crash left, start the adapters, and (by default) the delivery loops."""
        if self.engine.dialect.name == "sqlite":
            for d in self.deliveries.values():
                d.recover_in_flight()
        self.process_pending()
        for a in self.adapters:
            await a.start(self.on_message, self.on_event, self.on_messages)
        if background:
            self._tasks = [asyncio.create_task(d.run(), name=f"delivery-{p}") for p, d in self.deliveries.items()]
        for hook in self.on_start:
            await hook(self)

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            try:
                await hook(self)
            except Exception:
                log.exception("stop hook failed")
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        for a in self.adapters:
            try:
                await a.stop()
            except Exception:
                log.exception("stopping %s failed", a.platform)
        self.engine.dispose()

    # --- inbound -------------------------------------------------------------------------------

    async def on_message(self, msg: Inbound) -> None:
        """A message from a platform: through resilience to `ingest`."""
        await self.resilience.on_message(msg)

    async def on_messages(self, msgs: Sequence[Inbound]) -> None:
        """A batch from a platform: through resilience to `ingest_many`."""
        await self.resilience.on_messages(list(msgs))

    def status(self) -> dict:
        """The store's figures (`Services.backlog`) and resilience's state, also while the database is down."""
        return self.resilience.status()

    async def ingest(self, msg: Inbound) -> None:
        """Store (durably, before returning to the adapter), then process, then wake delivery.

        A storage failure propagates so that the adapter does not confirm the message to its
        platform; a processing failure is recorded on the inbox row and never propagates.
        """
        inbox_id = self.router.store(msg)
        if inbox_id is not None:
            self.router.process(inbox_id)
        self._wake(None)

    async def ingest_many(self, msgs: Sequence[Inbound]) -> None:
        """A batch from one adapter (e.g. one Telegram getUpdates answer, a replay): stored in one
        transaction, which has committed when this returns, so the adapter may then confirm the
        whole batch; then processed in one transaction (see `Router.process_many`).

        A storage failure propagates (the adapter confirms none of the batch); a message whose
        processing fails is marked failed on its own and the others still commit.
        """
        if not msgs:
            return
        ids = self.router.store_many(msgs)
        for k in range(0, len(ids), BATCH):
            self.router.process_many(ids[k : k + BATCH])
        self._wake(None)

    def process_pending(self) -> int:
        done = 0
        while True:
            with self.services.uow() as uow:
                ids = uow.inbox.pending_ids()
            if not ids:
                return done
            for k in range(0, len(ids), BATCH):
                self.router.process_many(ids[k : k + BATCH])
            done += len(ids)

    def _wake(self, platform: str | None = None) -> None:
        for p, d in self.deliveries.items():
            if platform is None or p == platform:
                d.wake.set()

    async def on_event(self, kind: str, data: dict) -> None:
        """Platform events that are not messages."""
        platform = str(data.get("platform", ""))
        with self.services.uow() as uow:
            if kind == "chat_migrated":
                self.services.org.migrate_group(uow, platform, str(data["from"]), str(data["to"]))
            elif kind == "bot_removed":
                g = uow.org.group(platform, str(data["chat_id"]))
                if g is not None:
                    g.active = False
                log.warning("bot removed from %s group %s", platform, data.get("chat_id"))
            elif kind == "bot_added":
                g = self.services.org.ensure_group(uow, platform, str(data["chat_id"]), data.get("title"))
                if not g.region_code and not g.bind_prompted:
                    g.bind_prompted = True
                    enqueue(
                        uow,
                        Outbound(platform=platform, chat_id=g.chat_id, text=texts.unbound_group()),
                        purpose=Purpose.BIND_PROMPT,
                    )
            elif kind == "topic_changed":
                g = uow.org.group(platform, str(data["chat_id"]))
                if g is not None and data.get("title"):
                    log.info("group %s renamed %r → %r", g.chat_id, g.title, data["title"])
                    g.title = str(data["title"])
            elif kind in ("bot_blocked", "bot_unblocked"):
                acc = uow.org.account(platform, str(data.get("user_id", "")))
                if acc is not None:
                    acc.can_dm = kind == "bot_unblocked"
            elif kind == "fatal":
                self.fatal_reason = f"{platform}: {data.get('detail', '')}"
                self._record_connection(uow, platform, False, str(data.get("detail", "")))
                self.fatal.set()
            elif kind == "connection":
                self._record_connection(uow, platform, bool(data.get("connected")), str(data.get("detail", "")))
        self._wake(None)

    def _record_connection(self, uow, platform: str, connected: bool, detail: str) -> None:  # type: ignore[no-untyped-def]
        state = uow.org.platform_state(platform) or PlatformState(platform=platform)
        changed = state.connected != connected or state.since is None
        state.connected, state.detail = connected, detail
        if changed:
            state.since = uow.now
        uow.session.add(state)
        if not connected and changed:
            log.error("%s disconnected: %s", platform, detail)
            live = [p for p in self.deliveries if p != platform]
            uow.emit(ev.PlatformDown(platform=platform, detail=detail, live_platforms=tuple(live)))

    # --- outbound ------------------------------------------------------------------------------

    async def deliver(self) -> int:
        n = 0
        for d in self.deliveries.values():
            n += await d.deliver_due()
        return n

    def unsent(self) -> tuple[int, object]:
        with self.services.uow() as uow:
            # Messages for platforms this process does not run wait in the outbox for the one that does.
            platforms = list(self.deliveries)
            return uow.outbox.count_unsent(platforms), uow.outbox.next_due_at(self.clock.now(), platforms)

    async def idle(self, timeout: float = 10.0) -> bool:
        """Process the inbox and deliver the outbox until nothing is left (tests, replay).

        Waits for retries on the app's clock (virtual time with a ManualClock). False on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            self.process_pending()
            sent = await self.deliver()
            count, next_due = self.unsent()
            with self.services.uow() as uow:
                pending_in = uow.inbox.count_pending()
            if count == 0 and pending_in == 0:
                return True
            if sent == 0 and next_due is not None:
                wait = (next_due - self.clock.now()).total_seconds()  # type: ignore[operator]
                if wait > 0:
                    await self.clock.sleep(min(wait, 3600))
                    continue
            await asyncio.sleep(0.01 if sent == 0 else 0)
        return False

    # --- status --------------------------------------------------------------------------------
