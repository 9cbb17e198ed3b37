"""Keep running through a database outage: hold what arrives, retry with backoff, catch up.

Plugged into `BotApp` by `attach(app)` (see `bot.app.PLUGINS`). While the database cannot be
reached:

- a message from a platform that re-delivers what it was not told about (Telegram: the update
  offset is not confirmed) is *held*: `on_message` raises `DatabaseUnavailable` and the adapter
  asks again later, as it does for any storage failure;
- a message from a platform that cannot re-deliver (WeChat, `resilience.spool_platforms`) is
  written to a bounded spool file on disk (fsynced) before `on_message` returns, and stored from
  there when the database is back — in arrival order, idempotently (a crash mid-drain re-stores
  rows the inbox already has, which it ignores);
- the database is tried again after `resilience.retry_initial_seconds`, doubling up to
  `retry_max_seconds`; a heartbeat notices an outage even when no message arrives;
- when it answers again the spool is drained, the inbox processed and delivery woken.

Every change is logged and written to `<data_dir>/run/bot-<pid>.json`, which `shanzhi status`
reads (it works even when the database itself is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bot.messages import ChatType, Inbound
from storage import db

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import BotApp

log = logging.getLogger(__name__)

HISTORY = 10  # outages remembered in the state file


class DatabaseUnavailable(RuntimeError):
    """The message was not stored: the database is unreachable. The platform should re-deliver it."""


# --- the spool -----------------------------------------------------------------------------------


def inbound_to_json(msg: Inbound) -> str:
    d = asdict(msg)
    d["chat_type"] = msg.chat_type.value
    d["sent_at"] = msg.sent_at.isoformat()
    d["mentions"] = list(msg.mentions)
    return json.dumps(d, ensure_ascii=False)


def inbound_from_json(line: str) -> Inbound:
    d = json.loads(line)
    d["chat_type"] = ChatType(d["chat_type"])
    d["sent_at"] = datetime.fromisoformat(d["sent_at"])
    d["mentions"] = tuple(d.get("mentions") or ())
    return Inbound(**d)


class Spool:
    """An append-only JSONL file of messages acknowledged to their platform but not yet stored.

    One file per platform, locked by the process that owns it (`flock`), so two processes on one
    data_dir never mix their spools; a spool left by a dead process is adopted on start.
    """

    def __init__(self, directory: Path, platform: str, limit: int) -> None:
        self.dir = directory
        self.platform = platform
        self.limit = limit
        self.path: Path | None = None
        self._fd: int | None = None
        self.count = 0

    def open(self) -> None:
        if self._fd is not None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        for i in range(64):
            path = self.dir / (f"{self.platform}.jsonl" if i == 0 else f"{self.platform}.{i}.jsonl")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.path, self._fd = path, fd
            self.count = len(self.read())
            return
        raise RuntimeError(f"no free spool file for {self.platform} in {self.dir}")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def append(self, msg: Inbound) -> bool:
        """Durably spool the message; False when the spool is full."""
        self.open()
        assert self._fd is not None
        if self.count >= self.limit:
            return False
        os.write(self._fd, (inbound_to_json(msg) + "\n").encode("utf-8"))
        os.fsync(self._fd)
        self.count += 1
        return True

    def read(self) -> list[Inbound]:
        if self.path is None or not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(inbound_from_json(line))
            except (ValueError, TypeError, KeyError):  # a torn last line after a power cut
                log.error("spool %s:%d unreadable; skipped", self.path, n)
        return out

    def clear(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        self.count = 0


def adoptable_spools(directory: Path) -> list[Path]:
    """Spool files no running process holds (left by a crash during an outage)."""
    found: list[Path] = []
    if not directory.exists():
        return found
    for path in sorted(directory.glob("*.jsonl")):
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            if path.stat().st_size:
                found.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    return found


# --- the state file ------------------------------------------------------------------------------


def run_dir(data_dir: Path) -> Path:
    return data_dir / "run"


def read_states(data_dir: Path) -> list[dict]:
    """The state of every bot process that wrote one under data_dir and is still alive."""
    import psutil

    states: list[dict] = []
    d = run_dir(data_dir)
    if not d.exists():
        return states
    for path in sorted(d.glob("bot-*.json")):
        try:
            st = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if st.get("host") == socket.gethostname() and not psutil.pid_exists(int(st.get("pid", 0))):
            with contextlib.suppress(OSError):  # a process that died without stopping
                path.unlink()
            continue
        st["running"] = True
        states.append(st)
    return states


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


# --- between the platforms and the store ---------------------------------------------------------------------------------


class Resilience:
    def __init__(self, app: BotApp) -> None:
        self.app = app
        self.cfg = app.config.resilience
        self.db_ok = True
        self.down_since: float | None = None
        self.detail = ""
        self.attempts = 0
        self.held = 0  # refusals to re-delivering platforms during the current/last outage
        self.spooled_total = 0
        self.caught_up = 0
        self.outages: list[dict[str, Any]] = []
        self.started = time.time()
        self._spools: dict[str, Spool] = {}
        self._recovering: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None
        self._drain_lock = asyncio.Lock()
        data_dir = Path(app.config.data_dir)
        self.spool_dir = data_dir / "spool"
        self.state_path = run_dir(data_dir) / f"bot-{os.getpid()}.json"

    # --- inbound -----------------------------------------------------------------------------

    def spools(self, platform: str) -> bool:
        return platform in self.cfg.spool_platforms

    def _spool(self, platform: str) -> Spool:
        sp = self._spools.get(platform)
        if sp is None:
            sp = self._spools[platform] = Spool(self.spool_dir, platform, self.cfg.spool_max_messages)
            sp.open()
        return sp

    async def on_message(self, msg: Inbound) -> None:
        if self.spools(msg.platform):
            sp = self._spool(msg.platform)
            if sp.count or not self.db_ok:  # keep arrival order behind what is already spooled
                self._spool_or_hold(sp, msg)
                return
        try:
            await self.app.ingest(msg)
        except Exception as exc:
            self._outage_or_raise(exc)
            if self.spools(msg.platform):
                self._spool_or_hold(self._spool(msg.platform), msg)
                return
            self.held += 1
            raise DatabaseUnavailable(
                f"database unreachable; {msg.platform} message {msg.message_id} not stored"
            ) from exc

    async def on_messages(self, msgs: list[Inbound]) -> None:
        """A batch: stored and processed together while the database answers; during an outage, or
        for a platform that spools, message by message as above (spooled or held)."""
        if not self.db_ok or any(self.spools(m.platform) for m in msgs):
            for msg in msgs:
                await self.on_message(msg)
            return
        try:
            await self.app.ingest_many(msgs)
        except Exception as exc:
            self._outage_or_raise(exc)
            self.held += len(msgs)
            raise DatabaseUnavailable(f"database unreachable; a batch of {len(msgs)} messages not stored") from exc

    def _outage_or_raise(self, exc: Exception) -> None:
        """A failure to store: an unreachable database starts (or continues) an outage; anything else
        is not ours to hold and propagates."""
        if not db.is_unreachable(exc):
            raise exc
        self._went_down(exc)

    def _spool_or_hold(self, sp: Spool, msg: Inbound) -> None:
        if sp.append(msg):
            self.spooled_total += 1
            self._write_state()
            return
        self.held += 1
        log.error("spool for %s is full (%d messages): message %s not accepted", msg.platform, sp.limit, msg.message_id)
        raise DatabaseUnavailable(f"database unreachable and the {msg.platform} spool is full")

    # --- state changes -----------------------------------------------------------------------

    def _went_down(self, exc: BaseException) -> None:
        detail = (
            str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300] if str(exc) else type(exc).__name__
        )
        if self.db_ok:
            self.db_ok = False
            self.down_since = time.time()
            self.detail = detail
            self.held = 0
            self.attempts = 0
            log.error(
                "database unreachable (%s): holding incoming messages, retrying in %.1fs",
                detail,
                self.cfg.retry_initial_seconds,
            )
            self._write_state()
        if self._recovering is None or self._recovering.done():
            with contextlib.suppress(RuntimeError):  # no running loop (a synchronous caller)
                self._recovering = asyncio.get_running_loop().create_task(self._recover(), name="db-recover")

    def _came_back(self) -> None:
        if self.db_ok:
            return
        now = time.time()
        outage = {
            "from": _iso(self.down_since),
            "to": _iso(now),
            "seconds": round(now - (self.down_since or now), 1),
            "detail": self.detail,
            "held": self.held,
            "spooled": sum(s.count for s in self._spools.values()),
        }
        self.outages = (self.outages + [outage])[-HISTORY:]
        self.db_ok = True
        log.warning(
            "database reachable again after %.1fs (%d attempts); catching up (%d spooled, %d held by platforms)",
            outage["seconds"],
            self.attempts,
            outage["spooled"],
            self.held,
        )
        self._write_state()

    def _ping(self) -> None:
        with self.app.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    async def _recover(self) -> None:
        delay = self.cfg.retry_initial_seconds
        while True:
            await asyncio.sleep(delay)
            self.attempts += 1
            try:
                await asyncio.to_thread(self._ping)
            except Exception as exc:
                if not db.is_unreachable(exc):
                    log.exception("database check failed")
                delay = min(delay * 2, self.cfg.retry_max_seconds)
                log.warning("database still unreachable (attempt %d); next try in %.1fs", self.attempts, delay)
                self._write_state(next_try_in=delay)
                continue
            self._came_back()
            try:
                await self.catch_up()
            except Exception as exc:
                if not db.is_unreachable(exc):
                    log.exception("catching up after the outage failed")
                self.db_ok = False
                self.down_since = self.down_since or time.time()
                delay = self.cfg.retry_initial_seconds
                continue
            return

    async def catch_up(self) -> int:
        """Store the spooled messages (oldest first), process the inbox, wake delivery."""
        n = 0
        async with self._drain_lock:
            for sp in list(self._spools.values()):
                while sp.count:
                    msgs = sp.read()
                    for msg in msgs:
                        await self.app.ingest(msg)
                        n += 1
                    if len(msgs) >= sp.count:  # nothing was appended meanwhile (no await above)
                        sp.clear()
            done = self.app.process_pending()
            self.app._wake(None)
        self.caught_up += n
        if n or done:
            log.warning("caught up: %d spooled messages stored, %d inbox rows processed", n, done)
        self._write_state()
        return n

    async def _adopt_orphans(self) -> None:
        """Spools left by a process that died during an outage: store their messages now."""
        own = {sp.path for sp in self._spools.values()}
        for path in adoptable_spools(self.spool_dir):
            if path in own:
                continue
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            try:
                tmp = Spool(self.spool_dir, "orphan", 0)
                tmp.path = path
                msgs = tmp.read()
                for msg in msgs:
                    await self.app.ingest(msg)
                os.ftruncate(fd, 0)
                os.fsync(fd)
                log.warning("stored %d messages from spool %s left by an earlier run", len(msgs), path.name)
            finally:
                os.close(fd)

    async def _beat(self) -> None:
        interval = min(max(self.cfg.retry_initial_seconds * 5, 1.0), 10.0)
        while True:
            await asyncio.sleep(interval)
            if not self.db_ok:
                continue
            try:
                await asyncio.to_thread(self._ping)
            except Exception as exc:
                if db.is_unreachable(exc):
                    self._went_down(exc)
                continue
            self._write_state()

    # --- lifecycle ---------------------------------------------------------------------------

    async def on_start(self, app: BotApp) -> None:
        for platform in {a.platform for a in app.adapters if self.spools(a.platform)}:
            self._spool(platform)
        try:
            await self._adopt_orphans()
            if any(sp.count for sp in self._spools.values()):
                await self.catch_up()
        except Exception as exc:
            if not db.is_unreachable(exc):
                raise
            self._went_down(exc)
        self._heartbeat = asyncio.create_task(self._beat(), name="db-heartbeat")
        self._write_state()

    async def on_stop(self, app: BotApp) -> None:
        for t in (self._heartbeat, self._recovering):
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        for sp in self._spools.values():
            if sp.count:
                log.warning(
                    "%d %s messages stay in the spool %s: they are stored at the next start",
                    sp.count,
                    sp.platform,
                    sp.path,
                )
            sp.close()
        with contextlib.suppress(OSError):
            self.state_path.unlink()

    # --- status --------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": _iso(self.started),
            "updated_at": _iso(time.time()),
            "database": "ok" if self.db_ok else "unreachable",
            "down_since": None if self.db_ok else _iso(self.down_since),
            "detail": None if self.db_ok else self.detail,
            "retry_attempts": 0 if self.db_ok else self.attempts,
            "held_by_platforms": self.held,
            "spooled": sum(sp.count for sp in self._spools.values()),
            "caught_up_from_spool": self.caught_up,
            "outages": self.outages,
        }

    def _write_state(self, **extra: Any) -> None:
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({**self.state(), **extra}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.state_path)
        except OSError:
            log.exception("cannot write %s", self.state_path)

    def status(self) -> dict:
        try:
            st = self.app.services.backlog()
        except Exception as exc:
            if not db.is_unreachable(exc):
                raise
            self._went_down(exc)
            st = {"inbox_pending": None, "outbox_unsent": None, "platforms": {}}
        st["resilience"] = self.state()
        return st


def format_states(states: list[dict]) -> list[str]:
    """`shanzhi status` lines for the bot processes' own view of the database."""
    lines = []
    for st in states:
        who = f"bot pid {st.get('pid')} on {st.get('host')}"
        if st.get("database") == "ok":
            db_line = "database ok"
        else:
            retry = f", next in {st['next_try_in']:.0f}s" if st.get("next_try_in") else ""
            db_line = (
                f"DATABASE UNREACHABLE since {st.get('down_since')} ({st.get('retry_attempts')} retries"
                f"{retry}): {st.get('detail')}"
            )
        lines.append(
            f"{who}: {db_line}; held by platforms {st.get('held_by_platforms', 0)}, "
            f"spooled {st.get('spooled', 0)}, caught up {st.get('caught_up_from_spool', 0)}"
        )
        for o in (st.get("outages") or [])[-3:]:
            lines.append(
                f"  outage {o['from']} → {o['to']} ({o['seconds']}s): {o['held']} held, {o['spooled']} spooled — {o['detail']}"
            )
    return lines


