"""`shanzhi bench ingest`: messages/s through store → classify → ticket → outbox, against bare inserts.

The dev set is repeated to N messages (20,000 by default); each copy gets its own message ids and
its own group (bound to one of the sample villages), so neither the inbox's idempotency nor
duplicate merging turns the repeats into no-ops. Each message goes through `BotApp.on_message`
as a live one does, in batches of `batch` messages as an adapter receiving batches hands them
over (Telegram's getUpdates): `BotApp.on_messages` stores a batch in one transaction (a platform
would be told only after that commit) and processes it in another, its replies written to the
outbox; with `batch=1`, `BotApp.on_message` one message at a time. Nothing is sent.

A message's time is the time its batch took from arrival to the commit of its processing (what
it waits before its replies can go out), so p50/p99 grow with the batch size; the throughput
is messages over the whole run. In the same run, on the same database, bare single-row inbox
inserts (one commit each, SQLAlchemy Core) give the baseline.

The VM this runs on has changed speed by up to about 3x between days, so the run also reports the process's own
CPU time per batch and a fixed pure-Python reference loop timed in the same process: a figure
from a slow day and one from a fast day can then be told apart from a change in the code.
"""

from __future__ import annotations

import asyncio
import csv
import math
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from core.config import REPO_ROOT, Config

BATCH = 16  # messages handed over together by default (`--batch`)
DEV_SET = REPO_ROOT.parent / "shared" / "data" / "dev" / "messages.csv"
VILLAGES = ("heping", "shiqiao", "nanmen")


def dev_texts(path: Path | None = None) -> list[str]:
    if path is not None and not Path(path).exists():
        raise FileNotFoundError(f"no such file: {path}")
    for p in (path, DEV_SET, REPO_ROOT / "classifiers" / "data" / "dev" / "lanjiang.csv"):
        if p is not None and Path(p).exists():
            with Path(p).open(encoding="utf-8-sig", newline="") as f:
                return [r["text"] for r in csv.DictReader(f) if r.get("text")]
    raise FileNotFoundError("no dev set found (../shared/data/dev/messages.csv or classifiers/data/dev/lanjiang.csv)")


