"""The delivery loop: outbox rows → platform, paced, retried, never lost.

Each row is marked `sending` (with a lease) and committed before the platform is called, and
marked `sent` after. A crash between the two leaves the row `sending`: it is sent again once its
lease runs out (at once on restart with SQLite, where only one process runs) and the possible
repeat is logged — the only message a crash may repeat is the one in flight.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlmodel import col, select

from bot.adapters.base import Adapter
from bot.chat import texts
from bot.chat.outbox import enqueue, to_outbound
from bot.delivery.pacing import Pacer
from bot.messages import ChatType, DeliveryError, Outbound
from core.clock import Clock
from core.config import DeliveryConfig
from services import events as ev
from services.container import Services
from services.org import likely_in_group
from storage.models import Account, OutboxMessage

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self, services: Services, adapter: Adapter, clock: Clock, config: DeliveryConfig, pacer: Pacer | None = None
    ) -> None:
        self.services = services
        self.adapter = adapter
        self.clock = clock
        self.config = config
        self.pacer = pacer or Pacer(adapter.limits)
        self.lock = asyncio.Lock()
        self.paused_until: datetime | None = None
        self.wake = asyncio.Event()

    @property
    def platform(self) -> str:
        return self.adapter.platform

    def recover_in_flight(self) -> int:
        """On start with a single-process store: rows left `sending` by a crash are due again now."""
        with self.services.uow() as uow:
            rows = uow.session.exec(
                select(OutboxMessage).where(OutboxMessage.platform == self.platform, OutboxMessage.status == "sending")
            ).all()
            for r in rows:
                log.warning(
                    "outbox #%s to %s was in flight at a crash: it will be sent again (possible repeat)",
                    r.id,
                    r.chat_id,
                )
                r.next_attempt_at = uow.now
            return len(rows)

    def _due_ids(self) -> list[tuple[int, str, bool]]:
        """Due rows, first-in-first-out per chat: a chat whose oldest row waits holds its later rows too."""
        now = self.clock.now()
        with self.services.uow() as uow:
            rows = uow.session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.platform == self.platform, col(OutboxMessage.status).in_(("pending", "sending")))
                .order_by(col(OutboxMessage.urgent).desc(), col(OutboxMessage.id))
                .limit(500)
            ).all()
            blocked: set[str] = set()
            out = []
            for r in sorted(rows, key=lambda r: r.id):  # type: ignore[arg-type,return-value]
                key = r.chat_id if not r.callback_id else f"cb:{r.id}"
                if key in blocked and not r.urgent:  # an emergency's message is never held behind a retry
                    continue
                if r.next_attempt_at is not None and r.next_attempt_at > now:
                    blocked.add(key)
                    continue
                out.append((r.id, r.chat_id, bool(r.urgent)))
            out.sort(key=lambda x: (not x[2], x[0]))
            return [(i, c, u) for i, c, u in out]  # type: ignore[misc]

    async def deliver_due(self) -> int:
        """Send what is due now; returns how many rows were attempted."""
        async with self.lock:
            attempted = 0
            while True:
                blocked: set[str] = set()
                due = self._due_ids()
                newest = max((i for i, _c, _u in due), default=0)
                for outbox_id, chat_id, urgent in due:
                    if chat_id in blocked and not urgent:
                        continue
                    ok = await self._deliver_one(outbox_id)
                    attempted += 1
                    if ok is False:
                        blocked.add(chat_id)
                    # new work is announced on `wake`: only then can an emergency have come in during this pass
                    if not urgent and self.wake.is_set() and self._urgent_since(newest):
                        break  # its messages go next
                else:
                    return attempted

    def _urgent_since(self, after_id: int) -> bool:
        with self.services.uow() as uow:
            return (
                uow.session.exec(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.platform == self.platform,
                        OutboxMessage.status == "pending",
                        col(OutboxMessage.urgent).is_(True),
                        col(OutboxMessage.id) > after_id,
                    )
                    .limit(1)
                ).first()
                is not None
            )

    async def _deliver_one(self, outbox_id: int) -> bool | None:
        if self.paused_until is not None and self.clock.now() < self.paused_until:
            await self.clock.sleep((self.paused_until - self.clock.now()).total_seconds())
        with self.services.uow() as uow:
            row = uow.outbox.get_locked(outbox_id)
            if row is None or row.status not in ("pending", "sending"):
                return None
            is_group = row.chat_type == ChatType.GROUP.value
            paced = row.callback_id is None
            urgent = bool(row.urgent)
        if paced:
            wait = self.pacer.wait(row.chat_id, is_group, self.clock.now(), urgent=urgent)
            if wait > 0:
                await self.clock.sleep(wait)
        with self.services.uow() as uow:
            row = uow.outbox.get_locked(outbox_id)
            if (
                row is None
                or row.status not in ("pending", "sending")
                or (row.next_attempt_at and row.next_attempt_at > uow.now)
            ):
                return None
            if row.status == "sending":
                log.warning(
                    "outbox #%s to %s/%s is sent again after a crash (possible repeat)",
                    row.id,
                    row.platform,
                    row.chat_id,
                )
            row.status, row.attempts = "sending", row.attempts + 1
            row.next_attempt_at = uow.now + timedelta(seconds=self.config.lease_seconds)
            out = to_outbound(row)
        try:
            result = await self.adapter.send(out)
        except DeliveryError as e:
            if paced:
                self.pacer.record(out.chat_id, is_group, self.clock.now())
            return self._failed(outbox_id, e)
        except Exception as e:
            log.exception("adapter %s raised while sending outbox #%s", self.platform, outbox_id)
            return self._failed(outbox_id, DeliveryError(f"{type(e).__name__}: {e}"))
        if paced:
            self.pacer.record(out.chat_id, is_group, self.clock.now())
        with self.services.uow() as uow:
            row = uow.session.get(OutboxMessage, outbox_id)
            if row is not None:
                row.status, row.sent_at, row.sent_message_id, row.error = "sent", uow.now, result.message_id, None
        return True

    def _failed(self, outbox_id: int, e: DeliveryError) -> bool:
        with self.services.uow() as uow:
            row = uow.session.get(OutboxMessage, outbox_id)
            if row is None:
                return False
            row.error = e.reason[:1000]
            if e.migrated_to:
                self.services.org.migrate_group(uow, row.platform, row.chat_id, e.migrated_to)
                row.chat_id, row.status, row.next_attempt_at = e.migrated_to, "pending", uow.now
                return True
            if e.retry_after is not None:
                row.status = "pending"
                row.next_attempt_at = uow.now + timedelta(seconds=e.retry_after)
                self.paused_until = row.next_attempt_at  # flood control is per bot: hold every chat
                log.warning("%s asked us to wait %.1fs (outbox #%s)", self.platform, e.retry_after, row.id)
                return False
            if e.permanent:
                row.status = "failed"
                log.warning("outbox #%s to %s failed permanently: %s", row.id, row.chat_id, e.reason)
                if e.recipient_unreachable and row.chat_type == "private":
                    self._fall_back(uow, row)
                return False
            row.status = "pending"
            delay = min(self.config.backoff_seconds * (2 ** max(0, row.attempts - 1)), self.config.backoff_max_seconds)
            row.next_attempt_at = uow.now + timedelta(seconds=delay)
            if row.attempts >= self.config.max_attempts:
                log.error(
                    "outbox #%s to %s still failing after %s attempts: %s", row.id, row.chat_id, row.attempts, e.reason
                )
            else:
                log.info("outbox #%s to %s failed (%s); retry in %.1fs", row.id, row.chat_id, e.reason, delay)
            return False

    def _fall_back(self, uow, row: OutboxMessage) -> None:  # type: ignore[no-untyped-def]
        """A private message that cannot be delivered: @-mention the person in the group instead, tell an admin."""
        acc = uow.session.exec(
            select(Account).where(Account.platform == row.platform, Account.user_id == row.chat_id)
        ).first()
        if acc is not None:
            acc.can_dm = False
        name = row.recipient_name or (acc.display_name if acc else row.chat_id)
        person = uow.org.person(row.recipient_person_id) if row.recipient_person_id else None
        group_chat = (
            row.fallback_chat_id
            if row.fallback_chat_id
            and person is not None
            and likely_in_group(uow, person, row.chat_id, row.platform, row.fallback_chat_id)
            else None
        )  # a mention reaches only the people in the group
        if group_chat:
            enqueue(
                uow,
                Outbound(
                    platform=row.platform,
                    chat_id=group_chat,
                    text=texts.fallback_mention(row.text, row.platform),
                    mentions=((row.chat_id, name),),
                    urgent=row.urgent,
                ),
                purpose=f"fallback:{row.purpose}"[:32],
                ticket_id=row.ticket_id,
                person_id=row.recipient_person_id,
            )
        group = uow.org.group(row.platform, group_chat) if group_chat else None
        posted_in = ((group.title if group else None) or group_chat or "") if group_chat else ""
        uow.emit(
            ev.DeliveryFallback(
                row.ticket_id, None, name=name, platform=row.platform, user_id=row.chat_id, posted_in=posted_in
            )
        )

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Deliver forever: after each pass, wait for new work (woken by the app) or the next retry."""
        while True:
            try:
                await self.deliver_due()
            except Exception:
                log.exception("delivery pass for %s failed; retrying", self.platform)
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass
