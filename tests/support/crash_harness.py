"""Running `tests.support.crash_worker` processes and checking what they left (kill, outage, two-process tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from storage.db import make_engine
from tests.support.crash_worker import make_messages, sink_key, write_messages
from tests.support.paths import REPO as REPO_ROOT

REPO = REPO_ROOT


@dataclass
class Run:
    """One scenario's files: messages in, raw sends out, the confirmed offset, the data dir."""

    db: str
    dir: Path
    messages: list[dict] = field(default_factory=list)

    @property
    def input(self) -> Path:
        return self.dir / "messages.jsonl"

    @property
    def offset(self) -> Path:
        return self.dir / "offset"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def sink(self, name: str = "sink") -> Path:
        return self.dir / f"{name}.jsonl"

    def prepare(self, n: int, seed: int = 7) -> Run:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.messages = make_messages(n, seed)
        write_messages(self.input, self.messages)
        return self

    def confirmed(self) -> int:
        try:
            return int(self.offset.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def spawn(
        self, *extra: str, mode: str = "replay", sink: str = "sink", stdout=subprocess.DEVNULL
    ) -> subprocess.Popen:  # type: ignore[no-untyped-def]
        cmd = [
            sys.executable,
            "-m",
            "tests.support.crash_worker",
            "--mode",
            mode,
            "--db",
            self.db,
            "--input",
            str(self.input),
            "--sink",
            str(self.sink(sink)),
            "--offset",
            str(self.offset),
            "--data-dir",
            str(self.data),
            *extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=stdout, stderr=open(self.dir / "stderr.log", "ab"))

    def log(self) -> str:
        p = self.data / "worker.log"
        return p.read_text(encoding="utf-8", errors="replace") if p.exists() else ""


def wait_exit(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"worker {proc.pid} did not finish within {timeout:.0f}s") from None


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL; True if it was still running (a real kill)."""
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


@dataclass
class Outcome:
    inbox: int
    inbox_not_done: list[tuple[str, str]]
    tickets: int
    ticket_sources_doubled: list[int]
    ticketed_rows_without_ticket: list[int]
    outbox: int
    outbox_unsent: list[tuple[int, str]]
    sends: int
    missing: list[tuple[str, str, str]]
    phantom: list[tuple[str, str, str]]
    repeats: int
    results: Counter


def check(run: Run, sinks: list[str] = ("sink",)) -> Outcome:  # type: ignore[assignment]
    """Compare the database with the raw sends recorded by the sink(s)."""
    engine = make_engine(run.db)
    try:
        with engine.connect() as c:
            inbox = c.execute(
                sa.text("SELECT id, message_id, status, result FROM inbox WHERE message_id LIKE 'c%'")
            ).all()
            tickets = c.execute(sa.text("SELECT id, source_inbox_id FROM ticket")).all()
            outbox = c.execute(sa.text("SELECT id, chat_id, reply_to, text, status FROM outbox")).all()
    finally:
        engine.dispose()
    by_source = Counter(t.source_inbox_id for t in tickets)
    ticketed = {r.id for r in inbox if r.result in ("ticket", "urgent", "prompt")}
    sent_rows = Counter(sink_key(o.chat_id, o.reply_to, o.text) for o in outbox)
    sends: Counter = Counter()
    for name in sinks:
        p = run.sink(name)
        if p.exists():
            for line in p.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    d = json.loads(line)
                    sends[sink_key(d["chat"], d["reply_to"], d["text"])] += 1
    return Outcome(
        inbox=len(inbox),
        inbox_not_done=[(r.message_id, r.status) for r in inbox if r.status != "done"],
        tickets=len(tickets),
        ticket_sources_doubled=[s for s, n in by_source.items() if n > 1],
        ticketed_rows_without_ticket=sorted(ticketed - set(by_source)),
        outbox=len(outbox),
        outbox_unsent=[(o.id, o.status) for o in outbox if o.status != "sent"],
        sends=sum(sends.values()),
        missing=[k for k, n in sent_rows.items() if sends[k] < n],
        phantom=[k for k in sends if k not in sent_rows],
        repeats=sum(max(0, sends[k] - n) for k, n in sent_rows.items()),
        results=Counter(r.result for r in inbox),
    )


def assert_exactly_once(run: Run, out: Outcome, n: int, max_repeats: int) -> None:
    assert out.inbox == n, f"{n - out.inbox} messages lost (never stored)"
    assert not out.inbox_not_done, f"not processed: {out.inbox_not_done[:10]}"
    assert not out.ticket_sources_doubled, f"inbox rows that made two tickets: {out.ticket_sources_doubled[:10]}"
    assert not out.ticketed_rows_without_ticket, (
        f"rows said ticketed without a ticket: {out.ticketed_rows_without_ticket[:10]}"
    )
    assert out.tickets > 0 and out.outbox > 0, "the scenario made no tickets or replies: it tests nothing"
    assert not out.outbox_unsent, f"outbox rows never sent: {out.outbox_unsent[:10]}"
    assert not out.missing, f"outbound messages missing at the sink: {out.missing[:5]}"
    assert not out.phantom, f"sink got messages the outbox never had: {out.phantom[:5]}"
    assert out.repeats <= max_repeats, f"{out.repeats} repeated deliveries for at most {max_repeats} allowed"


def run_with_kills(run: Run, kills: int, seed: int, *, timeout: float, extra: tuple[str, ...] = ()) -> int:
    """Replay with `kills` SIGKILLs at random moments (a few during start-up/recovery, the rest
    spread over the replay by progress, some in the final drain); returns the kills that hit a
    running process. Ends with an undisturbed run to completion."""
    import random

    rng = random.Random(seed)
    n = len(run.messages)
    plan: list[tuple[str, float]] = []
    for _ in range(kills):
        r = rng.random()
        if r < 0.15:
            plan.append(("startup", rng.uniform(0.2, 1.5)))  # while importing, migrating, recovering
        elif r < 0.25:
            plan.append(("drain", rng.uniform(0.0, 0.3)))  # all offered, inbox/outbox draining
        else:
            plan.append(("progress", rng.randrange(1, n)))
    progress = sorted(v for k, v in plan if k == "progress")
    order: list[tuple[str, float]] = []
    it = iter(progress)
    for kind, v in plan:
        order.append(("progress", next(it)) if kind == "progress" else (kind, v))
    deadline = time.monotonic() + timeout
    done = 0
    for kind, value in order:
        proc = run.spawn(*extra)
        if kind == "startup":
            time.sleep(value)
        else:
            target = n if kind == "drain" else int(value)
            while run.confirmed() < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05) if kind == "progress" else value)
        if kill(proc):
            done += 1
        elif proc.returncode != 0:
            raise AssertionError(
                f"worker exited with {proc.returncode}: {(run.dir / 'stderr.log').read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError("kill test ran out of time")
    final = run.spawn(*extra)
    rc = wait_exit(final, max(30.0, deadline - time.monotonic()))
    assert rc == 0, (run.dir / "stderr.log").read_text()[-3000:]
    return done
