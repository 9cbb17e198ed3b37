"""`shanzhi replay` feeds a file through the same pipeline as a live group and prints the counts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.main import app
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_replay_csv_prints_counts_as_json() -> None:
    result = CliRunner().invoke(app, ["replay", str(DATA / "replay_sample.csv"), "--json"])
    assert result.exit_code == 0, result.output
    counts = last_json(result.stdout)
    assert set(counts) == {
        "messages",
        "tickets_opened",
        "merged_into_existing",
        "prompts_to_grid_workers",
        "consultations",
        "urgent_alerts",
        "non_text",
        "errors",
    }
    assert counts["messages"] == 6 and counts["errors"] == 0
    assert counts["merged_into_existing"] + counts["prompts_to_grid_workers"] + counts["tickets_opened"] >= 2
    assert counts["urgent_alerts"] == 1 and counts["consultations"] == 1


def test_replay_jsonl_counts_non_text() -> None:
    result = CliRunner().invoke(app, ["replay", str(DATA / "replay_sample.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    counts = last_json(result.stdout)
    assert counts["messages"] == 4 and counts["non_text"] == 2 and counts["errors"] == 0


def test_replay_into_a_given_database_keeps_the_tickets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kept.db"
    result = CliRunner().invoke(app, ["replay", str(DATA / "replay_sample.csv"), "--json", "--db", url])
    assert result.exit_code == 0, result.output
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from inbox")).scalar() == 6
    engine.dispose()


def test_replay_of_a_file_without_a_text_column_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,message\n1,hello\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", str(bad)])
    assert result.exit_code == 2 and "text" in result.output