def reference_loop_ms(rounds: int = 3) -> float:
    """The best of `rounds` timings of a fixed pure-Python loop: the CPU's speed at the moment."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        acc = 0
        for i in range(1_000_000):
            acc += i
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def _percentile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


class _Scratch:
    """A database for the run: a temporary SQLite file, or a temporary schema on PostgreSQL."""

    def __init__(self, url: str | None) -> None:
        self.tmp = None
        self.schema = None
        if url is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="shanzhi-bench-")
            self.url = f"sqlite:///{self.tmp.name}/bench.db"
        elif url.startswith("sqlite"):
            self.url = url
        else:
            from storage.db import normalise_url

            base = normalise_url(url)
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            self.admin = sa.create_engine(base)
            with self.admin.begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            self.url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{self.schema}"

    def close(self) -> None:
        if self.schema:
            with self.admin.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self.admin.dispose()
        if self.tmp is not None:
            self.tmp.cleanup()


def baseline_inserts(engine: sa.Engine, n: int) -> float:
    """Bare inbox inserts, one commit each: rows per second."""
    from storage.models import InboxMessage

    table = InboxMessage.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    with engine.connect() as c:
        for i in range(n):
            c.execute(
                table.insert().values(
                    platform="bench",
                    chat_id="baseline",
                    chat_type="group",
                    message_id=f"{run}-{i}",
                    variant="",
                    sender_id="u",
                    sender_name="u",
                    kind="text",
                    text="基线",
                    status="done",
                    attempts=0,
                    received_at=now,
                    sent_at=now,
                )
            )
            c.commit()
    return n / (time.perf_counter() - t0)


def run(
    config: Config,
    *,
    database_url: str | None = None,
    messages: int = 20000,
    baseline: int = 3000,
    progress: Callable[[int, int], None] | None = None,
    batch: int | None = None,
    texts_from: Path | None = None,
) -> dict:
    return asyncio.run(_run(config, database_url, messages, baseline, progress, batch or BATCH, texts_from))


async def _run(
    config: Config,
    database_url: str | None,
    n: int,
    n_base: int,
    progress,
    batch: int,  # type: ignore[no-untyped-def]
    texts_from: Path | None = None,
) -> dict:
    import psutil

    from bot.adapters.local import LocalAdapter
    from bot.app import BotApp, freeze_loaded, load_classifier
    from bot.messages import ChatType, Inbound
    from core.clock import SHANGHAI, ManualClock
    from storage.models import ChatGroup

    texts = dev_texts(texts_from)
    scratch = _Scratch(database_url)
    try:
        start = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
        clock = ManualClock(start)
        app = BotApp(
            config,
            clock=clock,
            database_url=scratch.url,
            adapters=[LocalAdapter(clock)],
            classify=load_classifier(config),
        )
        copies = (n + len(texts) - 1) // len(texts)
        with app.services.uow() as uow:
            for k in range(copies):
                uow.session.add(
                    ChatGroup(
                        platform="local",
                        chat_id=f"bench-{k}",
                        title=f"压测群{k}",
                        region_code=VILLAGES[k % len(VILLAGES)],
                        created_at=uow.now,
                        tags={},
                    )
                )
        await app.start(background=False)
        freeze_loaded()  # as `shanzhi run` does after start-up
        times: list[float] = []
        ref_before = reference_loop_ms()
        cpu_all = time.process_time()
        t_all = time.perf_counter()
        pending: list[Inbound] = []
        for i in range(n):
            k, j = divmod(i, len(texts))
            pending.append(
                Inbound(
                    platform="local",
                    chat_id=f"bench-{k}",
                    chat_type=ChatType.GROUP,
                    sender_id=f"r{k}-{j % 97}",
                    sender_name=f"居民{j % 97}",
                    message_id=f"b{k}-{j}",
                    sent_at=clock.now(),
                    text=texts[j],
                    chat_title=f"压测群{k}",
                )
            )
            clock.advance(seconds=7)
            if len(pending) < batch and i < n - 1:
                continue
            t0 = time.perf_counter()
            if batch == 1:
                await app.on_message(pending[0])
            else:
                await app.on_messages(pending)
            times.extend([time.perf_counter() - t0] * len(pending))
            if progress and i // 200 != (i - len(pending)) // 200:
                progress(i, n)
            pending = []
        elapsed = time.perf_counter() - t_all
        cpu = time.process_time() - cpu_all
        ref = (ref_before + reference_loop_ms()) / 2
        with app.services.uow() as uow:
            tickets = uow.session.exec(sa.select(sa.func.count()).select_from(sa.text("ticket"))).one()[0]  # type: ignore[call-overload]
            outbox = uow.outbox.count_unsent()
        base = baseline_inserts(app.engine, n_base)
        rss = psutil.Process(os.getpid()).memory_info().rss / 2**20
        rate = n / elapsed
        result = {
            "messages": n,
            "msgs_per_s": round(rate, 1),
            "p50_ms": round(statistics.median(times) * 1000, 2),
            "p99_ms": round(_percentile(times, 0.99) * 1000, 2),
            "baseline_inserts_per_s": round(base, 1),
            "ratio": round(rate / base, 3),
            "rss_mb": round(rss, 1),
            "db": app.engine.dialect.name,
            "tickets": int(tickets),
            "outbox_rows": int(outbox),
            "seconds": round(elapsed, 1),
            "batch": batch,
            "cpu_ms_per_batch": round(cpu * 1000 / math.ceil(n / batch), 2),
            "reference_loop_ms": round(ref, 1),
        }
        await app.stop()
        return result
    finally:
        scratch.close()


def profile_one(config: Config, database_url: str | None = None, messages: int = 2000) -> str:
    """cProfile of a shorter run, top functions by cumulative time (for `--profile`)."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    run(config, database_url=database_url, messages=messages, baseline=10)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(40)
    return out.getvalue()