# --- start-up ------------------------------------------------------------------------------------


async def wait_for_database(
    url: str,
    retry_initial: float,
    retry_max: float,
    sleep: Callable[[float], Awaitable[None]],
    stop: asyncio.Event | None = None,
) -> bool:
    """Wait until the database answers; False if `stop` was set first.

    After a power cut the bot may come up before PostgreSQL does: rather than exit (and lean on
    a supervisor), it says so in the log and tries again with the outage backoff. A refused login
    or a missing database is a configuration error, not an outage: that raises at once.
    """
    if db.normalise_url(url).startswith("sqlite"):
        return True  # embedded: there is nothing to wait for
    engine = sa.create_engine(db.normalise_url(url), poolclass=sa.pool.NullPool)
    delay, waited = retry_initial, False
    try:
        while stop is None or not stop.is_set():
            try:
                with engine.connect():
                    if waited:
                        log.warning("database reachable again; starting")
                    return True
            except Exception as exc:
                if not db.is_unreachable(exc) or _is_config_error(exc):
                    raise
                log.warning("database unreachable at start (%s); trying again in %.0f s", _short(exc), delay)
            waited = True
            await sleep(delay)
            delay = min(delay * 2, retry_max)
        return False
    finally:
        engine.dispose()


# The server answered and refused: waiting will not fix these. (A server still starting up also
# answers FATAL — "the database system is starting up" — and that one is waited for.)
_CONFIG_ERRORS = re.compile(
    r'FATAL:\s+(database ".*" does not exist|role ".*" does not exist|password authentication failed|'
    r"no pg_hba\.conf entry|permission denied for database)"
)


def _is_config_error(exc: BaseException) -> bool:
    """A refused login (28xxx) or no such database (3D000); at connect time psycopg gives no
    SQLSTATE, only the server's message."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return code.startswith("28") or code == "3D000" or bool(_CONFIG_ERRORS.search(str(exc)))


def _short(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:200]
