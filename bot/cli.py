"""The `shanzhi` command line: run the bot, replay files through it, evaluate, report, maintain."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from bot.config import ConfigError, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help="善治 shanzhi: village group chat → tracked tickets")
rules_app = typer.Typer(no_args_is_help=True, help="The classifier: train its model from labelled messages")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures as ratios to a baseline run in the same process)")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
feedback_app = typer.Typer(no_args_is_help=True, help="Corrections made by grid workers, as labelled data")
app.add_typer(rules_app, name="rules")
app.add_typer(bench_app, name="bench")
app.add_typer(db_app, name="db")
app.add_typer(feedback_app, name="feedback")

ConfigOpt = typer.Option(None, "--config", "-c", help="config.yaml to use (default: the repository's)")


def _config(path: Optional[Path]):  # type: ignore[no-untyped-def]
    try:
        return load_config(path)
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e


def _logging(verbose: bool = False, log_file: Path | None = None) -> None:
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)


@app.command()
def run(config: Optional[Path] = ConfigOpt, verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the bot: Telegram/WeChat when configured, else the local chat in this terminal."""
    from bot.runner import run_bot

    cfg = _config(config)
    code = asyncio.run(run_bot(cfg, verbose=verbose))
    raise typer.Exit(code)


@app.command()
def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV (id,text[,group,sender,sent_at]) or JSONL"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object on the last line"),
    db: Optional[str] = typer.Option(None, "--db", help="database URL (default: a fresh temporary SQLite file)"),
    model: Optional[Path] = typer.Option(None, "--model", help="classifier model file (default: config's)"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Feed a file of messages through the whole pipeline, non-interactively."""
    from bot.replay import replay_file

    cfg = _config(config)
    _logging(log_file=cfg.data_dir / "replay.log")
    try:
        counts = replay_file(cfg, file, database_url=db, model=str(model) if model else None)
    except ValueError as e:
        typer.echo(f"replay: {e}", err=True)
        raise typer.Exit(2) from e
    if as_json:
        typer.echo(json.dumps(counts, ensure_ascii=False))
    else:
        for k, v in counts.items():
            typer.echo(f"{k:>26}: {v}")


@app.command()
def status(config: Optional[Path] = ConfigOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Inbox/outbox backlog and each platform's connection state."""
    from bot.app import BotApp

    from bot.resilience import format_states, read_states
    from storage.db import is_unreachable

    cfg = _config(config)
    try:
        bot = BotApp(cfg, classify=lambda text: None)  # type: ignore[arg-type,return-value]
        st = bot.status()
        st.pop("resilience", None)  # this command's own view; the running bots' follow
        bot.engine.dispose()
    except Exception as e:  # noqa: BLE001
        if not is_unreachable(e):
            raise
        st = {"inbox_pending": None, "outbox_unsent": None, "platforms": {},
              "database_error": str(getattr(e, "orig", None) or e).strip().splitlines()[0]}
    st["processes"] = read_states(cfg.data_dir)
    if as_json:
        typer.echo(json.dumps(st, ensure_ascii=False, default=str))
        return
    if st.get("database_error"):
        typer.echo(f"DATABASE UNREACHABLE: {st['database_error']}")
    for line in format_states(st["processes"]):
        typer.echo(line)
    typer.echo(f"inbox pending: {st['inbox_pending']}   outbox unsent: {st['outbox_unsent']}")
    if not st["platforms"]:
        typer.echo("platforms: none has connected yet")
    for name, s in st["platforms"].items():
        typer.echo(f"{name}: {'connected' if s['connected'] else 'DISCONNECTED'} since {s['since']}  {s['detail'] or ''}")


@db_app.command("upgrade")
def db_upgrade(config: Optional[Path] = ConfigOpt, url: Optional[str] = typer.Option(None, "--url")) -> None:
    """Apply the schema migrations (shanzhi run does this by itself)."""
    from storage.db import upgrade

    cfg = _config(config)
    upgrade(url or cfg.database_url())
    typer.echo("database is at the latest schema")


@feedback_app.command("export")
def feedback_export(
    out: Path = typer.Argument(..., help="CSV to write (id,text,intent,category,urgent,note)"),
    config: Optional[Path] = ConfigOpt,
    db: Optional[str] = typer.Option(None, "--db", help="database URL (default: the configured one)"),
) -> None:
    """Write the corrections made in chat (dismissed, re-categorised, confirmed) as labelled rows."""
    from bot.app import BotApp
    from services.feedback import export_csv

    cfg = _config(config)
    bot = BotApp(cfg, database_url=db, classify=lambda text: None)  # type: ignore[arg-type,return-value]
    with bot.services.uow() as uow:
        n = export_csv(uow, out)
    bot.engine.dispose()
    typer.echo(f"{n} corrections written to {out}")


def _register_optional() -> None:
    """Commands contributed by other modules (classifier, schedules, storage tools)."""
    import importlib

    for module in ("bot.cli_classifier", "bot.cli_schedules", "bot.cli_storage"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        mod.register(app, rules_app, bench_app) if module == "bot.cli_classifier" else mod.register(app, bench_app, feedback_app)


_register_optional()


if __name__ == "__main__":  # pragma: no cover
    app()
