"""Wire level: the Python `wechaty` 0.10 client against a real 1.x puppet-service gateway.

tests/support/wechat_gateway/gateway.mjs serves `wechaty-puppet-mock` through `PuppetServer` (npm
`wechaty-puppet-service`) on 127.0.0.1 with TLS off; a JSON-lines control channel on its stdin makes
the mock account say things, send an image, emit an error event, and reports what the bot said.

`npm ci` runs once per session (in tests/support/wechat_gateway, node_modules is gitignored). Without
node/npm these tests are skipped with a message; with SHANZHI_REQUIRE_NODE=1 (CI) that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from bot.adapters.wechat.adapter import WeChatAdapter
from bot.adapters.wechat.wire import WeChatFatalError
from bot.messages import ChatType, DeliveryError, Inbound, Outbound
from tests.support.paths import REPO as REPO_ROOT

pytestmark = pytest.mark.node

REPO = REPO_ROOT
GATEWAY_DIR = REPO / "tests" / "support" / "wechat_gateway"
TOKEN = "shanzhi-wire-test-token"
ROOM = "room_heping@chatroom"


def _need_node() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        msg = f"wechat wire tests need Node.js and npm ({', '.join(missing)} not found on PATH)"
        if os.environ.get("SHANZHI_REQUIRE_NODE") == "1":
            pytest.fail(msg + " and SHANZHI_REQUIRE_NODE=1", pytrace=False)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def gateway_installed() -> Path:
    """`npm ci` in tests/support/wechat_gateway once per session (skipped when node_modules matches the lock)."""
    _need_node()
    marker = GATEWAY_DIR / "node_modules" / ".package-lock.json"
    lock = GATEWAY_DIR / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        out = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=GATEWAY_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode != 0:
            pytest.fail(f"npm ci in {GATEWAY_DIR} failed:\n{out.stdout}\n{out.stderr}", pytrace=False)
    return GATEWAY_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """The Node gateway process and its control channel."""

    def __init__(self, port: int, token: str = TOKEN) -> None:
        self.port, self.token = port, token
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[dict] = queue.Queue()
        self.sent: list[dict] = []
        self._seq = 0

    def start(self) -> Gateway:
        env = dict(os.environ, WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER="true", WECHATY_LOG="warn")
        self.proc = subprocess.Popen(
            ["node", str(GATEWAY_DIR / "gateway.mjs"), "--port", str(self.port), "--token", self.token],
            cwd=GATEWAY_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        self.wait_event("listening", timeout=30)
        return self

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            obj = json.loads(line)
            if obj.get("event") == "sent":
                self.sent.append(obj)
            self.lines.put(obj)

    def wait_event(self, event: str, timeout: float = 10) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                obj = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if obj.get("event") == event:
                return obj
        raise AssertionError(f"gateway: no {event} event")

    def cmd(self, **command) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self._seq += 1
        command["seq"] = self._seq
        self.proc.stdin.write(json.dumps(command, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()

    def say(self, sender: str, text: str, room: str | None = None, mentions: list[str] | None = None) -> None:
        c = {"cmd": "say", "from": sender, "text": text, "mentions": mentions or []}
        if room:
            c["room"] = room
        self.cmd(**c)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdin:
            self.proc.stdin.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None


@pytest.fixture
def gateway(gateway_installed):
    gw = Gateway(free_port()).start()
    yield gw
    gw.stop()


async def until(cond, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


class Recorder:
    def __init__(self) -> None:
        self.inbound: list[Inbound] = []
        self.events: list[tuple[str, dict]] = []

    async def on_message(self, m: Inbound) -> None:
        self.inbound.append(m)

    async def on_event(self, name: str, payload: dict) -> None:
        self.events.append((name, payload))


# -- the adapter in this process, over the wire ------------------------------------------------


async def test_adapter_over_the_wire(gateway: Gateway, tmp_path):
    rec = Recorder()
    adapter = WeChatAdapter(
        token=TOKEN,
        endpoint=f"127.0.0.1:{gateway.port}",
        data_dir=tmp_path / "data",
        reconnect_delays=(0.2, 0.5),
        start_timeout=20,
    )
    await adapter.start(rec.on_message, rec.on_event)
    try:
        assert adapter.status().connected and adapter.self_id == "wxid_bot"
        gateway.say("wxid_wang", "村口路灯坏了三天了，晚上黑漆漆的", room=ROOM, mentions=["wxid_li"])
        gateway.say("wxid_zhang", "签收 SG20261125-0001")
        gateway.cmd(cmd="image", **{"from": "wxid_wang"}, room=ROOM)
        gateway.cmd(cmd="message", **{"from": "wxid_wang"}, room=ROOM, type=2)  # Audio
        gateway.cmd(cmd="message", **{"from": "wxid_wang"}, room=ROOM, type=12)  # RedEnvelope
        gateway.cmd(cmd="message", **{"from": "wxid_wang"}, room=ROOM, type=14, text="<url/>")  # Url
        gateway.cmd(cmd="message", **{"from": "wxid_wang"}, room=ROOM, type=16)  # Post: unknown to 0.10
        gateway.cmd(cmd="error", gerror="gateway hiccup")  # {gerror} only: used to end 0.10's event loop
        gateway.say("wxid_wang", "还有人管吗", room=ROOM)
        await until(lambda: len(rec.inbound) == 8)
        room_text, private, image, voice, red, link, post, after_error = rec.inbound
        assert (room_text.chat_type, room_text.chat_id, room_text.sender_id, room_text.sender_name) == (
            ChatType.GROUP,
            ROOM,
            "wxid_wang",
            "王大妈",
        )
        assert room_text.text == "村口路灯坏了三天了，晚上黑漆漆的" and room_text.mentions == ("wxid_li",)
        assert room_text.chat_title == "和平村群"
        assert (private.chat_type, private.chat_id, private.text) == (
            ChatType.PRIVATE,
            "wxid_zhang",
            "签收 SG20261125-0001",
        )
        assert [m.kind for m in (image, voice, red, link)] == ["image", "voice", "redpacket", "link"]
        assert post.kind in ("system", "unknown")  # not lost to an IndexError
        assert all(m.text is None for m in (image, voice, red, link, post))
        assert image.attachment == image.message_id
        assert after_error.text == "还有人管吗"
        assert adapter.status().connected and "gateway hiccup" in adapter.status().extra["last_error"]

        # send: a receipt @-mentioning the reporter, a private message; the echoes are not inbound
        r1 = await adapter.send(
            Outbound(
                platform="wechat", chat_id=ROOM, text="已受理 SG20261125-0001", mentions=(("wxid_wang", "王大妈"),)
            )
        )
        r2 = await adapter.send(
            Outbound(platform="wechat", chat_id="wxid_zhang", chat_type=ChatType.PRIVATE, text="新工单 SG20261125-0001")
        )
        await until(lambda: len(gateway.sent) == 2)
        assert gateway.sent[0]["room"] == ROOM and gateway.sent[0]["text"] == "@王大妈 已受理 SG20261125-0001"
        assert gateway.sent[0]["mentions"] == ["wxid_wang"] and gateway.sent[0]["id"] == r1.message_id
        assert gateway.sent[1]["to"] == "wxid_zhang" and gateway.sent[1]["id"] == r2.message_id
        # the 回访 answer quoting the receipt points at it
        gateway.say(
            "wxid_wang", "「善治助手：@王大妈 已受理 SG20261125-0001」\n- - - - - - - - - - - - - - -\n1", room=ROOM
        )
        await until(lambda: len(rec.inbound) == 9)
        assert rec.inbound[8].reply_to == r1.message_id and rec.inbound[8].text == "1"

        for chat_id in ("wxid_stranger", "wxid_nobody"):
            with pytest.raises(DeliveryError) as err:
                await adapter.send(Outbound(platform="wechat", chat_id=chat_id, chat_type=ChatType.PRIVATE, text="hi"))
            assert err.value.permanent and err.value.recipient_unreachable

        # events
        gateway.cmd(cmd="topic", room=ROOM, topic="和平村村民群", by="wxid_admin")
        gateway.cmd(cmd="add_bot", room="room_new@chatroom", topic="新河村群", by="wxid_admin")
        await until(lambda: {"topic_changed", "bot_added"} <= {n for n, _ in rec.events})
        added = dict(rec.events)["bot_added"]
        assert (
            added["chat_id"] == "room_new@chatroom" and added["title"] == "新河村群" and added["platform"] == "wechat"
        )
        assert len(rec.inbound) == 9  # nothing of the bot's own came back as inbound
    finally:
        await adapter.stop()


async def test_gateway_going_away_and_coming_back(gateway: Gateway, tmp_path):
    rec = Recorder()
    adapter = WeChatAdapter(
        token=TOKEN,
        endpoint=f"127.0.0.1:{gateway.port}",
        data_dir=tmp_path / "data",
        reconnect_delays=(0.2, 0.5, 1.0),
        start_timeout=20,
    )
    await adapter.start(rec.on_message, rec.on_event)
    try:
        gateway.say("wxid_wang", "第一条", room=ROOM)
        await until(lambda: len(rec.inbound) == 1)
        gateway.stop()
        await until(lambda: not adapter.status().connected)
        with pytest.raises(DeliveryError) as err:
            await adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="hi"))
        assert not err.value.permanent
        gateway.start()
        await until(lambda: adapter.status().connected, timeout=30)
        gateway.say("wxid_wang", "回来以后的一条", room=ROOM)
        await until(lambda: len(rec.inbound) == 2)
        assert rec.inbound[1].text == "回来以后的一条"
        conn = [p for n, p in rec.events if n == "connection"]
        assert [c["connected"] for c in conn][:3] == [True, False, True] and conn[2]["reconnected"]
        await adapter.send(Outbound(platform="wechat", chat_id=ROOM, text="已恢复"))
        await until(lambda: gateway.sent and gateway.sent[-1]["text"] == "已恢复")
    finally:
        await adapter.stop()


async def test_wrong_token_is_fatal_not_a_silent_return(gateway: Gateway, tmp_path):
    rec = Recorder()
    adapter = WeChatAdapter(
        token="not-the-token",
        endpoint=f"127.0.0.1:{gateway.port}",
        data_dir=tmp_path / "data",
        reconnect_delays=(0.1,),
        start_timeout=20,
    )
    with pytest.raises(WeChatFatalError) as err:
        await adapter.start(rec.on_message, rec.on_event)
    assert err.value.exit_code != 0 and "token" in err.value.reason
    assert (
        "fatal",
        {"platform": "wechat", "detail": err.value.reason.removeprefix("wechat: "), "exit_code": err.value.exit_code},
    ) in rec.events


# -- the bot as a real process: `shanzhi run` --------------------------------------------------


def _run_config(tmp_path: Path) -> Path:
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    raw["data_dir"] = str(tmp_path / "data")
    raw["org_file"] = str(REPO / "org.yaml")
    raw["database"] = f"sqlite:///{tmp_path / 'data' / 'shanzhi.db'}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _shanzhi() -> list[str]:
    exe = Path(sys.executable).with_name("shanzhi")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]


def _run_env(port: int, token: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SHANZHI_DATABASE"))}
    env.update(
        WECHATY_PUPPET_SERVICE_ENDPOINT=f"127.0.0.1:{port}", WECHATY_PUPPET_SERVICE_TOKEN=token, WECHATY_LOG="warn"
    )
    return env


def test_shanzhi_run_with_a_wrong_token_exits_non_zero(gateway: Gateway, tmp_path):
    cfg = _run_config(tmp_path)
    out = subprocess.run(
        _shanzhi() + ["run", "--config", str(cfg)],
        cwd=tmp_path,
        env=_run_env(gateway.port, "wrong-token"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0, out.stdout + out.stderr
    log = tmp_path / "data" / "shanzhi.log"
    text = out.stdout + out.stderr + (log.read_text(encoding="utf-8") if log.exists() else "")
    assert "token" in text.lower()
    assert not (tmp_path / ".wechaty").exists()


def test_shanzhi_run_handles_a_conversation_over_the_wire(gateway: Gateway, tmp_path):
    cfg = _run_config(tmp_path)
    proc = subprocess.Popen(
        _shanzhi() + ["run", "--config", str(cfg)],
        cwd=tmp_path,
        env=_run_env(gateway.port, TOKEN),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        gateway.wait_event("login", timeout=60)

        def wait_sent(pred, timeout=60.0):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                hits = [s for s in list(gateway.sent) if pred(s)]
                if hits:
                    return hits
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
            raise AssertionError(f"the bot did not say it; it said {gateway.sent}")

        time.sleep(1.0)  # let the bot finish its own start after the login
        gateway.say("wxid_wang", "村里的垃圾桶满了好几天没人收，苍蝇到处飞", room=ROOM)
        receipt = wait_sent(lambda s: s["room"] == ROOM and "已受理" in s["text"])[0]
        assert "wxid_wang" in receipt["mentions"]
        import re

        no = re.search(r"SG\d{8}-\d{4}", receipt["text"]).group(0)
        gateway.cmd(cmd="image", **{"from": "wxid_wang"}, room=ROOM)
        gateway.cmd(cmd="error", gerror="gateway hiccup")
        gateway.say("wxid_zhang", f"签收 {no}")
        wait_sent(lambda s: "签收" in s["text"] and no in s["text"] and s["room"] == ROOM)
        gateway.say("wxid_zhang", f"办结 {no} 已清运")
        wait_sent(lambda s: "满意" in s["text"] and no in s["text"])
        n = len(gateway.sent)
        gateway.say("wxid_wang", "1", room=ROOM)
        end = time.monotonic() + 30
        while len(gateway.sent) == n and time.monotonic() < end:  # the bot acknowledges the rating
            time.sleep(0.1)
        # the gateway goes away and comes back: the bot reconnects and answers again
        gateway.stop()
        time.sleep(1.0)
        gateway.start()
        gateway.wait_event("login", timeout=60)
        time.sleep(1.0)
        gateway.say("wxid_liu_resident", "村口路灯坏了三天了，晚上黑漆漆的", room=ROOM)
        # a receipt, or (middle confidence) the grid worker asked to confirm: either way it was heard
        wait_sent(lambda s: (s["room"] == ROOM and "wxid_liu_resident" in s["mentions"]) or "村口路灯坏了" in s["text"])
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    assert code == 0
    assert not (tmp_path / ".wechaty").exists()
    # what the bot stored: the closed ticket and the image as non-text
    import sqlite3

    con = sqlite3.connect(tmp_path / "data" / "shanzhi.db")
    try:
        kinds = {row[0] for row in con.execute("select kind from inbox")}
        statuses = [row[0] for row in con.execute("select status from ticket order by id")]
    finally:
        con.close()
    assert "image" in kinds
    assert statuses[0] == "closed" and len(statuses) == 2
