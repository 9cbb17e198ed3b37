"""What every command group shares: the --config option, loading the configuration, logging, errors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from core.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from services.container import Services

ConfigOpt = typer.Option(None, "--config", "-c", help="config.yaml to use (default: the repository's)")


def load(path: Path | None) -> Config:
    """The configuration, or exit 2 with the message naming the bad key (never a traceback)."""
    try:
        return load_config(path)
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e


def err(msg: str) -> None:
    typer.echo(msg, err=True)


def setup_logging(verbose: bool = False, log_file: Path | None = None) -> None:
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        handlers=handlers,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)


def open_services(config_path: Path | None, db: str | None) -> tuple[Config, Engine, Services]:
    """The configuration, an engine on the database (migrated to the latest schema) and the services over it:
    what the commands that read or change tickets without running a bot need."""
    from core.clock import SystemClock
    from services.container import Services
    from storage import db as storage_db

    cfg = load(config_path)
    url = db or cfg.database_url()
    storage_db.upgrade(url)
    engine = storage_db.make_engine(url)
    return cfg, engine, Services(cfg, engine, SystemClock())
