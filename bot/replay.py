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
    config: Config, path: Path, *, database_url: str | None = None, model: str | None = None
) -> dict[str, int]:
    return asyncio.run(_replay(config, path, database_url, model))


async def _replay(config: Config, path: Path, database_url: str | None, model: str | None) -> dict[str, int]:
    rows = list(read_rows(path))
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
                        sent_at=when,
                    )
                except Exception:
                    parse_errors += 1
                if n % 50 == 0:
                    await app.deliver()
                progress.advance(task)
        await app.idle(timeout=60)
        return _counts(app, len(rows), parse_errors)
    finally:
        await app.stop()
        if tmp is not None:
            tmp.cleanup()


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
