"""`shanzhi report` and `shanzhi notice …`: the schedules' command-line side.

    shanzhi report --from 2026-09-28 --to 2026-10-11 [--xlsx report.xlsx] [--json]
    shanzhi notice add notice.txt --tags township:青石镇,kind:village --at "2026-12-01 09:00"
    shanzhi notice status 3 [--json]

Registered by bot/cli/main.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import typer

from bot.cli.options import open_services

REPORT_COLUMNS = [
    ("name", "名称"),
    ("received", "受理"),
    ("accepted_on_time", "按时签收"),
    ("accepted_on_time_rate", "按时签收率"),
    ("resolved", "办结"),
    ("resolved_rate", "办结率"),
    ("resolved_on_time", "按时办结"),
    ("resolved_on_time_rate", "按时办结率"),
    ("rated", "评价"),
    ("satisfied", "满意"),
    ("basic", "基本满意"),
    ("unsatisfied", "不满意"),
    ("no_answer", "未表态"),
    ("satisfaction_rate", "满意率"),
    ("avg_handling_hours", "平均办理时长(小时)"),
]
OVERDUE_COLUMNS = [
    ("no", "工单号"),
    ("category", "类别"),
    ("unit", "承办单位"),
    ("township", "乡镇"),
    ("deadline", "办结时限"),
    ("overdue_hours", "超期(小时)"),
]
EMERGENCY_COLUMNS = [
    ("no", "工单号"),
    ("kind", "类型"),
    ("reported_at", "报告时间"),
    ("to_alert_minutes", "至首次警报(分钟)"),
    ("to_ack_minutes", "至收到(分钟)"),
    ("to_on_site_minutes", "至到场(分钟)"),
    ("rounds", "警报轮数"),
    ("acknowledged_by", "收到人"),
    ("status", "状态"),
]


def _date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as e:
        raise typer.BadParameter(f"{what}: expected YYYY-MM-DD, got {value!r}") from e


def write_xlsx(fig: dict, path: Path) -> None:
    """One sheet per breakdown: 汇总, 按乡镇, 按单位, 超期工单."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    sheets = [("汇总", [fig["summary"]]), ("按乡镇", fig["by_township"]), ("按单位", fig["by_unit"])]
    first = True
    for title, rows in sheets:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = title
        ws.append([label for _, label in REPORT_COLUMNS])
        for r in rows:
            ws.append([r[key] for key, _ in REPORT_COLUMNS])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for col_idx, (key, _) in enumerate(REPORT_COLUMNS, 1):
            if key.endswith("_rate"):
                for row in ws.iter_rows(min_row=2, min_col=col_idx, max_col=col_idx):
                    row[0].number_format = "0.0%"
        ws.column_dimensions["A"].width = 18
    ws = wb.create_sheet("超期工单")
    ws.append([label for _, label in OVERDUE_COLUMNS])
    for w in fig["worst_overdue"]:
        ws.append([w[key] for key, _ in OVERDUE_COLUMNS])
    ws = wb.create_sheet("紧急警报")
    ws.append([label for _, label in EMERGENCY_COLUMNS])
    for e in fig.get("emergencies", []):
        ws.append([e[key] for key, _ in EMERGENCY_COLUMNS])
    ws = wb.create_sheet("说明")
    ws.append(["期间", f"{fig['from']} 至 {fig['to']}（含首尾）"])
    ws.append(["统计时间", fig["as_of"]])
    ws.append(["满意率", "(满意 + 基本满意) / 评价件数；未表态单列，不计入分母"])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def register(app: typer.Typer, notice_app: typer.Typer) -> None:

    @app.command()
    def report(
        date_from: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD (inclusive)"),
        date_to: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD (inclusive)"),
        xlsx: Path | None = typer.Option(None, "--xlsx", help="also write an Excel workbook, one sheet per breakdown"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object on the last line"),
        db: str | None = typer.Option(None, "--db", help="database URL (default: the configured one)"),
        config: Path | None = typer.Option(None, "--config", "-c"),
    ) -> None:
        """Figures for a period: received, 按时签收率, 办结率, 按时办结率, 满意率, handling time; per township and unit."""
        from services.reports import ReportService

        start, end = _date(date_from, "--from"), _date(date_to, "--to")
        if end < start:
            raise typer.BadParameter("--to is before --from")
        cfg, _engine, services = open_services(config, db)
        try:
            reports = ReportService(cfg, services.calendar, cfg.schedules)
            with services.uow() as uow:
                fig = reports.figures(uow, start, end, uow.now).as_dict()
        finally:
            services.engine.dispose()
        if xlsx is not None:
            write_xlsx(fig, xlsx)
        if as_json:
            typer.echo(json.dumps(fig, ensure_ascii=False))
            return
        _print_report(fig, xlsx)

    @notice_app.command("add")
    def notice_add(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the notice text (UTF-8)"),
        tags: str = typer.Option("", "--tags", help="key:value[,key:value…]; AND across keys, OR within a key (a|b)"),
        at: str | None = typer.Option(
            None, "--at", help='when to post, "YYYY-MM-DD HH:MM" Asia/Shanghai (default: now)'
        ),
        db: str | None = typer.Option(None, "--db"),
        config: Path | None = typer.Option(None, "--config", "-c"),
    ) -> None:
        """Schedule a notice; prints its id. The running bot posts it at its time."""
        from services.errors import ShanzhiError
        from services.notices import NoticeService, parse_tags

        cfg, _engine, services = open_services(config, db)
        try:
            try:
                parsed = parse_tags(tags)
            except ShanzhiError as e:
                raise typer.BadParameter(str(e.params.get("hint") or e)) from e
            when = _when(at, cfg.timezone) if at else services.clock.now()
            svc = NoticeService()
            with services.uow() as uow:
                n = svc.create(uow, file.read_text(encoding="utf-8"), parsed, when)
                groups = len(svc.matching_groups(uow, parsed))
                nid = n.id
        finally:
            services.engine.dispose()
        typer.echo(f"notice #{nid}: {groups} matching group(s) at {when.isoformat()}", err=True)
        typer.echo(str(nid))

    @notice_app.command("status")
    def notice_status(
        notice_id: int = typer.Argument(...),
        as_json: bool = typer.Option(False, "--json"),
        db: str | None = typer.Option(None, "--db"),
        config: Path | None = typer.Option(None, "--config", "-c"),
    ) -> None:
        """A notice's delivery: one record per group (queued / sent / failed)."""
        from services.notices import NoticeService

        _cfg, _engine, services = open_services(config, db)
        try:
            with services.uow() as uow:
                st = NoticeService().status(uow, notice_id)
        finally:
            services.engine.dispose()
        if st is None:
            typer.echo(f"no notice #{notice_id}", err=True)
            raise typer.Exit(1)
        if as_json:
            typer.echo(json.dumps(st, ensure_ascii=False))
            return
        typer.echo(f"notice #{st['id']}: {st['status']}  at {st['send_at']}  tags {st['tags']}")
        typer.echo(f"groups {st['groups']}: sent {st['sent']}, queued {st['queued']}, failed {st['failed']}")
        for d in st["deliveries"]:
            typer.echo(f"  {d['status']:>6}  {d['platform']}:{d['group']}  {d['sent_at'] or ''}")


def _when(value: str, tz_name: str) -> datetime:
    from zoneinfo import ZoneInfo

    try:
        dt = datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError as e:
        raise typer.BadParameter(f'--at: expected "YYYY-MM-DD HH:MM", got {value!r}') from e
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz_name))


