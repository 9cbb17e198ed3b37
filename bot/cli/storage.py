"""Storage commands: `shanzhi export`, `shanzhi purge`, `shanzhi bench ingest` (registered by bot.cli.main)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import typer

from bot.cli.options import ConfigOpt, load, open_services
from core.config import REPO_ROOT


def _day(value: str | None, opt: str):  # type: ignore[no-untyped-def]
    if not value:
        return None
    from core.clock import SHANGHAI

    try:
        d = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as e:
        raise typer.BadParameter(f"{value!r} is not a day like 2026-11-25", param_hint=opt) from e
    return datetime.combine(d, time(0), tzinfo=SHANGHAI)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("export")
    def export(
        fmt: str = typer.Option("jsonl", "--format", help="jsonl | xlsx"),
        date_from: str | None = typer.Option(None, "--from", help="first day of creation, YYYY-MM-DD (inclusive)"),
        date_to: str | None = typer.Option(None, "--to", help="last day of creation, YYYY-MM-DD (inclusive)"),
        out: Path | None = typer.Option(None, "--out", "-o", help="file to write (default: stdout for jsonl)"),
        db: str | None = typer.Option(None, "--db", help="database URL (default: the configured one)"),
        config: Path | None = ConfigOpt,
    ) -> None:
        """Tickets with their full audit trail (reporters, every transition) as JSON Lines or Excel."""
        from services.export import ticket_records, write_jsonl, write_xlsx

        if fmt not in ("jsonl", "xlsx"):
            raise typer.BadParameter("jsonl or xlsx", param_hint="--format")
        if fmt == "xlsx" and out is None:
            raise typer.BadParameter("an Excel export needs --out FILE.xlsx", param_hint="--out")
        start, end = _day(date_from, "--from"), _day(date_to, "--to")
        end = end + timedelta(days=1) if end else None
        _cfg, engine, services = open_services(config, db)
        try:
            with services.uow() as uow:
                records = ticket_records(uow.session, created_from=start, created_to=end)
                if fmt == "xlsx":
                    n = write_xlsx(records, out)  # type: ignore[arg-type]
                elif out is None:
                    n = write_jsonl(records, sys.stdout)
                else:
                    with out.open("w", encoding="utf-8") as f:
                        n = write_jsonl(records, f)
        finally:
            engine.dispose()
        typer.echo(f"exported {n} tickets" + (f" to {out}" if out else ""), err=True)

    @app.command("purge")
    def purge(
        days: int | None = typer.Option(None, "--days", help="override retention.purge_after_days"),
        dry_run: bool = typer.Option(False, "--dry-run", help="count what would be masked, change nothing"),
        as_json: bool = typer.Option(False, "--json"),
        db: str | None = typer.Option(None, "--db", help="database URL (default: the configured one)"),
        config: Path | None = ConfigOpt,
    ) -> None:
        """Mask personal data (names, phone numbers, raw texts) of tickets closed more than N days ago."""
        from services.retention import purge as do_purge

        cfg, engine, services = open_services(config, db)
        n_days = days if days is not None else cfg.retention.purge_after_days
        if n_days < 1:
            raise typer.BadParameter("at least 1 day", param_hint="--days")
        try:
            with services.uow() as uow:
                res = do_purge(uow, n_days, dry_run=dry_run)
        finally:
            engine.dispose()
        d = res.as_dict() | {"dry_run": dry_run}
        if as_json:
            typer.echo(json.dumps(d, ensure_ascii=False))
        else:
            typer.echo(
                ("would mask" if dry_run else "masked") + f" personal data of tickets closed before {d['cutoff']}:"
            )
            for k in ("tickets", "inbox_messages", "outbox_messages", "events", "consultations", "people"):
                typer.echo(f"  {k:>16}: {d[k]}")

    @bench_app.command("ingest")
    def bench_ingest(
        file: Path | None = typer.Argument(
            None,
            exists=True,
            dir_okay=False,
            help="messages CSV (column `text`) to repeat; default: the dev set "
            "(../shared/data/dev/messages.csv, else classifiers/data/dev/lanjiang.csv)",
        ),
        db: str | None = typer.Option(
            None,
            "--db",
            help="database URL (default: a fresh temporary SQLite file; "
            "on PostgreSQL a temporary schema, dropped afterwards)",
        ),
        messages: int = typer.Option(20000, "--messages", "-n"),
        baseline: int = typer.Option(3000, "--baseline", help="bare inbox inserts timed as the baseline"),
        batch: int = typer.Option(
            16,
            "--batch",
            min=1,
            help="messages handed over together (as one Telegram getUpdates "
            "answer); a message's time is its batch's, so p99 grows with it",
        ),
        as_json: bool = typer.Option(False, "--json", help="one JSON object on the last line"),
        profile: bool = typer.Option(False, "--profile", help="print a cProfile of a 2,000-message run instead"),
        config: Path | None = ConfigOpt,
    ) -> None:
        """Messages/s through store → classify → ticket → outbox, p50/p99, against bare inserts."""
        import logging

        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        from benchmarks.ingest import profile_one, run

        cfg = load(config)
        logging.basicConfig(level=logging.WARNING, force=True)
        if profile:
            typer.echo(profile_one(cfg, db))
            return
        r = run(
            cfg,
            database_url=db,
            messages=messages,
            baseline=baseline,
            batch=batch,
            texts_from=file,
            progress=lambda i, n: print(f"\r{i}/{n}", end="", file=sys.stderr, flush=True),
        )
        print("", file=sys.stderr)
        typer.echo(
            f"database: {r['db']}   messages: {r['messages']} in {r['seconds']}s "
            f"({r['tickets']} tickets, {r['outbox_rows']} outbound written)"
        )
        typer.echo(
            f"throughput: {r['msgs_per_s']} msg/s   per message (its batch of {r['batch']}: arrival → commit) "
            f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
        )
        typer.echo(
            f"baseline (bare inbox inserts, one commit each): {r['baseline_inserts_per_s']}/s   ratio {r['ratio']}"
        )
        typer.echo(
            f"rss: {r['rss_mb']} MB   process CPU {r['cpu_ms_per_batch']} ms a batch   "
            f"reference loop {r['reference_loop_ms']} ms (the CPU's speed during the run)"
        )
        if as_json:
            keys = (
                "messages",
                "msgs_per_s",
                "p99_ms",
                "baseline_inserts_per_s",
                "ratio",
                "rss_mb",
                "db",
                "p50_ms",
                "batch",
                "tickets",
                "cpu_ms_per_batch",
                "reference_loop_ms",
            )
            typer.echo(json.dumps({k: r[k] for k in keys}))
