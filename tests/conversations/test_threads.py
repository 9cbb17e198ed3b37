"""The conversation files (threads/README.md) replayed through the whole pipeline, message by message.

The figures asserted are the floors measured when the relation rules were last changed (docs/measurements/
conversations.md): a change that loses ground fails here. The issue's target (95 %, no message attached to a
ticket of another problem) is not reached yet; the floors move up as the rules do, never down.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation_files import ConversationFileError, read, run
from core.config import Config

THREADS = Path(__file__).parent / "threads"
DEV_FLOOR = 0.89
DEV_WRONG_ATTACHMENTS_CEILING = 7
SEALED_FLOOR = 0.80


def test_there_are_at_least_forty_dev_conversations_each_of_five_to_fifteen_messages() -> None:
    files = sorted((THREADS / "dev").glob("*.yaml"))
    assert len(files) >= 40
    for f in files:
        _, expected = read([f])
        assert 5 <= len(expected) <= 15, f.name


def test_dev_conversations_are_handled_as_a_grid_worker_would(config: Config) -> None:
    score = run(config, sorted((THREADS / "dev").glob("*.yaml")))
    assert score.messages >= 400
    assert score.share >= DEV_FLOOR, "\n".join(score.misses)
    assert score.wrong_attachments <= DEV_WRONG_ATTACHMENTS_CEILING, "\n".join(score.misses)


def test_sealed_conversations_hold_their_measured_share(config: Config) -> None:
    score = run(config, sorted((THREADS / "sealed").glob("*.yaml")))
    assert score.messages >= 150
    assert score.share >= SEALED_FLOOR, f"sealed share {score.share:.3f}"


def test_a_join_on_the_wrong_ticket_is_scored_as_a_miss(config: Config, tmp_path: Path) -> None:
    f = tmp_path / "two_problems.yaml"
    f.write_text(
        """title: the second household's 'me too' must join the water ticket
group: 和平村群
messages:
  - {id: m1, at: "09:00", from: 王桂香, text: 我们三组停水两天了，水龙头一滴都冇, expect: new}
  - {id: m2, at: "09:02", from: 刘大伯, text: 村口路灯坏了三天了，晚上黑漆漆的, expect: new}
  - {id: m3, at: "09:05", from: 李大爷, text: 我家也是，停水两天了, expect: joins m2}
""",
        encoding="utf-8",
    )
    score = run(config, [f])
    assert score.right == 2 and score.wrong_attachments == 1
    assert "m3: expected joins m2" in score.misses[0]


def test_a_file_that_names_an_unknown_outcome_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        "title: x\ngroup: 和平村群\nmessages:\n  - {id: m1, at: '09:00', from: 王, text: 停水了, expect: maybe}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConversationFileError):
        read([f])
