"""The bot's own commands: `shanzhi run`, `replay`, `conversations`, `status`, `db upgrade`, `feedback export`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from bot.cli.options import ConfigOpt, load, setup_logging


def run(config: Path | None = ConfigOpt, verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the bot: Telegram/WeChat when configured, else the local chat in this terminal."""
    from bot.runner import run_bot

    cfg = load(config)
    code = asyncio.run(run_bot(cfg, verbose=verbose))
    raise typer.Exit(code)


def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV (id,text[,group,sender,sent_at]) or JSONL"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object on the last line"),
    db: str | None = typer.Option(None, "--db", help="database URL (default: a fresh temporary SQLite file)"),
    model: Path | None = typer.Option(None, "--model", help="classifier model file (default: config's)"),
    trace: Path | None = typer.Option(None, "--trace", help="write one JSON line per message: outcome, ticket, reason"),
    config: Path | None = ConfigOpt,
) -> None:
    """Feed a file of messages through the whole pipeline, non-interactively."""
    from bot.replay import replay_file

    cfg = load(config)
    setup_logging(log_file=cfg.data_dir / "replay.log")
    try:
        counts = replay_file(cfg, file, database_url=db, model=str(model) if model else None, trace=trace)
    except ValueError as e:
        typer.echo(f"replay: {e}", err=True)
        raise typer.Exit(2) from e
    if as_json:
        typer.echo(json.dumps(counts, ensure_ascii=False))
    else:
        for k, v in counts.items():
            typer.echo(f"{k:>26}: {v}")


def conversations(
    paths: list[Path] = typer.Argument(..., exists=True, help="conversation files (YAML) or folders of them"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    config: Path | None = ConfigOpt,
) -> None:
    """Replay conversation files (tests/conversations/threads/README.md) and print the share of messages
    handled as expected, with every miss."""
    from bot.conversation_files import ConversationFileError, run

    cfg = load(config)
    setup_logging(log_file=cfg.data_dir / "replay.log")
    try:
        result = run(cfg, list(paths))
    except ConversationFileError as e:
        typer.echo(f"conversations: {e}", err=True)
        raise typer.Exit(2) from e
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    for miss in result.misses:
        typer.echo(f"miss  {miss}")
    typer.echo(
        f"{result.right}/{result.messages} handled as expected ({result.share:.1%}); "
        f"attached to the wrong ticket: {result.wrong_attachments}; "
        f"joins right: {result.me_too_joined}/{result.me_too_total}"
    )


def status(config: Path | None = ConfigOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Inbox/outbox backlog and each platform's connection state, read from the database (no bot is built)."""
    import sqlalchemy as sa

    from bot.delivery.resilience import format_states, read_states
    from core.clock import SystemClock
    from services.container import Services
    from storage.db import is_unreachable, make_engine
    from storage.models import PlatformState

    cfg = load(config)
    try:
        engine = make_engine(cfg.database_url())
        try:
            if sa.inspect(engine).has_table(PlatformState.__tablename__):
                st = Services(cfg, engine, SystemClock()).backlog()
            else:
                st = {"inbox_pending": 0, "outbox_unsent": 0, "platforms": {}, "database_schema": "missing"}
        finally:
            engine.dispose()
    except Exception as e:
        if not is_unreachable(e):
            raise
        st = {
            "inbox_pending": None,
            "outbox_unsent": None,
            "platforms": {},
            "database_error": str(getattr(e, "orig", None) or e).strip().splitlines()[0],
        }
    st["processes"] = read_states(cfg.data_dir)
    if as_json:
        typer.echo(json.dumps(st, ensure_ascii=False, default=str))
        return
    if st.get("database_error"):
        typer.echo(f"DATABASE UNREACHABLE: {st['database_error']}")
    if st.get("database_schema") == "missing":
        typer.echo("database: no tables yet (`shanzhi run` or `shanzhi db upgrade` creates them)")
    for line in format_states(st["processes"]):
        typer.echo(line)
    typer.echo(f"inbox pending: {st['inbox_pending']}   outbox unsent: {st['outbox_unsent']}")
    if not st["platforms"]:
        typer.echo("platforms: none has connected yet")
    for name, s in st["platforms"].items():
        typer.echo(
            f"{name}: {'connected' if s['connected'] else 'DISCONNECTED'} since {s['since']}  {s['detail'] or ''}"
        )


def db_upgrade(config: Path | None = ConfigOpt, url: str | None = typer.Option(None, "--url")) -> None:
    """Apply the schema migrations (shanzhi run does this by itself)."""
    from storage.db import upgrade

    cfg = load(config)
    upgrade(url or cfg.database_url())
    typer.echo("database is at the latest schema")


def feedback_export(
    out: Path = typer.Argument(..., help="CSV to write (id,text,intent,category,urgent,note)"),
    config: Path | None = ConfigOpt,
    db: str | None = typer.Option(None, "--db", help="database URL (default: the configured one)"),
) -> None:
    """Write the corrections made in chat (dismissed, re-categorised, confirmed) as labelled rows."""
    from bot.app import BotApp
    from services.feedback import export_csv

    cfg = load(config)
    bot = BotApp(cfg, database_url=db, classify=lambda text: None)  # type: ignore[arg-type,return-value]
    with bot.services.uow() as uow:
        n = export_csv(uow, out)
    bot.engine.dispose()
    typer.echo(f"{n} corrections written to {out}")


def register(app: typer.Typer, db_app: typer.Typer, feedback_app: typer.Typer) -> None:
    app.command()(run)
    app.command()(replay)
    app.command()(conversations)
    app.command()(status)
    db_app.command("upgrade")(db_upgrade)
    feedback_app.command("export")(feedback_export)
