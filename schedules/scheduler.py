"""The scheduler of one bot process: leader election, APScheduler, and the sweep.

- Leader election: with PostgreSQL, several bot processes may share one database, but APScheduler
  forbids sharing a job store between running schedulers. Exactly one process — the holder of a
  session-level PostgreSQL advisory lock, kept on a dedicated connection — runs the scheduler; the
  others retry the lock every `sweep_seconds` and take over when the leader dies (its connection
  closes and PostgreSQL drops the lock). On SQLite the single process leads.
- APScheduler 3 (AsyncIOScheduler, SQLAlchemyJobStore in the project's database, table
  `apscheduler_jobs`) fires the jobs in `schedules.jobs`: a sweep every `sweep_seconds`, one at
  the digest time, and one at each notice's time.
- What is due is never decided by APScheduler: every job runs the same sweep over the database,
  so a run it skipped, or a process that was down, is caught up by the next sweep; reminders are
  unique rows in the database, so even two sweeping processes send nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.clock import Clock
from core.config import ScheduleSettings
from schedules import jobs
from services.container import Services
from services.notices import NoticeService
from services.reminders import ReminderService
from services.reports import ReportService

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x5348414E5A4849  # "SHANZHI"
JOBSTORE_TABLE = "apscheduler_jobs"


class LeaderLock:
    """A PostgreSQL session advisory lock held on its own connection; SQLite: always the leader."""

    def __init__(self, engine: Engine, key: int = ADVISORY_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None
        self._sqlite = engine.dialect.name != "postgresql"
        self.is_leader = False

    def try_acquire(self) -> bool:
        if self.is_leader:
            return True
        if self._sqlite:
            self.is_leader = True
            return True
        conn = self.engine.connect()
        try:
            # Keyed by schema as well: one leader per deployment, even when several share a database.
            got = bool(
                conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"), {"k": self.key % 2**31}
                ).scalar()
            )
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            self.is_leader = True
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"), {"k": self.key % 2**31}
                )
                self._conn.commit()
            except Exception:
                log.warning("advisory unlock failed; closing the connection drops it", exc_info=True)
            finally:
                self._conn.close()
                self._conn = None
        self.is_leader = False


class ScheduleRunner:
    def __init__(
        self,
        services: Services,
        clock: Clock,
        settings: ScheduleSettings | None = None,
        *,
        wake: Callable[[], None] | None = None,
        use_apscheduler: bool = True,
        catch_up_on_start: bool = True,
    ) -> None:
        self.services = services
        self.clock = clock
        self.settings = settings or ScheduleSettings()
        self.wake = wake
        self.use_apscheduler = use_apscheduler
        self.catch_up_on_start = catch_up_on_start
        self.reminders = ReminderService(services.tickets, self.settings)
        self.notices = NoticeService()
        self.reports = ReportService(services.config, services.calendar, self.settings)
        self.lock = LeaderLock(services.engine)
        self.scheduler = None  # AsyncIOScheduler while leading
        self.swept: asyncio.Event | None = None  # set after each sweep when a test provides one
        self._follower: asyncio.Task | None = None
        self.last_counts: dict[str, int] = {}

    # --- the sweep -----------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Everything due by `now` (default: the clock's now), each part in its own transaction."""
        now = now or self.clock.now()
        counts: dict[str, int] = {}
        for part in (self.services.emergencies, self.reminders, self.notices, self.reports):
            with self.services.uow() as uow:
                uow.now = now
                for k, v in part.run_due(uow, now).items():
                    counts[k] = counts.get(k, 0) + v
        self.last_counts = counts
        self._schedule_next_alert()
        if self.wake is not None:
            self.wake()
        if self.swept is not None:
            self.swept.set()
        return counts

    def sweep_logged(self) -> None:
        try:
            counts = self.sweep()
        except Exception:
            log.exception("schedules: sweep failed; the next one catches up")
            return
        if any(v for k, v in counts.items() if k != "planned"):
            log.info("schedules: sweep %s", counts)

    # --- lifecycle -----------------------------------------------------------------------------

    async def on_start(self, app: object = None) -> None:
        if self.lock.try_acquire():
            await self._lead()
        elif self.use_apscheduler:
            log.info("schedules: another process leads; this one stands by")
            self._follower = asyncio.create_task(self._follow(), name="schedules-follower")

    async def _follow(self) -> None:
        while True:
            await self.clock.sleep(self.settings.sweep_seconds)
            try:
                if self.lock.try_acquire():
                    log.info("schedules: this process now leads")
                    await self._lead()
                    return
            except Exception:
                log.exception("schedules: leader election failed; retrying")

    async def _lead(self) -> None:
        jobs.bind(self)
        if self.catch_up_on_start:
            self.sweep_logged()  # reminders missed while no process was leading: sent now, marked late
        if self.use_apscheduler:
            self.start_apscheduler()

    def start_apscheduler(self) -> None:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        s = self.settings
        sched = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.services.engine, tablename=JOBSTORE_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=s.tz,
        )
        sched.add_job(jobs.sweep, "interval", seconds=s.sweep_seconds, id="shanzhi-sweep", replace_existing=True)
        sched.add_job(
            jobs.digest,
            "cron",
            hour=s.digest_time.hour,
            minute=s.digest_time.minute,
            id="shanzhi-digest",
            replace_existing=True,
        )
        sched.start()
        self.scheduler = sched
        log.info("schedules: leading; sweep every %ss", s.sweep_seconds)

    def _schedule_next_alert(self) -> None:
        """A dated job at the next emergency re-alert, so it goes on the minute rather than at the next sweep."""
        if self.scheduler is None:
            return
        with self.services.uow() as uow:
            at = self.services.emergencies.next_due(uow)
        if at is not None:
            self.scheduler.add_job(jobs.sweep, "date", run_date=at, id="shanzhi-emergency", replace_existing=True)

    def schedule_notice(self, notice_id: int, at: datetime) -> None:
        """A dated job at the notice's time (the sweep would post it within `sweep_seconds` anyway)."""
        if self.scheduler is not None:
            self.scheduler.add_job(
                jobs.notice,
                "date",
                run_date=at,
                args=[notice_id],
                id=f"shanzhi-notice-{notice_id}",
                replace_existing=True,
            )

    async def on_stop(self, app: object = None) -> None:
        if self._follower is not None:
            self._follower.cancel()
            try:
                await self._follower
            except (asyncio.CancelledError, Exception):
                pass
            self._follower = None
        if self.scheduler is not None:
            try:
                self.scheduler.shutdown(wait=False)
            except Exception:
                log.warning("schedules: scheduler shutdown failed", exc_info=True)
            await asyncio.sleep(0)  # let the loop run the scheduler's own shutdown callback
            self.scheduler = None
        if jobs._runner is self:
            jobs.bind(None)
        self.lock.release()
