"""A real bot process for the kill, outage and two-process tests: `python -m tests.support.crash_worker`.

It replays a JSONL file of group messages through `BotApp` with a local adapter whose `send`
appends every raw delivery to a sink file (fsynced before it returns, no de-duplication), exactly
as a platform would see them. The replay behaves like a platform that re-delivers what was not
confirmed (Telegram's update offset): the index of the next unconfirmed message is kept in an
offset file, written only after `on_message` returned (i.e. after the message was stored), and a
message that could not be stored is offered again after a pause.

Modes:
  replay  offer the messages from the confirmed offset on, then drain inbox and outbox, exit 0
  store   only store the messages in the inbox (a burst waiting for `drain`)
  drain   wait for the --go file, then process the inbox and deliver the outbox until both are empty

The classifier is a small deterministic stand-in (the markers 诉/疑/问 at the start of a text) so
that these tests check storage and delivery, not the rule set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

from bot.adapters.local import LocalAdapter
from bot.messages import Outbound, SendResult
from classifiers.types import Classification

GROUPS = ("和平村群", "石桥村群", "南门社区群")
CATEGORIES = ("road", "utilities", "environment", "noise", "dispute", "security", "welfare")
PLACES = ("村口", "东头", "小学旁", "菜市场", "三组", "河边", "新村", "老街", "祠堂前", "桥头")
PROBLEMS = (
    "路灯坏了",
    "垃圾没人清",
    "水管漏水",
    "晚上广场舞太吵",
    "路面塌了个坑",
    "停电一整天",
    "下水道堵了",
    "狗咬人没人管",
    "低保没发下来",
    "工地夜里施工",
)
CHAT = ("收到", "今天好热啊", "哈哈哈", "谢谢网格员", "明天赶集吗", "好的", "👍", "晚饭吃了没")


def make_messages(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        group = GROUPS[i % len(GROUPS)]
        sender = f"居民{rng.randrange(n // 2 + 1)}"
        r = rng.random()
        if r < 0.35:
            text = f"诉:{rng.choice(PLACES)}{rng.choice(PROBLEMS)}，第{i}次反映" + (
                "，很急" if rng.random() < 0.05 else ""
            )
        elif r < 0.42:
            text = f"疑:{rng.choice(PLACES)}好像{rng.choice(PROBLEMS)}？{i}"
        elif r < 0.52:
            text = f"问:请问{rng.choice(PROBLEMS)}找谁办？{i}"
        elif r < 0.56:
            text = "我的诉求"
        else:
            text = f"{rng.choice(CHAT)} {i}"
        out.append({"id": f"c{i:05d}", "group": group, "sender": sender, "text": text})
    return out


def write_messages(path: Path, messages: list[dict]) -> None:
    path.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages), encoding="utf-8")


def classify(text: str) -> Classification:
    """Deterministic stand-in for the rule classifier."""
    h = sum(map(ord, text))
    if text.startswith("诉:"):
        return Classification("complaint", 0.9, CATEGORIES[h % len(CATEGORIES)], "很急" in text)
    if text.startswith("疑:"):
        return Classification("complaint", 0.6, CATEGORIES[h % len(CATEGORIES)], False)
    if text.startswith("问:"):
        return Classification("consultation", 0.9, None, False)
    return Classification("other", 0.95, None, False)


class SinkAdapter(LocalAdapter):
    """The local chat, recording every raw send in an append-only, fsynced file."""

    def __init__(self, clock, sink: Path) -> None:  # type: ignore[no-untyped-def]
        super().__init__(clock)
        self.transcript_limit = 0
        self._fd = os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _log(self, line) -> None:  # type: ignore[no-untyped-def]
        pass  # no in-memory transcript: 5,000 messages, and the sink is the record

    async def send(self, out: Outbound) -> SendResult:
        rec = {
            "chat": out.chat_id,
            "type": out.chat_type.value,
            "reply_to": out.reply_to or "",
            "text": out.text,
            "pid": os.getpid(),
        }
        os.write(self._fd, (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(self._fd)
        return SendResult(message_id=self._next_id("b"))


def sink_key(chat: str, reply_to: str | None, text: str) -> tuple[str, str, str]:
    return (chat, reply_to or "", text)


def _read_offset(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


class Offset:
    """The confirmed offset: a fixed-width number rewritten in place (survives SIGKILL: page cache)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def write(self, n: int) -> None:
        os.pwrite(self.fd, f"{n:012d}".encode(), 0)


