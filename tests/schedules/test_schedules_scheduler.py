"""Several bot processes on one database: one leads the scheduler, none sends a reminder twice;
and APScheduler really fires the sweep from its job store in the project's database."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.app import BotApp
from core.clock import ManualClock, SystemClock
from core.config import Config
from storage.models import OutboxMessage, Reminder
from tests.support.schedules import at, start_bot

CATEGORIES = ["noise", "dispute", "road", "utilities", "environment", "welfare", "security", "other"]


async def test_only_one_process_leads_on_postgresql(config: Config, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("leader election is a PostgreSQL matter; on SQLite the single process leads")
    a = await start_bot(config, ManualClock(at(11, 25, 9)), database_url)
    b = await start_bot(config, ManualClock(at(11, 25, 9)), database_url)
    try:
        assert a.app.schedules.lock.try_acquire() is True
        assert b.app.schedules.lock.try_acquire() is False
        a.app.schedules.lock.release()  # the leader stops (or dies: its connection closes)
        assert b.app.schedules.lock.try_acquire() is True
        assert a.app.schedules.lock.try_acquire() is False
    finally:
        await a.app.stop()
        await b.app.stop()


async def test_two_processes_sweeping_at_once_send_each_reminder_once(config: Config, database_url: str) -> None:
    clock_a, clock_b = ManualClock(at(11, 25, 9)), ManualClock(at(11, 25, 9))
    a = await start_bot(config, clock_a, database_url)
    b = await start_bot(config, clock_b, database_url)
    try:
        groups = ["和平村群", "石桥村群", "南门社区群"]
        for i in range(24):
            a.open(f"居民{i}", groups[i % 3], CATEGORIES[i % len(CATEGORIES)], f"第{i}个问题", urgent=(i % 5 == 0))
        errors: list[BaseException] = []

        def sweep(bot, when) -> None:  # type: ignore[no-untyped-def]
            try:
                bot.app.schedules.sweep(when)
            except BaseException as e:
                errors.append(e)

        start = at(11, 25, 9)
        for step in range(0, 8 * 24, 3):  # eight days, every three hours, both processes at once
            when = start + timedelta(hours=step)
            threads = [threading.Thread(target=sweep, args=(bot, when)) for bot in (a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert errors == []
        engine = a.app.engine
        with engine.connect() as conn:
            reminders = conn.execute(
                sa.select(Reminder.ticket_id, Reminder.kind, Reminder.due_at, Reminder.status, Reminder.recipients)
            ).all()
            outbox = conn.execute(
                sa.select(OutboxMessage.ticket_id, OutboxMessage.purpose, OutboxMessage.recipient_person_id).where(
                    OutboxMessage.purpose.like("reminder:%")
                )  # type: ignore[attr-defined]
            ).all()
        assert len(reminders) == len({(r.ticket_id, r.kind, r.due_at) for r in reminders})
        sent = [r for r in reminders if r.status == "sent" and r.ticket_id]
        assert len(sent) > 24  # accept, due-soon, overdue… for most tickets
        # Every slot acted on once, by one process: its messages are exactly the recipients it counted.
        with engine.connect() as conn:
            recipients = conn.execute(
                sa.select(sa.func.sum(Reminder.recipients)).where(Reminder.ticket_id != 0)
            ).scalar()
        assert recipients == len(outbox)
        per_slot_kind = Counter((r.ticket_id, "reminder:" + r.kind) for r in sent if r.kind != "escalate")
        for (tid, purpose, _person), n in Counter(outbox).items():
            if purpose != "reminder:escalate_admins":
                assert n <= per_slot_kind[(tid, purpose)]
        digests = [r for r in reminders if r.ticket_id == 0]
        assert len(digests) == len({(r.kind, r.due_at) for r in digests})
    finally:
        await a.app.stop()
        await b.app.stop()


async def test_apscheduler_fires_the_sweep_from_its_job_store(config: Config, sqlite_url: str) -> None:
    app = BotApp(config, clock=SystemClock(), database_url=sqlite_url, classify=lambda text: None)  # type: ignore[arg-type,return-value]
    runner = app.schedules
    assert runner.use_apscheduler
    await app.start(background=False)
    try:
        assert runner.lock.is_leader and runner.scheduler is not None
        with app.engine.connect() as conn:
            ids = {r[0] for r in conn.execute(sa.text("SELECT id FROM apscheduler_jobs")).all()}
        assert ids == {"shanzhi-sweep", "shanzhi-digest"}
        runner.swept = asyncio.Event()
        runner.scheduler.modify_job("shanzhi-sweep", next_run_time=datetime.now(runner.settings.tz))
        runner.scheduler.wakeup()
        await asyncio.wait_for(runner.swept.wait(), timeout=10)
        assert "sent" in runner.last_counts
    finally:
        await app.stop()
    assert runner.scheduler is None and not runner.lock.is_leader
