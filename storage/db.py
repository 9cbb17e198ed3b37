"""Engines and schema management.

SQLite is the embedded default (WAL + synchronous=NORMAL: ~5x the commit rate of the default
journal with the same durability against process crashes); PostgreSQL through psycopg 3 for
production. The schema is owned by alembic: `upgrade()` brings any database to head.
"""

from __future__ import annotations

import logging
import time
import weakref
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage import ids
from storage.bulk import appends

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(
    url: str, *, echo: bool = False, background: bool = False, ping_after_idle: float | None = None
) -> Engine:
    """An engine for `url`. `background` (the running bot's engine): upkeep runs on a thread of
    its own instead of inside the bot's commits: an SQLite file's WAL checkpoints
    (storage.checkpoint), PostgreSQL's planner statistics (storage.pgstats). `ping_after_idle`
    (PostgreSQL): seconds a pooled connection may sit unused before its checkout pings it."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        if background and path and path != ":memory:":
            from storage.checkpoint import checkpoint_in_background

            checkpoint_in_background(engine, path)
        return engine
    # connect_timeout: an unreachable server fails fast, so the bot notices an outage and holds
    # messages instead of hanging; the pool re-checks connections that sat idle (`_ping_after_idle`).
    engine = sa.create_engine(url, echo=echo, connect_args={"connect_timeout": 5})
    _ping_after_idle(engine, PING_AFTER_IDLE if ping_after_idle is None else ping_after_idle)
    if background:
        from storage.pgstats import keep_statistics

        keep_statistics(engine)
    return engine


PING_AFTER_IDLE = 1.0  # seconds a pooled connection may sit unused before its checkout pings it


def _ping_after_idle(engine: Engine, after: float) -> None:
    """The pool's pre-ping, for connections that sat idle: not for one back from a batch a moment ago.

    SQLAlchemy's `pool_pre_ping` costs one round trip at every checkout: two a batch (storing,
    then processing). It is there for a connection the server dropped while it waited in the
    pool (a restart, an outage, an idle timeout), and a connection in use less than a second ago
    is not that. This is the same check through the pool's public checkout event: a failed ping
    raises `InvalidatePoolError`, which the pool handles as it does a failed pre-ping (every
    pooled connection older than now is let go, and a new one is made). If the server goes away
    within that second, the batch's first statement fails instead of the ping, a disconnect
    error all the same: the pool is invalidated and the batch is held and retried as in any
    outage (bot/delivery/resilience.py).
    """
    idle_from: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        if dbapi_conn is not None:  # None: the connection was invalidated
            idle_from[dbapi_conn] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        since = idle_from.get(dbapi_conn)  # None: just connected
        if since is None or time.monotonic() - since < after:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.InvalidatePoolError() from exc
        if not alive:
            raise sa.exc.InvalidatePoolError()


def is_transient(exc: BaseException) -> bool:
    """A database error that says nothing about the message: the server is unreachable or the
    connection broke (retry later), or a concurrent transaction won a race (retry now)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or ""
        # 40001 serialization failure, 40P01 deadlock, 08xxx connection, 57P0x admin shutdown
        return code in ("40001", "40P01") or code.startswith("08") or code.startswith("57P")
    return False


def is_unreachable(exc: BaseException) -> bool:
    """The database cannot be reached at all (as opposed to a lost race)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or ""
        if code in ("40001", "40P01"):
            return False
        return (
            isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
            or exc.connection_invalidated
            or code.startswith("08")
            or code.startswith("57P")
        )
    return False


def session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, class_=Session, expire_on_commit=False, autoflush=True)
    appends.install(factory)
    ids.install(factory)
    return factory


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the same path `shanzhi db upgrade` takes)."""
    from alembic import command

    url = normalise_url(url)
    if not url.startswith("postgresql"):
        command.upgrade(alembic_config(url), revision)
        return
    # Several bot processes may start at once on one PostgreSQL: one migrates, the others wait.
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            conn.commit()
            try:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()


MIGRATION_LOCK = 0x5A4E5A48  # "SNZH": the advisory lock key held while migrating


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