def build_config(data_dir: Path, lease: float, spool: bool, retry: float):  # type: ignore[no-untyped-def]
    from core.config import load_config

    return load_config(
        overrides={
            "data_dir": str(data_dir),
            "delivery": {"max_attempts": 8, "backoff_seconds": 0.2, "backoff_max_seconds": 2.0, "lease_seconds": lease},
            "resilience": {
                "retry_initial_seconds": retry,
                "retry_max_seconds": max(retry * 4, retry),
                "spool_platforms": ["local"] if spool else [],
                "spool_max_messages": 100000,
            },
        }
    )


async def _drain(app) -> None:  # type: ignore[no-untyped-def]
    """Until nothing is pending in the inbox and nothing unsent in the outbox (through outages)."""
    from storage.db import is_transient

    while True:
        try:
            st = app.status()
            held = st.get("resilience", {})
            if (
                st.get("inbox_pending") == 0
                and st.get("outbox_unsent") == 0
                and not held.get("spooled")
                and held.get("database") == "ok"
            ):
                return
            app.process_pending()
            app._wake(None)
        except Exception as exc:
            if not is_transient(exc):
                raise
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> int:
    from bot.app import BotApp
    from core.clock import SystemClock

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        filename=str(data_dir / "worker.log"),
        format=f"%(asctime)s {os.getpid()} %(levelname)s %(name)s: %(message)s",
    )
    config = build_config(data_dir, args.lease, args.spool, args.retry)
    clock = SystemClock()
    sink = SinkAdapter(clock, Path(args.sink))
    messages = [json.loads(line) for line in Path(args.input).read_text(encoding="utf-8").splitlines() if line.strip()]
    app = BotApp(config, clock=clock, database_url=args.db, adapters=[sink], classify=classify)
    if args.mode == "store":
        from bot.messages import ChatType, Inbound

        for m in messages:
            app.router.store(
                Inbound(
                    platform="local",
                    chat_id=m["group"],
                    chat_type=ChatType.GROUP,
                    sender_id=m["sender"],
                    sender_name=m["sender"],
                    message_id=m["id"],
                    sent_at=clock.now(),
                    text=m["text"],
                    chat_title=m["group"],
                )
            )
        app.engine.dispose()
        return 0
    if args.mode == "drain":
        go = Path(args.go)
        Path(f"{args.go}.{os.getpid()}.ready").touch()
        while not go.exists():
            await asyncio.sleep(0.01)
    print("READY", flush=True)
    await app.start(background=True)
    try:
        if args.mode == "replay":
            offset_path = Path(args.offset)
            i = _read_offset(offset_path)
            offset = Offset(offset_path)
            pause = 0.05
            while i < len(messages):
                m = messages[i]
                try:
                    await sink.say(m["sender"], m["text"], group=m["group"], message_id=m["id"])
                except Exception as exc:
                    logging.getLogger("crash_worker").warning(
                        "message %s not confirmed (%s); again in %.2fs", m["id"], type(exc).__name__, pause
                    )
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    continue
                pause = 0.05
                i += 1
                offset.write(i)
                if args.pace:
                    await asyncio.sleep(args.pace)
                else:
                    await asyncio.sleep(0)  # let the delivery loop run, as network awaits would
        await _drain(app)
    finally:
        await app.stop()
    print("DONE", flush=True)
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.support.crash_worker")
    p.add_argument("--mode", choices=("replay", "store", "drain"), default="replay")
    p.add_argument("--db", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--sink", required=True)
    p.add_argument("--offset", default="")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--go", default="")
    p.add_argument("--lease", type=float, default=1.0)
    p.add_argument("--retry", type=float, default=0.2)
    p.add_argument("--spool", action="store_true")
    p.add_argument("--pace", type=float, default=0.0, help="seconds between offered messages")
    return p.parse_args(argv)


if __name__ == "__main__":
    t0 = time.time()
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
