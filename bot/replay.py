"""`shanzhi replay`: a file of messages through the same pipeline as a live group, non-interactively."""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from bot.adapters.local import LocalAdapter
from bot.app import BotApp, load_classifier
from core.clock import SHANGHAI, ManualClock
from core.config import Config
from storage.models import InboxMessage

REPLAY_START = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday morning


@dataclass(frozen=True)
class ReplayRow:
    id: str
    text: str | None
    group: str | None
    sender: str | None
    sent_at: datetime | None
    kind: str = "text"
    reply_to: str | None = None  # the id of an earlier row this one quotes


def _blank(v: object) -> str | None:
    if v is None:
        return None
    s = str(v)
    return s if s.strip() else None


def _when(v: str | None) -> datetime | None:
    if not v:
        return None
    try:
        dt = datetime.fromisoformat(v.strip())
    except ValueError as e:
        raise ValueError(f"sent_at {v!r} is not an ISO date-time") from e
    return dt if dt.tzinfo else dt.replace(tzinfo=SHANGHAI)


def read_rows(path: Path) -> Iterator[ReplayRow]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from e
                yield ReplayRow(
                    str(d.get("id") or n),
                    _blank(d.get("text")),
                    _blank(d.get("group")),
                    _blank(d.get("sender")),
                    _when(_blank(d.get("sent_at"))),
                    _blank(d.get("kind")) or "text",
                    _blank(d.get("reply_to")),
                )
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise ValueError(f"{path}: needs a header with at least a 'text' column")
        for n, d in enumerate(reader, 1):
            yield ReplayRow(
                _blank(d.get("id")) or str(n),
                d.get("text"),
                _blank(d.get("group")),
                _blank(d.get("sender")),
                _when(_blank(d.get("sent_at"))),
                _blank(d.get("kind")) or "text",
                _blank(d.get("reply_to")),
            )


def _group_resolver(config: Config):  # type: ignore[no-untyped-def]
    groups = [g for g in (config.org.groups if config.org else []) if g.platform == "local"]
    regions = {r.code: r.name for r in (config.org.regions if config.org else [])}
    default = groups[0].chat_id if groups else "replay"

    def resolve(name: str | None) -> str:
        if not name:
            return default
        for g in groups:
            if name in (g.chat_id, g.title, g.region, regions.get(g.region)):
                return g.chat_id
        return name

    return resolve


def replay_file(
    config: Config,
    path: Path,
    *,
    database_url: str | None = None,
    model: str | None = None,
    trace: Path | None = None,
) -> dict[str, int]:
    return replay_rows(config, list(read_rows(path)), database_url=database_url, model=model, trace=trace)


def replay_rows(
    config: Config,
    rows: list[ReplayRow],
    *,
    database_url: str | None = None,
    model: str | None = None,
    trace: Path | None = None,
) -> dict[str, int]:
    return asyncio.run(_replay(config, rows, database_url, model, trace))


async def _replay(
    config: Config, rows: list[ReplayRow], database_url: str | None, model: str | None, trace: Path | None
) -> dict[str, int]:
    tmp = None
    if database_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="shanzhi-replay-")
        database_url = f"sqlite:///{tmp.name}/replay.db"
    clock = ManualClock(REPLAY_START)
    local = LocalAdapter(clock)
    app = BotApp(
        config, clock=clock, database_url=database_url, adapters=[local], classify=load_classifier(config, model)
    )
    await app.start(background=False)
    resolve = _group_resolver(config)
    parse_errors = 0
    try:
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("replay", total=len(rows))
            for n, r in enumerate(rows):
                when = r.sent_at or REPLAY_START + timedelta(minutes=n)
                if when > clock.now():
                    clock.set(when)
                try:
                    await local.say(
                        r.sender or f"replay:{r.id}",
                        r.text,
                        group=resolve(r.group),
                        kind=r.kind,
                        message_id=f"replay:{r.id}",
                        reply_to=f"replay:{r.reply_to}" if r.reply_to else None,
                        sent_at=when,
                    )
                except Exception:
                    parse_errors += 1
                if n % 50 == 0:
                    await app.deliver()
                progress.advance(task)
        await app.idle(timeout=60)
        if trace is not None:
            write_trace(app, rows, trace)
        return _counts(app, len(rows), parse_errors)
    finally:
        await app.stop()
        if tmp is not None:
            tmp.cleanup()


def write_trace(app: BotApp, rows: list[ReplayRow], path: Path) -> None:
    """One JSON line per input row: what the inbox recorded for it (outcome, ticket), how it was read
    (category, urgent, confidence) and, where it joined a ticket, the rule that joined it."""
    from sqlmodel import col, select

    from storage.models import Ticket, TicketEvent

    with app.services.uow() as uow:
        inbox = {
            m.message_id: m
            for m in uow.session.exec(select(InboxMessage).where(col(InboxMessage.message_id).like("replay:%"))).all()
        }
        tickets = {t.id: t for t in uow.session.exec(select(Ticket)).all()}
        notes: dict[tuple[int, str], str] = {}
        for e in uow.session.exec(select(TicketEvent).where(col(TicketEvent.action).in_(("merge", "detail")))).all():
            notes[(e.ticket_id, (e.note or "").split("〔")[0])] = (e.note or "").rpartition("〔")[2].rstrip("〕")
    with path.open("w", encoding="utf-8") as out:
        for r in rows:
            m = inbox.get(f"replay:{r.id}")
            c = app.router.classify(r.text) if r.text else None
            t = tickets.get(m.ticket_id) if m is not None and m.ticket_id else None
            reason = notes.get((t.id, (r.text or "").strip()[:460]), "") if t is not None and t.id else ""
            line = {
                "id": r.id,
                "outcome": (m.result if m is not None else None) or "ignored",
                "ticket": t.no if t is not None else None,
                "category": c.category if c is not None and c.acted_intent(0.0) == "complaint" else None,
                "urgent": bool(c.urgent) if c is not None else False,
                "confidence": c.confidence if c is not None else None,
                "reason": reason or (m.result if m is not None else ""),
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _counts(app: BotApp, messages: int, extra_errors: int) -> dict[str, int]:
    from sqlmodel import col, select

    with app.services.uow() as uow:
        rows = uow.session.exec(
            select(InboxMessage.result, InboxMessage.status).where(col(InboxMessage.message_id).like("replay:%"))
        ).all()  # type: ignore[attr-defined]
    results = Counter(r for r, _ in rows)
    failed = sum(1 for _, s in rows if s == "failed")
    return {
        "messages": messages,
        "tickets_opened": results["ticket"] + results["urgent"],
        "merged_into_existing": results["merged"],
        "prompts_to_grid_workers": results["prompt"],
        "consultations": results["consultation"],
        "urgent_alerts": results["urgent"],
        "non_text": results["non_text"],
        "errors": failed + extra_errors,
    }
