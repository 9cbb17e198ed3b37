"""Policy notices to tagged groups, and the figures of `shanzhi report` (text, JSON, Excel)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli.main import app as cli
from core.clock import ManualClock
from core.config import Config
from services.errors import BadArgument
from services.notices import matches, parse_tags
from storage.models import ChatGroup, Ticket
from tests.support.fortnight import simulate
from tests.support.schedules import at, start_bot

runner = CliRunner()


def test_tags_match_all_keys_and_any_value_within_a_key() -> None:
    tags = parse_tags("township:敖阳街道,industry:manufacturing|mining")
    assert tags == {"township": ["敖阳街道"], "industry": ["manufacturing", "mining"]}
    assert parse_tags("township:A,township:B") == {"township": ["A", "B"]}
    assert matches(tags, {"township": ["敖阳街道"], "industry": ["mining"], "kind": ["village"]})
    assert not matches(tags, {"township": ["敖阳街道"]})
    assert not matches(tags, {"township": ["青石镇"], "industry": ["manufacturing"]})
    assert matches({}, {"township": ["青石镇"]})
    with pytest.raises(BadArgument):
        parse_tags("township")


async def test_notice_reaches_300_matching_groups_with_a_delivery_record_each(
    config: Config, database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bot = await start_bot(config, ManualClock(at(11, 30, 8)), database_url)
    try:
        with bot.app.services.uow() as uow:
            for i in range(400):
                town = "敖阳街道" if i < 300 else "青石镇"
                industry = ["manufacturing"] if i % 3 else ["mining", "retail"]
                uow.session.add(
                    ChatGroup(
                        platform="local",
                        chat_id=f"企业群{i:03d}",
                        title=f"企业群{i:03d}",
                        region_code="heping",
                        tags={"township": [town], "industry": industry},
                        created_at=uow.now,
                    )
                )
        text = tmp_path / "notice.txt"
        text.write_text("关于开展2026年度安全生产大检查的通知：请各企业12月5日前完成自查。", encoding="utf-8")
        result = runner.invoke(
            cli,
            [
                "notice",
                "add",
                str(text),
                "--tags",
                "township:敖阳街道,industry:manufacturing|mining",
                "--at",
                "2026-11-30 09:00",
                "--db",
                database_url,
            ],
        )
        assert result.exit_code == 0, result.output
        notice_id = int(result.stdout.strip().splitlines()[-1])

        await bot.sweep(at(11, 30, 8, 59))
        assert bot.sent("notice") == []
        await bot.sweep(at(11, 30, 9))
        await bot.sweep(at(11, 30, 9, 1))  # a second sweep posts nothing again
        posted = bot.sent("notice")
        assert len(posted) == 300 and {chat for _, chat, _, _ in posted} == {f"企业群{i:03d}" for i in range(300)}
        lines = [l for l in bot.local.bot_lines() if l.text.startswith("【通知】关于开展2026年度安全生产大检查")]
        assert len(lines) == 300

        result = runner.invoke(cli, ["notice", "status", str(notice_id), "--json", "--db", database_url])
        assert result.exit_code == 0, result.output
        st = json.loads(result.stdout.strip().splitlines()[-1])
        assert (st["status"], st["groups"], st["sent"], st["queued"], st["failed"]) == ("sent", 300, 300, 0, 0)
        assert len(st["deliveries"]) == 300 and all(d["status"] == "sent" and d["sent_at"] for d in st["deliveries"])
        assert {d["group"] for d in st["deliveries"]} == {f"企业群{i:03d}" for i in range(300)}
    finally:
        await bot.app.stop()


async def test_resident_question_under_a_notice_is_classified_like_any_message(config: Config, sqlite_url: str) -> None:
    from classifiers.types import Classification

    seen: list[str] = []

    def classify(text: str) -> Classification:
        seen.append(text)
        return Classification(intent="other", confidence=0.1, category=None, urgent=False)

    bot = await start_bot(config, ManualClock(at(11, 30, 8)), sqlite_url, classify=classify)
    try:
        with bot.app.services.uow() as uow:
            bot.app.schedules.notices.create(uow, "冬季防火通知", {"township": ["青石镇"]}, at(11, 30, 9))
        bot.clock.set(at(11, 30, 9))
        bot.app.schedules.sweep()
        await bot.app.deliver()  # the local chat only: telegram and wechat are not running here
        notice = [l for l in bot.local.bot_lines("和平村群") if l.text.startswith("【通知】冬季防火")]
        assert len(notice) == 1 and len(bot.sent("notice")) == 6  # 青石镇's 2 groups on each of local, telegram, wechat
        await bot.local.say("王大妈", "请问烧秸秆也不行吗", group="和平村群", reply_to=notice[0].message_id)
        assert seen == ["请问烧秸秆也不行吗"]
    finally:
        await bot.app.stop()


async def test_report_figures_match_the_database_in_text_json_and_excel(
    config: Config, database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bot, nos = await simulate(config, database_url)
    await bot.app.stop()
    xlsx = tmp_path / "report.xlsx"
    result = runner.invoke(
        cli,
        ["report", "--from", "2026-09-28", "--to", "2026-10-11", "--xlsx", str(xlsx), "--json", "--db", database_url],
    )
    assert result.exit_code == 0, result.output
    fig = json.loads(result.stdout.strip().splitlines()[-1])

    # Recomputed straight from the tickets table.
    from sqlmodel import Session

    from storage.db import make_engine

    engine = make_engine(database_url)
    with Session(engine) as s:
        tickets = [t for t in s.exec(select(Ticket)).all() if t.status not in ("pending", "dismissed")]
    engine.dispose()
    resolved = [t for t in tickets if t.status in ("followup", "closed")]
    closed = [t for t in tickets if t.status == "closed"]
    rated = [t for t in closed if t.satisfaction in ("satisfied", "basic", "unsatisfied")]
    good = [t for t in rated if t.satisfaction in ("satisfied", "basic")]
    s = fig["summary"]
    assert s["received"] == len(tickets) == 7
    assert s["resolved"] == len(resolved) == 5 and s["resolved_rate"] == round(5 / 7, 4)
    assert s["resolved_on_time"] == len([t for t in resolved if t.resolved_at <= t.deadline])
    assert (
        (s["rated"], s["no_answer"])
        == (len(rated), len([t for t in closed if t.satisfaction == "no_answer"]))
        == (3, 2)
    )
    assert s["satisfaction_rate"] == round(len(good) / len(rated), 4) == 1.0
    hours = sum((t.resolved_at - t.created_at).total_seconds() / 3600 for t in resolved) / len(resolved)
    assert s["avg_handling_hours"] == round(hours, 2)
    assert s["accepted_on_time"] == 2  # A and D accepted within 4 hours; the others were late or never
    assert {r["name"]: r["received"] for r in fig["by_township"]} == {"城关街道": 1, "青石镇": 6}
    assert sum(r["received"] for r in fig["by_unit"]) == 7
    # As of the wall clock (the report's time): only the two still-open tickets can be overdue.
    assert {w["no"] for w in fig["worst_overdue"]} <= {nos["B"], nos["D"]}

    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["汇总", "按乡镇", "按单位", "超期工单", "紧急警报", "说明"]
    head = [c.value for c in wb["汇总"][1]]
    row = dict(zip(head, [c.value for c in wb["汇总"][2]]))
    assert (row["受理"], row["办结"], row["评价"], row["未表态"]) == (7, 5, 3, 2)
    assert row["办结率"] == pytest.approx(5 / 7, abs=1e-4) and row["满意率"] == 1.0
    assert wb["汇总"]["F2"].number_format == "0.0%"
    towns = {r[0].value: r[1].value for r in wb["按乡镇"].iter_rows(min_row=2)}
    assert towns == {"城关街道": 1, "青石镇": 6}
    assert [r[0].value for r in wb["超期工单"].iter_rows(min_row=2)] == [w["no"] for w in fig["worst_overdue"]]
    units = {r[0].value: r[1].value for r in wb["按单位"].iter_rows(min_row=2)}
    assert units == {r["name"]: r["received"] for r in fig["by_unit"]}

    text = runner.invoke(cli, ["report", "--from", "2026-09-28", "--to", "2026-10-11", "--db", database_url])
    assert text.exit_code == 0 and "受理    7" in text.stdout and "青石镇" in text.stdout


def test_report_rejects_bad_dates(sqlite_url: str) -> None:
    result = runner.invoke(cli, ["report", "--from", "2026-10-11", "--to", "2026-09-28", "--db", sqlite_url])
    assert result.exit_code != 0
    result = runner.invoke(cli, ["report", "--from", "yesterday", "--to", "2026-09-28", "--db", sqlite_url])
    assert result.exit_code != 0
    assert date(2026, 1, 1)
