"""Conversation files (tests/conversations/threads/README.md): group conversations with the outcome a grid worker
expects for every message, replayed through the real pipeline and compared line by line.

Each file is replayed on a day of its own, four days after the one before (past the 72-hour merge window), so a
conversation starts with no open ticket in its group, and all files share one bot and one database (fast).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from bot.replay import REPLAY_START, ReplayRow, replay_rows
from core.config import Config

#: What the inbox records (bot/replay trace "outcome") for each expected outcome of a conversation file.
NEW_OUTCOMES = {"ticket", "prompt", "urgent"}
EXPECTS = ("new", "urgent", "joins", "detail", "consultation", "none")


class ConversationFileError(ValueError):
    """A conversation file that does not follow the format."""


@dataclass(frozen=True)
class Expected:
    file: str
    id: str
    text: str
    expect: str  # one of EXPECTS
    ref: str | None  # for joins / detail: the id of the message that opened the ticket


@dataclass
class Score:
    messages: int = 0
    right: int = 0
    misses: list[str] = field(default_factory=list)
    wrong_attachments: int = 0  # attached to a ticket of another problem, or to a ticket when it should not be
    me_too_total: int = 0
    me_too_joined: int = 0

    @property
    def share(self) -> float:
        return self.right / self.messages if self.messages else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "right": self.right,
            "share": round(self.share, 4),
            "wrong_attachments": self.wrong_attachments,
            "joins_expected": self.me_too_total,
            "joins_right": self.me_too_joined,
            "misses": self.misses,
        }


def read(paths: list[Path]) -> tuple[list[ReplayRow], list[Expected]]:
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    rows: list[ReplayRow] = []
    expected: list[Expected] = []
    for n, f in enumerate(files):
        day = REPLAY_START + timedelta(days=4 * n)
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConversationFileError(f"{f}: not YAML ({e})") from e
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            raise ConversationFileError(f"{f}: needs a list of messages")
        group = str(doc.get("group") or "")
        seen: dict[str, str] = {}
        last = day
        for m in doc["messages"]:
            mid = str(m.get("id"))
            if mid in seen:
                raise ConversationFileError(f"{f}: id {mid} twice")
            hh, _, mm = str(m.get("at", "09:00")).partition(":")
            when = day.replace(hour=int(hh), minute=int(mm or 0))
            when = max(when, last)
            last = when
            exp, _, ref_text = str(m.get("expect", "")).strip().partition(" ")
            if exp not in EXPECTS:
                raise ConversationFileError(f"{f}: {mid}: expect {exp!r} is none of {', '.join(EXPECTS)}")
            ref = ref_text.strip() or None
            if exp in ("joins", "detail") and seen.get(ref or "") not in ("new", "urgent"):
                raise ConversationFileError(f"{f}: {mid}: {exp} {ref}: no earlier new or urgent message {ref}")
            reply = m.get("reply_to")
            if reply is not None and str(reply) not in seen:
                raise ConversationFileError(f"{f}: {mid}: reply_to {reply}: no earlier message")
            seen[mid] = exp
            key = f"{f.stem}:{mid}"
            rows.append(
                ReplayRow(
                    key,
                    str(m.get("text") or ""),
                    group or None,
                    str(m.get("from") or "居民"),
                    when,
                    reply_to=f"{f.stem}:{reply}" if reply is not None else None,
                )
            )
            expected.append(Expected(f.stem, mid, str(m.get("text") or ""), exp, f"{f.stem}:{ref}" if ref else None))
    return rows, expected


def score(expected: list[Expected], trace: list[dict[str, object]]) -> Score:
    """Line by line: a message is right when its outcome is the expected kind and, for joins and details,
    on the ticket the referenced message opened."""
    by_id = {str(t["id"]): t for t in trace}
    s = Score()
    for e in expected:
        key = f"{e.file}:{e.id}"
        t = by_id.get(key, {})
        outcome = str(t.get("outcome") or "ignored")
        ticket = t.get("ticket")
        ref_ticket = by_id.get(e.ref or "", {}).get("ticket") if e.ref else None
        ok: bool
        if e.expect == "new":
            ok = outcome in NEW_OUTCOMES
        elif e.expect == "urgent":
            ok = outcome == "urgent"
        elif e.expect in ("joins", "detail"):
            s.me_too_total += e.expect == "joins"
            wanted = {"joins": {"merged"}, "detail": {"detail"}}[e.expect] | {"emergency_detail"}
            ok = ticket is not None and ticket == ref_ticket and (outcome in wanted or e.expect == "joins")
            s.me_too_joined += ok and e.expect == "joins"
        elif e.expect == "consultation":
            ok = outcome == "consultation"
        else:
            ok = outcome in ("ignored", "command", "non_text")
        if not ok and outcome in ("merged", "detail") and (e.expect not in ("joins", "detail") or ticket != ref_ticket):
            s.wrong_attachments += 1
        s.messages += 1
        s.right += ok
        if not ok:
            got = f"{outcome} {ticket or ''}".strip()
            want = f"{e.expect} {e.ref.split(':', 1)[1] if e.ref else ''}".strip()
            s.misses.append(f"{key}: expected {want}, got {got} (ticket of ref: {ref_ticket}) — {e.text[:40]}")
    return s


def run(config: Config, paths: list[Path], *, model: str | None = None) -> Score:
    rows, expected = read(paths)
    with tempfile.TemporaryDirectory(prefix="shanzhi-conversations-") as tmp:
        trace = Path(tmp) / "trace.jsonl"
        replay_rows(config, rows, database_url=f"sqlite:///{tmp}/conversations.db", model=model, trace=trace)
        lines = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines() if line.strip()]
    return score(expected, lines)
