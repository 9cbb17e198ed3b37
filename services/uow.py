"""The unit of work: one transaction, the repositories bound to it, and the events it produced.

This is the only place that commits. On success the announcer turns the events into outbox rows
inside the same transaction, then the transaction commits; on any exception it rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
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
        self.announce: Announcer | None = None

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def announce_events(self) -> None:
        """Turn the events so far into outbox rows (in this transaction); loops until quiet.

        Called before the commit, and by a batch after each message so that every message's
        announcements follow its own replies, as they would with one transaction per message.
        """
        while self.events and self.announce is not None:
            batch, self.events = self.events, []
            self.announce(self, batch)  # may emit follow-on events (e.g. fallbacks)


Announcer = Callable[[UnitOfWork, list[Event]], None]


@contextmanager
def unit_of_work(factory: sessionmaker[Session], now: datetime, announce: Announcer | None) -> Iterator[UnitOfWork]:
    session = factory()
    uow = UnitOfWork(session, now)
    uow.announce = announce
    try:
        yield uow
        uow.announce_events()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def statement_by_statement(factory: sessionmaker[Session], engine: sa.Engine, now: datetime) -> Iterator[UnitOfWork]:
    """A unit of work whose every statement commits on its own (the driver's autocommit).

    For storing a batch, which is one INSERT … ON CONFLICT DO NOTHING: a transaction around it
    added a BEGIN and a COMMIT, two more round trips to PostgreSQL. The INSERT alone is as atomic
    and as durable: it has committed when it returns. Nothing here may need two statements to
    stand or fall together; events are not announced.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        session = factory(bind=conn)
        try:
            yield UnitOfWork(session, now)
            session.commit()  # writes anything still pending, each statement again on its own; no COMMIT is sent
        finally:
            session.close()
