"""The unit of work: one transaction, the repositories bound to it, and the events it produced.

This is the only place that commits. On success the announcer turns the events into outbox rows
inside the same transaction, then the transaction commits; on any exception it rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from services.events import Event
from storage.repositories import ConsultationRepo, InboxRepo, OrgRepo, OutboxRepo, TicketRepo


class UnitOfWork:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.inbox = InboxRepo(session)
        self.outbox = OutboxRepo(session)
        self.org = OrgRepo(session)
        self.tickets = TicketRepo(session)
        self.consultations = ConsultationRepo(session)
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


Announcer = Callable[[UnitOfWork, list[Event]], None]


@contextmanager
def unit_of_work(factory: sessionmaker[Session], now: datetime, announce: Announcer | None) -> Iterator[UnitOfWork]:
    session = factory()
    uow = UnitOfWork(session, now)
    try:
        yield uow
        while uow.events and announce is not None:
            batch, uow.events = uow.events, []
            announce(uow, batch)  # may emit follow-on events (e.g. fallbacks); loop until quiet
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
