"""Two bot processes on one PostgreSQL draining one burst: inbox rows and outbox rows are claimed
row by row (FOR UPDATE SKIP LOCKED plus the outbox lease), so each message is processed once and
each outbound message is sent once — no repeats at all, since nothing crashed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.crash_harness import Run, assert_exactly_once, check, wait_exit

pytestmark = pytest.mark.postgres


def test_two_processes_drain_one_burst_exactly_once(pg_url: str, tmp_path: Path) -> None:
    run = Run(pg_url, tmp_path / "two").prepare(600, seed=5)
    assert wait_exit(run.spawn(mode="store"), 300) == 0, (run.dir / "stderr.log").read_text()[-3000:]
    go = run.dir / "go"
    procs = [run.spawn("--go", str(go), "--lease", "5", mode="drain", sink=name) for name in ("sink_a", "sink_b")]
    deadline = time.monotonic() + 120
    while len(list(run.dir.glob("go.*.ready"))) < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), (
            run.dir / "stderr.log"
        ).read_text()[-3000:]
        time.sleep(0.02)
    go.touch()  # both start draining at the same moment
    for p in procs:
        assert wait_exit(p, 600) == 0, (run.dir / "stderr.log").read_text()[-3000:]
    out = check(run, sinks=["sink_a", "sink_b"])
    per_process = [
        len(run.sink(n).read_text(encoding="utf-8").splitlines()) if run.sink(n).exists() else 0
        for n in ("sink_a", "sink_b")
    ]
    print(
        f"\n{len(run.messages)} messages, {out.tickets} tickets, {out.outbox} outbound, sends per process {per_process}, "
        f"{out.repeats} repeats; results {dict(out.results)}"
    )
    assert_exactly_once(run, out, len(run.messages), max_repeats=0)
    assert all(per_process), "one process did all the sending: the test did not exercise two"
    assert "failed" not in out.results
