"""`shanzhi run`: start the bot on the configured platforms, or the local chat in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot.adapters.local import Line, LocalAdapter
from bot.app import BotApp, freeze_loaded
from bot.chat import texts
from bot.delivery.resilience import wait_for_database
from bot.platforms import build_adapters
from core.clock import SystemClock
from core.config import Config

log = logging.getLogger(__name__)


def _setup_logging(config: Config, to_file: bool, verbose: bool) -> None:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    handler: logging.Handler = (
        logging.FileHandler(config.data_dir / "shanzhi.log", encoding="utf-8") if to_file else logging.StreamHandler()
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        handlers=[handler],
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "jieba", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def run_bot(config: Config, *, verbose: bool = False) -> int:
    clock = SystemClock()
    adapters = build_adapters(config, clock)
    local = not adapters
    _setup_logging(config, to_file=local, verbose=verbose)
    if local:
        return await run_local_chat(config, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    r = config.resilience
    try:
        if not await wait_for_database(
            config.database_url(), r.retry_initial_seconds, r.retry_max_seconds, _sleep_unless(stop), stop
        ):
            return 0
    except Exception as e:
        log.error("cannot use the database: %s", e)
        print(f"shanzhi: cannot use the database: {e}", file=sys.stderr)
        return 1
    app = BotApp(config, clock=clock, adapters=adapters)
    try:
        await app.start()
    except Exception as e:
        log.error("could not start: %s", e)
        print(f"shanzhi: could not start: {e}", file=sys.stderr)
        await app.stop()
        return int(getattr(e, "exit_code", 1)) or 1
    freeze_loaded()
    log.info("shanzhi running on %s", ", ".join(a.platform for a in adapters))
    fatal = asyncio.create_task(app.fatal.wait())
    await asyncio.wait([asyncio.create_task(stop.wait()), fatal], return_when=asyncio.FIRST_COMPLETED)
    await app.stop()
    if app.fatal.is_set():
        log.error("stopped: %s", app.fatal_reason)
        return 3
    return 0


def _sleep_unless(stop: asyncio.Event):  # type: ignore[no-untyped-def]
    """A sleep that ends early when the bot is asked to stop."""

    async def sleep(seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    return sleep


class Terminal:
    """The local chat in a terminal: pick who speaks where with /as, then type as them."""

    def __init__(self, app: BotApp, local: LocalAdapter, groups: list[str]) -> None:
        self.app = app
        self.local = local
        self.groups = groups
        self.speaker = "王大妈"
        self.group: str | None = groups[0] if groups else None

    def prompt(self) -> str:
        return f"{self.speaker}@{self.group or '私聊'}> "

    async def handle(self, line: str) -> bool:
        """False to quit."""
        line = line.strip()
        if line in ("/quit", "/exit"):
            return False
        if line == "/groups":
            print("群：" + "、".join(self.groups))
            return True
        if line.startswith("/as"):
            self._switch(line[3:].split())
            return True
        await self.local.say(self.speaker, line, group=self.group)
        await self.app.idle(timeout=5)
        return True

    def _switch(self, parts: list[str]) -> None:
        if not parts:
            print(texts.HELP_LOCAL)
            return
        self.speaker = parts[0]
        if len(parts) > 1:
            where = parts[1].lstrip("@")
            if where in ("私聊", "private"):
                self.group = None
            else:
                match = [g for g in self.groups if g == where or g.startswith(where)]
                if match:
                    self.group = match[0]
                else:
                    print(f"没有这个群：{where}。可用：{'、'.join(self.groups)}")
        print(f"现在以 {self.speaker} 的身份在 {self.group or '私聊'} 发言")


def _print_line(line: Line) -> None:
    if line.speaker != "bot":
        return
    who = "善治助手" + ("（按钮回应）" if line.callback else "")
    buttons = f"\n    [{' | '.join(line.buttons)}]" if line.buttons else ""
    print(f"  ⮑ [{line.chat}] {who}: {line.text}{buttons}".replace("\n", "\n    "))


async def run_local_chat(config: Config, clock: SystemClock) -> int:
    local = LocalAdapter(clock, echo=_print_line)
    app = BotApp(config, clock=clock, adapters=[local])
    # the delivery loop runs in the background too: what the schedules send on their own (reminders, an
    # emergency's re-alerts) is printed when it is sent, not when someone next types
    await app.start(background=True)
    freeze_loaded()
    groups = [g.chat_id for g in (config.org.groups if config.org else []) if g.platform == "local"]
    term = Terminal(app, local, groups)
    print(f"善治 shanzhi 本地聊天（数据库：{app.database_url}，日志：{config.data_dir / 'shanzhi.log'}）")
    print(texts.HELP_LOCAL)
    print("试试：村口路灯坏了三天了，晚上黑漆漆的 ；然后 /as 陈镇长 私聊 ，再发 我的工单")
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, term.prompt())
            except EOFError:
                break
            if not await term.handle(line):
                break
    finally:
        await app.stop()
    return 0
