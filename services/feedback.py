"""Corrections by grid workers and officials, as labelled examples for the classifier.

A dismissal (不是诉求 / 忽略) says the text was not a complaint; a re-categorisation gives the
right category; a confirmation (立案) of an uncertain message says it was one. Exported in the
eval CSV format (id,text,intent,category,urgent) so `shanzhi rules train` can take them beside
the dev set.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlmodel import select

from services.masking import mask
from services.uow import UnitOfWork
from storage.models import Ticket, TicketEvent
from storage.status import Status

FIELDS = ["id", "text", "intent", "category", "urgent", "note"]


def corrections(uow: UnitOfWork) -> list[dict[str, str]]:
    corrected_ids = uow.session.exec(
        select(TicketEvent.ticket_id).where(TicketEvent.action.in_(("dismiss", "recategorise", "confirm"))).distinct()  # type: ignore[attr-defined]
    ).all()
    rows: list[dict[str, str]] = []
    for tid in sorted(corrected_ids):
        t = uow.session.get(Ticket, tid)
        if t is None:
            continue
        actions = [e.action for e in uow.tickets.events(tid)]
        if t.status == Status.DISMISSED:
            intent, category, note = "other", "", "dismissed: not a complaint"
        else:
            intent, category = "complaint", t.category
            note = "recategorised" if "recategorise" in actions else "confirmed by grid worker"
        rows.append(
            {
                "id": f"fb-{t.no}",
                "text": mask(t.text),
                "intent": intent,
                "category": category,
                "urgent": "1" if t.urgent and intent == "complaint" else "0",
                "note": note,
            }
        )
    return rows


def export_csv(uow: UnitOfWork, path: Path) -> int:
    rows = corrections(uow)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return len(rows)
