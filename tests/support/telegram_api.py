"""A local Telegram Bot API server for tests: the real python-telegram-bot library talks to it.

An asyncio HTTP/1.1 server on 127.0.0.1 (random port, keep-alive) answering the Bot API methods the
bot uses: getMe, deleteWebhook, setWebhook, getWebhookInfo, getUpdates (honours `offset`, holds the long
poll up to `timeout`), sendMessage, editMessageText, answerCallbackQuery, getChatMember, getChat.
Requests are form-urlencoded with JSON-encoded values (multipart is parsed too).

It records every request (`requests`: method, params, `at` from an injectable clock) and every message
the bot got through (`sent`), assigns message ids per chat, and behaves like Telegram where the tests
need it: private chats only with users who sent /start (else 403 "bot can't initiate conversation"),
a migrated group answers 400 with `migrate_to_chat_id`, a callback query can be answered once.

Test helpers enqueue updates (`group_text`, `private_text`, `photo`, `voice`, `sticker`, `document`,
`video`, `location`, `edit`, `callback`, `migrate`, `my_chat_member`, `bot_joined`, `new_title`) and
inject faults (`fail_next`, `hang_next`, `drop_next`, `chaos`).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456:TEST-token"
BOT_USER = {
    "id": 1000,
    "is_bot": True,
    "first_name": "善治",
    "username": "shanzhi_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": True,
    "supports_inline_queries": False,
}


def user(uid: int | str, first_name: str, last_name: str | None = None, username: str | None = None) -> dict:
    u: dict[str, Any] = {"id": int(uid), "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}
    if last_name:
        u["last_name"] = last_name
    if username:
        u["username"] = username
    return u


@dataclass
class Request:
    method: str
    params: dict[str, Any]
    at: datetime
    token: str = TOKEN


@dataclass
class Fault:
    kind: str  # "error" | "hang" | "drop"
    remaining: int
    chat_id: str | None = None
    code: int = 500
    description: str = "Internal Server Error"
    parameters: dict[str, Any] | None = None
    deliver: bool = False  # hang/drop after the message went through (a lost response)


@dataclass
class Chaos:
    rate: float
    kinds: tuple[str, ...]
    rng: random.Random
    hits: list[str] = field(default_factory=list)


class _WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeTelegramAPI:
    """The server. Use as `async with FakeTelegramAPI(clock=clock) as api:` (or start()/close())."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        clock: Any = None,
        require_start: bool = True,
        max_hold: float | None = None,
        hang_seconds: float = 30.0,
    ) -> None:
        self.token = token
        self.clock = clock or _WallClock()
        self.require_start = require_start
        self.max_hold = max_hold
        self.hang_seconds = hang_seconds
        self.bot = dict(BOT_USER)
        self.requests: list[Request] = []
        self.sent: list[dict[str, Any]] = []  # messages the bot got through (sendMessage)
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery calls that succeeded
        self.updates: list[dict[str, Any]] = []  # not yet confirmed
        self.confirmed = 0  # every update_id below this was confirmed by an offset
        self.started: set[int] = set()  # users who have /start-ed the bot
        self.chats: dict[int, dict[str, Any]] = {}
        self.migrated: dict[int, int] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._chaos: dict[str, Chaos] = {}
        self._update_ids = itertools.count(1)
        self._msg_ids: dict[int, itertools.count[int]] = {}
        self._query_ids = itertools.count(1)
        self._queries: dict[str, bool] = {}  # id → answered
        self._new_update = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    # ------------------------------------------------------------------ server
    async def start(self) -> FakeTelegramAPI:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeTelegramAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                parts = line.decode("latin-1").split()
                if len(parts) < 2:
                    break
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await self._read_body(reader, headers)
                status, payload, action = await self._dispatch(parts[1], headers, body)
                if action == "drop":
                    break
                if action == "hang":
                    # Hold the answer until the client gives up (its read timeout closes the socket).
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(reader.read(), timeout=self.hang_seconds)
                    break
                data = json.dumps(payload, ensure_ascii=False).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # close(): end quietly (a cancelled connection task makes asyncio log an error on 3.11)
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).strip().split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readline()
        n = int(headers.get("content-length", "0") or 0)
        return await reader.readexactly(n) if n else b""

    @staticmethod
    def _decode(value: str) -> Any:
        if value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    def _params(self, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {k: self._decode(v) for k, v in parse_qsl(urlsplit(target).query)}
        ctype = headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            params.update({k: self._decode(v) for k, v in parse_qsl(body.decode())})
        elif ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
            )
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    params[name] = {"filename": part.get_filename(), "size": len(part.get_payload(decode=True))}
                else:
                    params[name] = self._decode(part.get_content())
        elif ctype.startswith("application/json") and body:
            params.update(json.loads(body))
        return params

    async def _dispatch(self, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        m = re.match(r"^/bot([^/]+)/(\w+)", urlsplit(target).path)
        if not m:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, ""
        token, method = m.group(1), m.group(2)
        params = self._params(target, headers, body)
        self.requests.append(Request(method, params, self.clock.now(), token))
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, ""
        chat = str(params.get("chat_id", "")) or None
        fault = self._take_fault(method, chat)
        if fault is not None and not fault.deliver:
            if fault.kind != "error":
                return 0, None, fault.kind
            return fault.code, self._error(fault.code, fault.description, fault.parameters), ""
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, ""
        result = await handler(params)
        if fault is not None:  # the call went through but its answer is lost
            return 0, None, fault.kind if fault.kind != "error" else "drop"
        if isinstance(result, tuple):  # an API error
            code, description, parameters = result
            return code, self._error(code, description, parameters), ""
        return 200, {"ok": True, "result": result}, ""

    @staticmethod
    def _error(code: int, description: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return body

    # ------------------------------------------------------------------ faults
    def fail_next(
        self,
        method: str = "sendMessage",
        code: int = 500,
        *,
        n: int = 1,
        chat_id: str | int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """The next `n` calls of `method` (for `chat_id`, if given) answer this error."""
        params: dict[str, Any] = {}
        if retry_after is not None:
            params["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            params["migrate_to_chat_id"] = migrate_to_chat_id
        default = {
            403: "Forbidden: bot can't initiate conversation with a user",
            429: f"Too Many Requests: retry after {retry_after}",
            400: "Bad Request: chat not found",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }.get(code, "Error")
        self._faults.setdefault(method, []).append(
            Fault("error", n, None if chat_id is None else str(chat_id), code, description or default, params or None)
        )

    def hang_next(
        self, method: str = "sendMessage", *, n: int = 1, chat_id: str | int | None = None, deliver: bool = False
    ) -> None:
        """The next `n` calls get no answer until the client times out (`deliver`: after it went through)."""
        self._faults.setdefault(method, []).append(
            Fault("hang", n, None if chat_id is None else str(chat_id), deliver=deliver)
        )

    def drop_next(
        self, method: str = "sendMessage", *, n: int = 1, chat_id: str | int | None = None, deliver: bool = False
    ) -> None:
        """The next `n` calls see the connection closed without an answer."""
        self._faults.setdefault(method, []).append(
            Fault("drop", n, None if chat_id is None else str(chat_id), deliver=deliver)
        )

    def chaos(
        self,
        method: str = "sendMessage",
        *,
        rate: float = 0.3,
        seed: int = 1,
        kinds: tuple[str, ...] = ("500", "hang", "drop"),
    ) -> Chaos:
        """Each call of `method` fails with probability `rate` in one of `kinds`, before going through."""
        c = Chaos(rate, kinds, random.Random(seed))
        self._chaos[method] = c
        return c

    def calm(self) -> None:
        self._chaos.clear()
        self._faults.clear()

    def _take_fault(self, method: str, chat: str | None) -> Fault | None:
        for fault in self._faults.get(method, []):
            if fault.remaining > 0 and (fault.chat_id is None or fault.chat_id == chat):
                fault.remaining -= 1
                return fault
        c = self._chaos.get(method)
        if c is not None and c.rng.random() < c.rate:
            kind = c.rng.choice(c.kinds)
            c.hits.append(kind)
            if kind in ("hang", "drop"):
                return Fault(kind, 0)
            return Fault("error", 0, code=int(kind), description="Internal Server Error")
        return None

    # ------------------------------------------------------------------ methods
    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self.bot

    async def _m_logOut(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = {"url": ""}
        if str(p.get("drop_pending_updates", "false")).lower() == "true":
            self.updates.clear()
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = dict(p)
        return True

    async def _m_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            return 409, "Conflict: can't use getUpdates method while webhook is active", None
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if self.max_hold is not None:
            timeout = min(timeout, self.max_hold)
        if offset > 0:
            self.confirmed = max(self.confirmed, offset)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.updates:
            left = deadline - loop.time()
            if left <= 0:
                break
            self._new_update.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=left)
        allowed = p.get("allowed_updates")
        out = [u for u in self.updates if not allowed or any(k in u for k in allowed)]
        # Telegram drops updates of types not allowed.
        if allowed:
            self.updates = [u for u in self.updates if any(k in u for k in allowed)]
        return out[:limit]

    def _chat_of(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.chats:
            return dict(self.chats[chat_id])
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": str(chat_id)}
        return {"id": chat_id, "type": "group", "title": str(chat_id)}

    def _check_chat(self, chat_id: int) -> tuple[int, str, dict[str, Any] | None] | None:
        if chat_id in self.migrated:
            return (
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        if chat_id > 0 and self.require_start and chat_id not in self.started:
            return 403, "Forbidden: bot can't initiate conversation with a user", None
        return None

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        err = self._check_chat(chat_id)
        if err:
            return err
        text = str(p.get("text", ""))
        if not text.strip():
            return 400, "Bad Request: message text is empty", None
        if len(text) > 4096:
            return 400, "Bad Request: message is too long", None
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for b in row:
                    if len(b.get("callback_data", "").encode()) > 64:
                        return 400, "Bad Request: BUTTON_DATA_INVALID", None
        if p.get("parse_mode") == "HTML":
            stripped = re.sub(r"</?(a|b|i)( href=\"[^\"]*\")?>", "", text)
            if "<" in stripped or ">" in stripped or re.search(r"&(?!(lt|gt|amp|quot);)", stripped):
                return 400, "Bad Request: can't parse entities: unsupported start tag", None
        reply = p.get("reply_parameters")
        reply_to = int(reply["message_id"]) if isinstance(reply, dict) else None
        if (
            reply_to is not None
            and (chat_id, reply_to) not in self.messages
            and not reply.get("allow_sending_without_reply")
        ):
            return 400, "Bad Request: message to be replied not found", None
        mid = self.next_message_id(chat_id)
        msg: dict[str, Any] = {
            "message_id": mid,
            "date": self._ts(),
            "chat": self._chat_of(chat_id),
            "from": self.bot,
            "text": text,
        }
        if reply_to is not None and (chat_id, reply_to) in self.messages:
            msg["reply_to_message"] = self.messages[(chat_id, reply_to)]
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        self.messages[(chat_id, mid)] = msg
        self.sent.append(
            {
                "chat_id": str(chat_id),
                "message_id": mid,
                "text": text,
                "parse_mode": p.get("parse_mode"),
                "reply_to": reply_to,
                "reply_markup": markup,
                "at": self.clock.now(),
            }
        )
        return msg

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        key = (int(p["chat_id"]), int(p["message_id"]))
        if key not in self.messages:
            return 400, "Bad Request: message to edit not found", None
        msg = self.messages[key]
        if msg.get("text") == p.get("text"):
            return 400, "Bad Request: message is not modified", None
        msg["text"] = p.get("text")
        msg["edit_date"] = self._ts()
        if "reply_markup" in p:
            msg["reply_markup"] = p["reply_markup"]
        else:
            msg.pop("reply_markup", None)
        return msg

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        key = (int(p["chat_id"]), int(p["message_id"]))
        if key not in self.messages:
            return 400, "Bad Request: message to edit not found", None
        self.messages[key]["reply_markup"] = p.get("reply_markup")
        return self.messages[key]

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        qid = str(p.get("callback_query_id"))
        if qid not in self._queries or self._queries[qid]:
            return 400, "Bad Request: query is too old and response timeout expired or query ID is invalid", None
        self._queries[qid] = True
        self.answers.append({"id": qid, "text": p.get("text"), "at": self.clock.now()})
        return True

    async def _m_getChatMember(self, p: dict[str, Any]) -> Any:
        uid = int(p["user_id"])
        return {"status": "member", "user": user(uid, str(uid))}

    async def _m_getChat(self, p: dict[str, Any]) -> Any:
        chat = dict(self._chat_of(int(p["chat_id"])))
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        return chat

    # ------------------------------------------------------------------ updates
    def _ts(self) -> int:
        return int(self.clock.now().timestamp())

    def next_message_id(self, chat_id: int) -> int:
        return next(self._msg_ids.setdefault(int(chat_id), itertools.count(1)))

    def group(self, chat_id: int | str, title: str, *, type: str = "group") -> dict[str, Any]:
        chat = {"id": int(chat_id), "type": type, "title": title}
        self.chats[int(chat_id)] = chat
        return chat

    def enqueue(self, **content: Any) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **content}
        self.updates.append(update)
        self._new_update.set()
        return update

    def _message(self, chat_id: int | str, sender: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
        cid = int(chat_id)
        msg: dict[str, Any] = {"message_id": self.next_message_id(cid), "date": self._ts(), "chat": self._chat_of(cid)}
        if sender is not None:
            msg["from"] = sender
        reply_to = fields.pop("reply_to", None)
        if reply_to is not None:
            rid = int(reply_to)
            msg["reply_to_message"] = self.messages.get(
                (cid, rid), {"message_id": rid, "date": self._ts(), "chat": self._chat_of(cid)}
            )
        msg.update({k: v for k, v in fields.items() if v is not None})
        self.messages[(cid, msg["message_id"])] = msg
        self.enqueue(message=msg)
        return msg

    def group_text(
        self,
        chat_id: int | str,
        sender: dict[str, Any],
        text: str,
        *,
        reply_to: int | str | None = None,
        entities: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._message(chat_id, sender, text=text, reply_to=reply_to, entities=entities, **extra)

    def private_text(self, sender: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
        uid = int(sender["id"])
        self.chats.setdefault(uid, {"id": uid, "type": "private", "first_name": sender["first_name"]})
        if text.startswith("/start"):
            self.started.add(uid)
        return self._message(uid, sender, text=text, **extra)

    def photo(
        self, chat_id: int | str, sender: dict[str, Any], caption: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        n = len(self.requests) + len(self.updates)
        sizes = [
            {"file_id": f"photo-small-{n}", "file_unique_id": f"ps{n}", "width": 90, "height": 90},
            {"file_id": f"photo-large-{n}", "file_unique_id": f"pl{n}", "width": 1280, "height": 960},
        ]
        return self._message(chat_id, sender, photo=sizes, caption=caption, **extra)

    def voice(self, chat_id: int | str, sender: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self._message(
            chat_id, sender, voice={"file_id": "voice-1", "file_unique_id": "v1", "duration": 4}, **extra
        )

    def sticker(self, chat_id: int | str, sender: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self._message(
            chat_id,
            sender,
            sticker={
                "file_id": "sticker-1",
                "file_unique_id": "s1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            },
            **extra,
        )

    def document(self, chat_id: int | str, sender: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self._message(
            chat_id, sender, document={"file_id": "doc-1", "file_unique_id": "d1", "file_name": "证明.pdf"}, **extra
        )

    def video(self, chat_id: int | str, sender: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self._message(
            chat_id,
            sender,
            video={"file_id": "video-1", "file_unique_id": "vd1", "width": 640, "height": 480, "duration": 9},
            **extra,
        )

    def location(
        self, chat_id: int | str, sender: dict[str, Any], lat: float = 30.5, lon: float = 114.3
    ) -> dict[str, Any]:
        return self._message(chat_id, sender, location={"latitude": lat, "longitude": lon})

    def edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        edited = dict(message)
        edited["text"] = text
        edited["edit_date"] = self._ts()
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        self.enqueue(edited_message=edited)
        return edited

    def callback(
        self, sender: dict[str, Any], message: dict[str, Any] | int, data: str, chat_id: int | str | None = None
    ) -> str:
        """A press of a button on `message` (a dict, or a message id the bot sent to `chat_id`)."""
        if not isinstance(message, dict):
            cid = int(chat_id if chat_id is not None else sender["id"])
            message = self.messages[(cid, int(message))]
        qid = f"q{next(self._query_ids)}"
        self._queries[qid] = False
        self.enqueue(
            callback_query={
                "id": qid,
                "from": sender,
                "message": message,
                "chat_instance": f"ci{message['chat']['id']}",
                "data": data,
            }
        )
        return qid

    def migrate(self, chat_id: int | str, new_chat_id: int | str, by: dict[str, Any]) -> None:
        """A group upgraded to a supergroup: both service messages, as Telegram sends them."""
        old, new = int(chat_id), int(new_chat_id)
        title = self._chat_of(old).get("title", str(old))
        self.migrated[old] = new
        self.group(new, title, type="supergroup")
        self._message(old, by, migrate_to_chat_id=new)
        self._message(
            new,
            {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"},
            migrate_from_chat_id=old,
        )

    def my_chat_member(self, chat_id: int | str, by: dict[str, Any], old: str, new: str) -> dict[str, Any]:
        cid = int(chat_id)

        def member(status: str) -> dict[str, Any]:
            m: dict[str, Any] = {"status": status, "user": self.bot}
            if status == "kicked":
                m["until_date"] = 0
            if status == "administrator":
                m.update(
                    {
                        k: False
                        for k in (
                            "can_be_edited",
                            "is_anonymous",
                            "can_manage_chat",
                            "can_delete_messages",
                            "can_manage_video_chats",
                            "can_restrict_members",
                            "can_promote_members",
                            "can_change_info",
                            "can_invite_users",
                            "can_post_stories",
                            "can_edit_stories",
                            "can_delete_stories",
                        )
                    }
                )
            return m

        return self.enqueue(
            my_chat_member={
                "chat": self._chat_of(cid),
                "from": by,
                "date": self._ts(),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            }
        )

    def bot_joined(self, chat_id: int | str, by: dict[str, Any]) -> dict[str, Any]:
        return self._message(chat_id, by, new_chat_members=[self.bot])

    def new_title(self, chat_id: int | str, by: dict[str, Any], title: str) -> dict[str, Any]:
        cid = int(chat_id)
        if cid in self.chats:
            self.chats[cid]["title"] = title
        return self._message(cid, by, new_chat_title=title)

    # ------------------------------------------------------------------ inspection
    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat_id"] == str(chat_id)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait (briefly, in wall time) until `predicate()` is truthy; fail the test otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError("timed out waiting for the fake Telegram server")
            await asyncio.sleep(0.005)