def _print_report(fig: dict, xlsx: Path | None) -> None:
    from bot.chat.texts import pct

    def line(r: dict) -> str:
        hours = "—" if r["avg_handling_hours"] is None else f"{r['avg_handling_hours']:.1f}h"
        return (
            f"{r['name']:<12} 受理 {r['received']:>4}  按时签收 {pct(r['accepted_on_time_rate']):>6}  办结 {pct(r['resolved_rate']):>6}  "
            f"按时办结 {pct(r['resolved_on_time_rate']):>6}  满意 {pct(r['satisfaction_rate']):>6} (评价 {r['rated']}, 未表态 {r['no_answer']})  "
            f"平均 {hours}"
        )

    typer.echo(f"{fig['from']} 至 {fig['to']}")
    typer.echo(line(fig["summary"]))
    for title, key in (("按乡镇", "by_township"), ("按单位", "by_unit")):
        typer.echo(f"\n{title}")
        for r in fig[key]:
            typer.echo("  " + line(r))
    if fig.get("emergencies"):
        from bot.chat.texts import emergency_figures_line

        typer.echo("\n紧急警报（从居民报告起，分钟）")
        for e in fig["emergencies"]:
            typer.echo("  " + emergency_figures_line(e))
    if fig["worst_overdue"]:
        typer.echo("\n超期最久")
        for w in fig["worst_overdue"]:
            typer.echo(f"  {w['no']}  {w['unit']}  {w['category']}  超期 {w['overdue_hours']:.0f} 小时")
    if xlsx is not None:
        typer.echo(f"\nwritten: {xlsx}")
