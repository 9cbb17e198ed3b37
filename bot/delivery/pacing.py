"""Our pacer: how long to wait before the next message, so a platform never sees a burst.

Telegram limits bots to about 30 messages/s overall, 1/s per chat and 20/min per group; WeChat
punishes bursty accounts, so its limits are stricter and jittered. The pacer only computes waits
from the injectable clock; the delivery loop sleeps on that clock (virtual time in tests).
"""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime

from bot.adapters.base import PaceLimits

#: Seconds between two urgent messages where the limits are only our own caution: an emergency's advice and
#: alerts go out at once, but never as a burst of dozens in one second.
URGENT_GAP = 1.0


class Pacer:
    def __init__(self, limits: PaceLimits, *, rng: random.Random | None = None) -> None:
        self.limits = limits
        self.rng = rng or random.Random()
        self._last_any: datetime | None = None
        self._last_chat: dict[str, datetime] = {}
        self._group_window: dict[str, deque[datetime]] = {}
        self._hour_window: deque[datetime] = deque()
        self._jitter: dict[str, float] = {}

    def wait(self, chat_id: str, is_group: bool, now: datetime, *, urgent: bool = False) -> float:
        """Seconds to wait before sending to `chat_id` at `now` (0 when it may go now). An urgent message keeps
        only the platform's own limits (`PaceLimits.hard`), without jitter or the hourly cap."""
        lim = self.limits
        if urgent and not lim.hard:
            gap = URGENT_GAP if (lim.global_per_second or lim.per_chat_interval) else 0.0
            return 0.0 if self._last_any is None else max(0.0, gap - (now - self._last_any).total_seconds())
        waits = [0.0]
        if lim.global_per_second and self._last_any is not None:
            waits.append(1.0 / lim.global_per_second - (now - self._last_any).total_seconds())
        last = self._last_chat.get(chat_id)
        if lim.per_chat_interval and last is not None:
            jitter = (
                0.0
                if urgent
                else self._jitter.setdefault(chat_id, self.rng.uniform(0, lim.jitter) if lim.jitter else 0.0)
            )
            waits.append(lim.per_chat_interval + jitter - (now - last).total_seconds())
        window = self._group_window.get(chat_id)
        if is_group and lim.per_group_per_minute and window and len(window) >= lim.per_group_per_minute:
            waits.append(60.0 - (now - window[0]).total_seconds())
        if lim.per_hour and not urgent and len(self._hour_window) >= lim.per_hour:
            waits.append(3600.0 - (now - self._hour_window[0]).total_seconds())
        return max(waits)

    def record(self, chat_id: str, is_group: bool, at: datetime) -> None:
        lim = self.limits
        self._last_any = at
        self._last_chat[chat_id] = at
        self._jitter.pop(chat_id, None)
        if is_group and lim.per_group_per_minute:
            window = self._group_window.setdefault(chat_id, deque())
            window.append(at)
            while len(window) > lim.per_group_per_minute or (window and (at - window[0]).total_seconds() >= 60):
                window.popleft()
        if lim.per_hour:
            self._hour_window.append(at)
            while self._hour_window and (at - self._hour_window[0]).total_seconds() >= 3600:
                self._hour_window.popleft()
