"""`shanzhi bench ingest`: the JSON line the issue defines, on either engine. A specification of the
output, not a timing: the figures themselves are read by people, never asserted."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from tests.support.databases import PG_URL
from tests.support.paths import REPO as REPO_ROOT


def test_bench_ingest_prints_its_figures_as_one_json_line(database_url: str) -> None:
    sample = REPO_ROOT / "classifiers" / "data" / "dev" / "lanjiang.csv"
    args = ["bench", "ingest", str(sample), "--messages", "120", "--baseline", "40", "--batch", "8", "--json"]
    if not database_url.startswith("sqlite"):
        args += ["--db", PG_URL]  # the bench makes a temporary schema of its own and drops it afterwards
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    r = json.loads(result.output.strip().splitlines()[-1])
    assert {"messages", "msgs_per_s", "p99_ms", "baseline_inserts_per_s", "ratio", "rss_mb", "db"} <= set(r)
    assert r["messages"] == 120 and r["batch"] == 8
    assert r["db"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
    assert r["tickets"] > 10  # the dev sample's complaints became tickets: the replay did real work
    assert r["cpu_ms_per_batch"] > 0 and r["reference_loop_ms"] > 0  # the machine's state, reported beside the figures
    # the printed figures are rounded; the ratio is of the unrounded ones
    assert r["ratio"] == pytest.approx(r["msgs_per_s"] / r["baseline_inserts_per_s"], rel=0.01, abs=0.002)
