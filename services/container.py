"""The services wired together, with the clock and the announcer the app injects."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.engine import Engine

from core.clock import Clock
from core.config import Config
from services.emergencies import EmergencyService
from services.intake import IntakeService
from services.org import OrgService
from services.tickets import TicketService
from services.uow import Announcer, UnitOfWork, statement_by_statement, unit_of_work
from services.workcalendar import WorkCalendar
from storage.db import session_factory


class Services:
    def __init__(self, config: Config, engine: Engine, clock: Clock, announce: Announcer | None = None) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.announce = announce
        self.factory = session_factory(engine)
        self.calendar = WorkCalendar(holidays=config.calendar.holidays, workdays=config.calendar.workdays)
        self.org = OrgService(config)
        self.tickets = TicketService(config, self.org, self.calendar)
        self.emergencies = EmergencyService(config, self.org, self.tickets)
        self.intake = IntakeService(config, self.org, self.tickets, self.emergencies)

    def uow(self) -> AbstractContextManager[UnitOfWork]:
        """One transaction at the clock's current time; commits on success (announcing its events)."""
        return unit_of_work(self.factory, self.clock.now(), self.announce)

    def backlog(self) -> dict:
        """What `shanzhi status` shows of the store: messages waiting in and out, each platform's connection."""
        with self.uow() as uow:
            states = {
                s.platform: {"connected": s.connected, "detail": s.detail, "since": s.since}
                for s in uow.org.platform_states()
            }
            return {
                "inbox_pending": uow.inbox.count_pending(),
                "outbox_unsent": uow.outbox.count_unsent(),
                "platforms": states,
            }

    def autocommit(self) -> AbstractContextManager[UnitOfWork]:
        """Each statement its own transaction (see `statement_by_statement`): for storing a batch."""
        return statement_by_statement(self.factory, self.engine, self.clock.now())
