"""Helpers for the schedules tests: a bot on a manual clock, tickets opened and worked through the
services (the same calls the router makes), and what the bot sent, read back from the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from bot.adapters.local import LocalAdapter
from bot.app import BotApp
from core.clock import SHANGHAI, ManualClock
from core.config import Config
from services.tickets import OpenRequest
from storage.models import OutboxMessage, Person, Reminder, Ticket

GROUP_REGION = {"和平村群": "heping", "石桥村群": "shiqiao", "南门社区群": "nanmen"}


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def hm(dt: datetime | None) -> str:
    assert dt is not None
    return dt.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


@dataclass
class Bot:
    app: BotApp
    local: LocalAdapter
    clock: ManualClock

    # --- tickets ---------------------------------------------------------------------------------

    def open(self, reporter: str, group: str, category: str, text: str, *, urgent: bool = False) -> str:
        s = self.app.services
        with s.uow() as uow:
            actor = s.org.actor(uow, "local", reporter, reporter)
            t = s.tickets.open(
                uow,
                actor,
                OpenRequest(
                    text=text,
                    category=category,
                    urgent=urgent,
                    confidence=0.9,
                    evidence="test",
                    platform="local",
                    chat_id=group,
                    region_code=GROUP_REGION[group],
                    source_message_id=f"m-{reporter}-{self.clock.now().timestamp()}",
                    source_inbox_id=None,
                ),
            )
            return t.no

    def do(self, who: str, action: str, no: str, arg: str = "") -> None:
        s = self.app.services
        with s.uow() as uow:
            actor = s.org.actor(uow, "local", who, who)
            if action == "accept":
                s.tickets.accept(uow, actor, no)
            elif action == "resolve":
                s.tickets.resolve(uow, actor, no, arg or "已办结")
            elif action == "return":
                s.tickets.return_(uow, actor, no, arg or "不属于本单位")
            elif action == "transfer":
                s.tickets.transfer(uow, actor, no, arg)
            elif action == "rate":
                s.tickets.rate(uow, actor, no, arg)
            else:  # pragma: no cover
                raise ValueError(action)

    def ticket(self, no: str) -> Ticket:
        with self.app.services.uow() as uow:
            t = uow.tickets.by_no(no)
            assert t is not None
            return t

    # --- time ------------------------------------------------------------------------------------

    async def sweep(self, when: datetime | None = None) -> dict[str, int]:
        if when is not None:
            self.clock.set(when)
        counts = self.app.schedules.sweep()
        assert await self.app.idle(timeout=60), "the bot did not go idle"
        return counts

    # --- what was sent ---------------------------------------------------------------------------

    def sent(self, *purposes: str, prefix: str | None = None) -> list[tuple[str, str, str, str]]:
        """(local time, recipient, purpose, ticket no) of outbox rows, in order."""
        with self.app.services.uow() as uow:
            rows = uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            names = {p.id: p.name for p in uow.session.exec(select(Person)).all()}
            nos = {t.id: t.no for t in uow.session.exec(select(Ticket)).all()}
            out = []
            for r in rows:
                if (purposes and r.purpose in purposes) or (prefix and r.purpose.startswith(prefix)):
                    who = names.get(r.recipient_person_id, r.chat_id) if r.recipient_person_id else r.chat_id
                    out.append((hm(r.created_at), who, r.purpose, nos.get(r.ticket_id, "")))
            return out

    def texts(self, purpose: str) -> list[str]:
        with self.app.services.uow() as uow:
            return [
                r.text
                for r in uow.session.exec(
                    select(OutboxMessage).where(OutboxMessage.purpose == purpose).order_by(OutboxMessage.id)
                ).all()
            ]

    def reminders(self, *statuses: str, tickets_only: bool = False) -> list[Reminder]:
        with self.app.services.uow() as uow:
            stmt = select(Reminder).order_by(Reminder.id)
            if tickets_only:
                stmt = stmt.where(Reminder.ticket_id != 0)
            if statuses:
                stmt = stmt.where(col(Reminder.status).in_(statuses))
            return list(uow.session.exec(stmt).all())


async def start_bot(config: Config, clock: ManualClock, url: str, classify=None) -> Bot:  # type: ignore[no-untyped-def]
    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=url, adapters=[local], classify=classify or (lambda text: None))
    await app.start(background=False)
    return Bot(app, local, clock)
