"""The local chat driving the whole bot as a transcript."""

from __future__ import annotations

from datetime import datetime

from bot.adapters.local import Line, LocalAdapter
from bot.app import BotApp
from core.clock import SHANGHAI, ManualClock

START = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)  # a Wednesday morning


class Chat:
    """The whole bot behind the local chat; each `say` returns what the bot answered to it."""

    def __init__(self, app: BotApp, local: LocalAdapter, clock: ManualClock) -> None:
        self.app = app
        self.local = local
        self.clock = clock

    async def say(self, who: str, text: str | None, group: str | None = "和平村群", **kw: object) -> list[Line]:
        before = len(self.local.transcript)
        await self.local.say(who, text, group=group, **kw)  # type: ignore[arg-type]
        assert await self.app.idle(timeout=20), "the bot did not go idle"
        return [l for l in self.local.transcript[before:] if l.speaker == "bot"]

    async def dm(self, who: str, text: str | None, **kw: object) -> list[Line]:
        return await self.say(who, text, group=None, **kw)

    def to(self, chat: str) -> list[Line]:
        """Everything the bot said in a chat ('和平村群', or '私聊:陈镇长')."""
        return self.local.bot_lines(chat)

    def last_message_id(self, who: str) -> str:
        return [l for l in self.local.transcript if l.speaker == who][-1].message_id

    def ticket(self, no: str | None = None):  # type: ignore[no-untyped-def]
        from sqlmodel import select

        from storage.models import Ticket

        with self.app.services.uow() as uow:
            stmt = select(Ticket).order_by(Ticket.id.desc())  # type: ignore[union-attr]
            if no:
                stmt = select(Ticket).where(Ticket.no == no)
            return uow.session.exec(stmt).first()

    def tickets(self):  # type: ignore[no-untyped-def]
        from sqlmodel import select

        from storage.models import Ticket

        with self.app.services.uow() as uow:
            return list(uow.session.exec(select(Ticket).order_by(Ticket.id)).all())

    def events(self, no: str) -> list[tuple[str, str | None, str | None]]:
        with self.app.services.uow() as uow:
            t = uow.tickets.by_no(no)
            assert t is not None
            return [(e.action, e.from_status, e.to_status) for e in uow.tickets.events(t.id)]  # type: ignore[arg-type]
