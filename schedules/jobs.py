"""APScheduler job functions: module-level, importable by reference from the job store, and thin.

A job only asks the schedule runner of this process to sweep; the sweep calls the services
(reminders, notices, digests), each in its own unit of work. Jobs never open sessions or talk to
adapters themselves. The runner binds itself here when it becomes the leader.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from schedules.scheduler import ScheduleRunner

log = logging.getLogger(__name__)

_runner: ScheduleRunner | None = None


def bind(runner: ScheduleRunner | None) -> None:
    global _runner
    _runner = runner


async def sweep() -> None:
    """The periodic sweep (every `sweep_seconds`): reminders, escalations, 回访, notices, digests."""
    if _runner is None:
        log.warning("schedules: sweep fired with no runner bound in this process")
        return
    _runner.sweep_logged()


async def digest() -> None:
    """Fired at the digest time each day, so digests go out on the minute; the sweep decides."""
    await sweep()


async def notice(notice_id: int) -> None:
    """Fired at a notice's time (dated job); the sweep posts every notice that is due."""
    await sweep()
