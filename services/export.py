"""`shanzhi export`: tickets with their full audit trail, as JSON Lines or an Excel workbook.

One record per ticket: every column of the ticket, its reporters (with names), and its events
(who, when, from, to, note) in order. Read-only; times in ISO 8601 (UTC, as stored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session, col, select

from storage.models import Person, Ticket, TicketEvent, TicketReporter

TICKET_COLUMNS = [c.name for c in Ticket.__table__.columns]  # type: ignore[attr-defined]


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def ticket_records(
    session: Session, *, created_from: datetime | None = None, created_to: datetime | None = None, batch: int = 500
) -> Iterator[dict]:
    """Tickets created in [from, to), oldest first, each with reporters and events."""
    names: dict[int, str] = {p.id: p.name for p in session.exec(select(Person)).all()}  # type: ignore[misc]
    last_id = 0
    while True:
        stmt = select(Ticket).where(col(Ticket.id) > last_id).order_by(col(Ticket.id)).limit(batch)
        if created_from is not None:
            stmt = stmt.where(col(Ticket.created_at) >= created_from)
        if created_to is not None:
            stmt = stmt.where(col(Ticket.created_at) < created_to)
        tickets = list(session.exec(stmt).all())
        if not tickets:
            return
        ids = [t.id for t in tickets]
        events: dict[int, list[dict]] = {}
        for e in session.exec(
            select(TicketEvent).where(col(TicketEvent.ticket_id).in_(ids)).order_by(col(TicketEvent.id))
        ).all():
            events.setdefault(e.ticket_id, []).append(
                {
                    "at": _plain(e.at),
                    "actor_id": e.actor_id,
                    "actor": names.get(e.actor_id) if e.actor_id else "system",
                    "action": e.action,
                    "from": e.from_status,
                    "to": e.to_status,
                    "note": e.note,
                }
            )
        reporters: dict[int, list[dict]] = {}
        for r in session.exec(
            select(TicketReporter).where(col(TicketReporter.ticket_id).in_(ids)).order_by(col(TicketReporter.id))
        ).all():
            reporters.setdefault(r.ticket_id, []).append(
                {
                    "person_id": r.person_id,
                    "name": names.get(r.person_id),
                    "platform": r.platform,
                    "chat_id": r.chat_id,
                    "message_id": r.message_id,
                    "joined_at": _plain(r.joined_at),
                    "rating": r.rating,
                    "rated_at": _plain(r.rated_at),
                }
            )
        for t in tickets:
            rec = {c: _plain(getattr(t, c)) for c in TICKET_COLUMNS}
            rec["reporter"] = names.get(t.reporter_id)
            rec["reporters"] = reporters.get(t.id, [])  # type: ignore[arg-type]
            rec["events"] = events.get(t.id, [])  # type: ignore[arg-type]
            yield rec
        last_id = ids[-1]  # type: ignore[assignment]


def write_jsonl(records: Iterator[dict], out: IO[str]) -> int:
    n = 0
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        n += 1
    return n


def write_xlsx(records: Iterator[dict], path: Path) -> int:
    """Three sheets: tickets (one row each), events and reporters (one row each, keyed by ticket no)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws_t, ws_e, ws_r = wb.create_sheet("tickets"), wb.create_sheet("events"), wb.create_sheet("reporters")
    t_cols = TICKET_COLUMNS + ["reporter", "reporter_count"]
    e_cols = ["at", "actor_id", "actor", "action", "from", "to", "note"]
    r_cols = ["person_id", "name", "platform", "chat_id", "message_id", "joined_at", "rating", "rated_at"]
    ws_t.append(t_cols)
    ws_e.append(["ticket_no"] + e_cols)
    ws_r.append(["ticket_no"] + r_cols)
    n = 0
    for rec in records:
        row = dict(rec, reporter_count=len(rec["reporters"]))
        ws_t.append([_cell(row.get(c)) for c in t_cols])
        for e in rec["events"]:
            ws_e.append([rec["no"]] + [_cell(e.get(c)) for c in e_cols])
        for r in rec["reporters"]:
            ws_r.append([rec["no"]] + [_cell(r.get(c)) for c in r_cols])
        n += 1
    wb.save(path)
    return n


def _cell(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, str):
        # openpyxl refuses control characters; a formula-looking text must stay text
        v = "".join(ch for ch in v if ch in "\t\n\r" or ord(ch) >= 32)
        return "'" + v if v[:1] in ("=", "+", "-", "@") else v
    return v
