"""Plugs the schedules into the bot: `bot.app` imports this module and calls `attach(app)`.

Registers the announcer extension (reminder, digest and notice messages), and the schedule
runner's start/stop hooks. APScheduler runs on wall-clock time, so with a `ManualClock` (tests,
simulations, replay) it is not started and the caller drives `app.schedules.sweep(now)`; set
`SHANZHI_SCHEDULER=off` to keep a process from ever leading (e.g. a web-only worker).
"""

from __future__ import annotations

import os

from bot.announce_schedules import ScheduleAnnouncer
from bot.clock import ManualClock
from schedules.scheduler import ScheduleRunner
from services.reminders import settings_from


def attach(app) -> None:  # type: ignore[no-untyped-def]
    settings = settings_from(app.config)
    app.announcer.extensions.append(ScheduleAnnouncer(app.announcer, settings))
    real_time = not isinstance(app.clock, ManualClock)
    enabled = os.environ.get("SHANZHI_SCHEDULER", "on").lower() not in ("off", "0", "false", "no")
    runner = ScheduleRunner(
        app.services, app.clock, settings, wake=lambda: app._wake(None),
        use_apscheduler=real_time and enabled, catch_up_on_start=real_time and enabled,
    )
    app.schedules = runner
    if enabled:
        app.on_start.append(runner.on_start)
        app.on_stop.append(runner.on_stop)
