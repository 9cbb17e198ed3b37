"""`shanzhi export` (tickets with their audit trail, JSON Lines and Excel) and retention
(`shanzhi purge` masks personal data of tickets closed long ago), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.adapters.local import LocalAdapter
from bot.app import BotApp
from core.clock import ManualClock
from core.config import Config
from services.export import ticket_records, write_jsonl, write_xlsx
from services.retention import purge
from storage.models import InboxMessage, Person, Ticket
from tests.support.crash_worker import classify
from tests.support.paths import REPO as REPO_ROOT

REPO = REPO_ROOT
PHONE = "13812345678"


@pytest.fixture
async def bot(config: Config, clock: ManualClock, database_url: str):  # type: ignore[no-untyped-def]
    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[local], classify=classify)
    await app.start(background=False)
    try:
        yield app, local
    finally:
        await app.stop()


async def _two_tickets(app: BotApp, local: LocalAdapter, clock: ManualClock) -> tuple[str, str]:
    await local.say("王大妈", f"诉:村口路灯坏了，王大妈电话{PHONE}", group="和平村群")
    await local.say("赵大爷", "诉:菜市场垃圾没人清，很久了", group="石桥村群")
    assert await app.idle()
    with app.services.uow() as uow:
        old, new = [t.no for t in uow.session.exec(select(Ticket).order_by(Ticket.id)).all()]
    await local.say("李网格", f"/dismiss {old} 不是诉求", group="和平村群")
    assert await app.idle()
    return old, new


async def test_export_has_every_ticket_with_its_audit_trail(bot, clock: ManualClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, local = bot
    old, new = await _two_tickets(app, local, clock)
    with app.services.uow() as uow:
        recs = list(ticket_records(uow.session))
        assert [r["no"] for r in recs] == [old, new]
        first = recs[0]
        assert first["status"] == "dismissed" and first["reporter"] == "王大妈"
        assert [e["action"] for e in first["events"]][-1] and first["events"][-1]["to"] == "dismissed"
        assert first["events"][-1]["actor"] == "李网格"
        assert first["reporters"][0]["name"] == "王大妈"
        with (tmp_path / "t.jsonl").open("w", encoding="utf-8") as f:
            assert write_jsonl(iter(recs), f) == 2
        assert write_xlsx(iter(recs), tmp_path / "t.xlsx") == 2
        # a date range
        later = list(ticket_records(uow.session, created_from=clock.now() + timedelta(days=1)))
        assert later == []
    lines = (tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["no"] == old
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "t.xlsx", read_only=True)
    assert wb.sheetnames == ["tickets", "events", "reporters"]
    rows = list(wb["tickets"].iter_rows(values_only=True))
    assert len(rows) == 3 and rows[1][rows[0].index("no")] == old
    assert any(r[0] == old for r in wb["events"].iter_rows(values_only=True))


async def test_purge_masks_personal_data_of_old_closed_tickets_only(bot, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    app, local = bot
    old, new = await _two_tickets(app, local, clock)
    with app.services.uow() as uow:
        assert purge(uow, 365).tickets == 0  # nothing closed a year ago yet
    clock.advance(days=400)
    with app.services.uow() as uow:
        dry = purge(uow, 365, dry_run=True)
    assert dry.tickets == 1
    with app.services.uow() as uow:
        assert PHONE in uow.tickets.by_no(old).text  # type: ignore[union-attr]
        res = purge(uow, 365)
    assert res.tickets == 1 and res.inbox_messages >= 1 and res.people == 1
    with app.services.uow() as uow:
        t_old, t_new = uow.tickets.by_no(old), uow.tickets.by_no(new)
        assert PHONE not in t_old.text and "王大妈" not in t_old.text and "路灯坏了" in t_old.text  # type: ignore[union-attr]
        assert t_old.category and t_old.status == "dismissed"  # type: ignore[union-attr]  (figures and feedback label stay)
        assert "菜市场垃圾没人清" in t_new.text  # type: ignore[union-attr]  (still open: untouched)
        src = uow.session.get(InboxMessage, t_old.source_inbox_id)  # type: ignore[union-attr]
        assert PHONE not in (src.text or "") and src.sender_name == ""  # type: ignore[union-attr]
        names = {p.name for p in uow.session.exec(select(Person)).all()}
        assert "王大妈" not in names and "赵大爷" in names
    with app.services.uow() as uow:
        again = purge(uow, 365)
    assert again.people == 0  # idempotent


def test_cli_export_and_purge(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "bot.cli"]
    out = subprocess.run(
        base + ["purge", "--db", database_url, "--json", "--dry-run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["tickets"] == 0
    xlsx = tmp_path / "e.xlsx"
    out = subprocess.run(
        base
        + [
            "export",
            "--db",
            database_url,
            "--format",
            "xlsx",
            "--out",
            str(xlsx),
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert xlsx.exists() and "exported 0 tickets" in out.stderr
