"""The small interface every chat platform implements.

An adapter only translates: platform events → `Inbound` (handed to `on_message`, which stores the
message durably before returning — an adapter confirms a message to its platform only after
`on_message` has returned), and `Outbound` → a platform send. Pacing and retries are decided by the
delivery loop from `limits`; the adapter raises `DeliveryError` to say what went wrong.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.messages import AdapterStatus, Inbound, Outbound, SendResult

OnMessage = Callable[[Inbound], Awaitable[None]]
OnBatch = Callable[[list[Inbound]], Awaitable[None]]
OnEvent = Callable[[str, dict], Awaitable[None]]


@dataclass(frozen=True)
class PaceLimits:
    """How fast the platform lets a bot talk. Zero means no limit."""

    global_per_second: float = 0.0
    per_chat_interval: float = 0.0  # seconds between two messages to one chat
    per_group_per_minute: int = 0
    per_hour: int = 0  # cap over all chats (WeChat account safety)
    jitter: float = 0.0  # up to this many seconds added at random to each wait
    # True: these are the platform's own limits (Telegram's), which even an emergency must keep; False: they are
    # our caution (WeChat's account safety), which an emergency does not wait for.
    hard: bool = False


class Adapter(ABC):
    """One platform connection."""

    platform: str = "base"
    limits: PaceLimits = PaceLimits()

    @abstractmethod
    async def start(
        self, on_message: OnMessage, on_event: OnEvent | None = None, on_batch: OnBatch | None = None
    ) -> None:
        """Connect and begin delivering inbound messages to `on_message`; returns once running.

        A platform that hands over messages in batches (Telegram's getUpdates) may pass a batch to
        `on_batch` instead: it returns once the whole batch is stored, and the adapter confirms them
        all then. Adapters that receive one message at a time ignore it.
        `on_event` receives platform events that are not messages: ("bot_added", {...}),
        ("bot_removed", {...}), ("chat_migrated", {"from": id, "to": id}), ("topic_changed", {...}),
        ("connection", {"connected": bool, "detail": str}).
        """

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect; pending work stays in the inbox/outbox."""

    @abstractmethod
    async def send(self, out: Outbound) -> SendResult:
        """Deliver one message now, or raise DeliveryError."""

    def status(self) -> AdapterStatus:
        return AdapterStatus(platform=self.platform, connected=True)
