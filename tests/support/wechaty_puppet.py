"""An in-process WeChat account for tests: a subclass of `wechaty_puppet.Puppet` that the real
`wechaty` library drives, holding contacts, rooms and messages, emitting login / message /
room-join / room-topic / logout / error events, and recording what the bot says.

The shipped `wechaty.fake_puppet.FakePuppet` does not work as is (its start() never returns, its
sent messages have no payload). This one behaves like a puppet-service connection: `start()`
logs in and then *is* the event stream until `stop()` or `end_stream()` (`start_blocks = True`
tells the adapter that start() returning means the stream ended).

wechaty is imported through the adapter so its workarounds (cache dir, dataclass patches) apply
before the first import.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.adapters.wechat.compat import load_wechaty
from core.clock import Clock, SystemClock

_w = load_wechaty(Path(tempfile.gettempdir()) / "shanzhi-test-wechaty")

from pyee import AsyncIOEventEmitter  # noqa: E402
from wechaty_puppet import (  # noqa: E402
    ContactPayload,
    ContactType,
    EventErrorPayload,
    EventLoginPayload,
    EventLogoutPayload,
    EventMessagePayload,
    EventRoomJoinPayload,
    EventRoomLeavePayload,
    EventRoomTopicPayload,
    MessagePayload,
    MessageType,
    Puppet,
    PuppetOptions,
    RoomMemberPayload,
    RoomPayload,
)
from wechaty_puppet.exceptions import WechatyPuppetOperationError, WechatyPuppetPayloadError  # noqa: E402

BOT_ID = "wxid_bot"
BOT_NAME = "善治助手"

# kind (bot.messages) → what the puppet says the message is
TYPES = {
    "text": MessageType.MESSAGE_TYPE_TEXT,
    "image": MessageType.MESSAGE_TYPE_IMAGE,
    "voice": MessageType.MESSAGE_TYPE_AUDIO,
    "video": MessageType.MESSAGE_TYPE_VIDEO,
    "file": MessageType.MESSAGE_TYPE_ATTACHMENT,
    "sticker": MessageType.MESSAGE_TYPE_EMOTICON,
    "link": MessageType.MESSAGE_TYPE_URL,
    "miniprogram": MessageType.MESSAGE_TYPE_MINI_PROGRAM,
    "transfer": MessageType.MESSAGE_TYPE_TRANSFER,
    "redpacket": MessageType.MESSAGE_TYPE_RED_ENVELOPE,
    "recalled": MessageType.MESSAGE_TYPE_RECALLED,
    "contact": MessageType.MESSAGE_TYPE_CONTACT,
    "location": MessageType.MESSAGE_TYPE_LOCATION,
    "chat_history": MessageType.MESSAGE_TYPE_CHAT_HISTORY,
    "system": MessageType.MESSAGE_TYPE_UNSPECIFIED,
}

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    # wechaty de-duplicates message ids process-wide: every id must be unique in the test run.
    return f"{prefix}-{next(_ids)}-{id(object()):x}"


@dataclass
class Said:
    """One message the bot sent."""

    conversation_id: str
    text: str
    mention_ids: list[str]
    at: datetime
    message_id: str
    is_room: bool = field(default=False)


class InProcessPuppet(Puppet):
    """A fake WeChat account. Drive it with say()/media()/bot_added()/topic()/logout_now()/end_stream()."""

    start_blocks = True

    def __init__(self, *, clock: Clock | None = None, self_id: str = BOT_ID, self_name: str = BOT_NAME) -> None:
        super().__init__(PuppetOptions(), name="in-process-puppet")
        self.clock = clock or SystemClock()
        self.self_id_value = self_id
        self.contacts: dict[str, ContactPayload] = {}
        self.rooms: dict[str, RoomPayload] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.messages: dict[str, MessagePayload] = {}
        self.said: list[Said] = []
        self.starts = 0
        self.stops = 0
        self.logged_in = False
        self.refuse_start: BaseException | None = None  # e.g. a GRPCError(UNAUTHENTICATED)
        self.refuse_non_friends = True
        self.echo_own_messages = True
        self.fail_next_sends: list[BaseException] = []
        self._emitter = AsyncIOEventEmitter()
        self._stream_end: asyncio.Future[BaseException | None] | None = None
        self.add_contact(self_id, self_name)

    # -- the cast --------------------------------------------------------------------------------

    def add_contact(self, contact_id: str, name: str, *, friend: bool = True, official: bool = False) -> None:
        self.contacts[contact_id] = ContactPayload(
            id=contact_id,
            name=name,
            friend=friend,
            type=ContactType.CONTACT_TYPE_OFFICIAL if official else ContactType.CONTACT_TYPE_PERSONAL,
        )

    def add_room(self, room_id: str, topic: str, member_ids: list[str], *, include_bot: bool = True) -> None:
        members = list(member_ids)
        if include_bot and self.self_id_value not in members:
            members.append(self.self_id_value)
        self.rooms[room_id] = RoomPayload(
            id=room_id, topic=topic, member_ids=members, owner_id=members[0], admin_ids=[]
        )

    def set_alias(self, room_id: str, contact_id: str, alias: str) -> None:
        self.aliases[(room_id, contact_id)] = alias

    # -- driving the account ----------------------------------------------------------------------

    def _emit(self, event: str, payload: Any) -> None:
        self._emitter.emit(event, payload)

    def _store(
        self,
        *,
        from_id: str,
        text: str = "",
        room_id: str = "",
        to_id: str = "",
        kind: str = "text",
        mentions: list[str] | None = None,
        message_id: str | None = None,
        filename: str = "",
        mtype: Any = None,
    ) -> str:
        message_id = message_id or _next_id("msg")
        self.messages[message_id] = MessagePayload(
            id=message_id,
            filename=filename,
            text=text,
            timestamp=int(self.clock.now().timestamp()),
            type=mtype if mtype is not None else TYPES[kind],
            from_id=from_id,
            room_id=room_id,
            to_id=to_id,
            mention_ids=list(mentions or []),
        )
        return message_id

    def say(
        self,
        from_id: str,
        text: str,
        *,
        room: str | None = None,
        mentions: list[str] | None = None,
        message_id: str | None = None,
    ) -> str:
        """A contact writes text in a room, or privately to the bot. Returns the message id."""
        mid = self._store(
            from_id=from_id,
            text=text,
            room_id=room or "",
            to_id="" if room else self.self_id_value,
            mentions=mentions,
            message_id=message_id,
        )
        self._emit("message", EventMessagePayload(message_id=mid))
        return mid

    def media(
        self, from_id: str, kind: str, *, room: str | None = None, text: str = "", filename: str = "", mtype: Any = None
    ) -> str:
        """A non-text message (image, voice, file, link...; `mtype` forces a raw type value)."""
        mid = self._store(
            from_id=from_id,
            text=text,
            room_id=room or "",
            to_id="" if room else self.self_id_value,
            kind=kind if kind in TYPES else "system",
            filename=filename,
            mtype=mtype,
        )
        self._emit("message", EventMessagePayload(message_id=mid))
        return mid

    def bot_added(self, room_id: str, topic: str, inviter_id: str, member_ids: list[str] | None = None) -> None:
        self.add_room(room_id, topic, list(member_ids or [inviter_id]))
        self._emit(
            "room-join",
            EventRoomJoinPayload(
                invited_ids=[self.self_id_value],
                inviter_id=inviter_id,
                room_id=room_id,
                timestamp=self.clock.now().timestamp(),
            ),
        )

    def member_joined(self, room_id: str, contact_id: str, inviter_id: str) -> None:
        self.rooms[room_id].member_ids.append(contact_id)
        self._emit(
            "room-join",
            EventRoomJoinPayload(
                invited_ids=[contact_id], inviter_id=inviter_id, room_id=room_id, timestamp=self.clock.now().timestamp()
            ),
        )

    def bot_removed(self, room_id: str, remover_id: str) -> None:
        self._emit(
            "room-leave",
            EventRoomLeavePayload(
                removed_ids=[self.self_id_value],
                remover_id=remover_id,
                room_id=room_id,
                timestamp=self.clock.now().timestamp(),
            ),
        )

    def topic(self, room_id: str, new_topic: str, changer_id: str) -> None:
        old = self.rooms[room_id].topic
        self.rooms[room_id].topic = new_topic
        self._emit(
            "room-topic",
            EventRoomTopicPayload(
                changer_id=changer_id,
                new_topic=new_topic,
                old_topic=old,
                room_id=room_id,
                timestamp=self.clock.now().timestamp(),
            ),
        )

    def error_event(self, data: str = "") -> None:
        """What the patched 0.10 client makes of a 1.x `{gerror}` error event."""
        self._emit("error", EventErrorPayload(data=data))

    def logout_now(self, reason: str = "kicked out by the test") -> None:
        self.logged_in = False
        self._emit("logout", EventLogoutPayload(contact_id=self.self_id_value, data=reason))

    def end_stream(self, exc: BaseException | None = None) -> None:
        """The connection's event stream ends (start() returns), or fails with `exc`."""
        if self._stream_end is not None and not self._stream_end.done():
            self._stream_end.set_result(exc)

    def said_in(self, conversation_id: str) -> list[Said]:
        return [s for s in self.said if s.conversation_id == conversation_id]

    # -- the Puppet interface that wechaty calls --------------------------------------------------

    def on(self, event_name: str, caller: Any) -> None:
        self._emitter.on(event_name, caller)

    def listener_count(self, event_name: str) -> int:
        return len(self._emitter.listeners(event_name))

    async def start(self) -> None:
        self.starts += 1
        if self.refuse_start is not None:
            raise self.refuse_start
        loop = asyncio.get_running_loop()
        self._stream_end = loop.create_future()
        self.logged_in = True
        self._emit("login", EventLoginPayload(contact_id=self.self_id_value))
        exc = await self._stream_end
        if exc is not None:
            raise exc

    async def stop(self) -> None:
        self.stops += 1
        self.logged_in = False
        self._emitter.remove_all_listeners()
        self.end_stream()

    def self_id(self) -> str:
        return self.self_id_value

    async def logout(self) -> None:
        self.logout_now("logout()")

    async def login(self, user_id: str) -> None:
        self.logged_in = True
        self._emit("login", EventLoginPayload(contact_id=user_id))

    async def ding(self, data: str | None = None) -> None:
        return None

    async def contact_list(self) -> list[str]:
        return list(self.contacts)

    async def contact_payload(self, contact_id: str) -> ContactPayload:
        if contact_id not in self.contacts:
            raise WechatyPuppetPayloadError(f"contact {contact_id} not exist")
        return self.contacts[contact_id]

    async def contact_payload_dirty(self, contact_id: str) -> None:
        return None

    async def contact_alias(self, contact_id: str, alias: str | None = None) -> str:
        return self.contacts[contact_id].alias

    async def room_list(self) -> list[str]:
        return list(self.rooms)

    async def room_search(self, query: Any = None) -> list[str]:
        return list(self.rooms)

    async def room_payload(self, room_id: str) -> RoomPayload:
        if room_id not in self.rooms:
            raise WechatyPuppetPayloadError(f"room {room_id} not exist")
        return self.rooms[room_id]

    async def room_members(self, room_id: str) -> list[str]:
        return list((await self.room_payload(room_id)).member_ids)

    async def room_member_payload(self, room_id: str, contact_id: str) -> RoomMemberPayload:
        contact = await self.contact_payload(contact_id)
        return RoomMemberPayload(
            id=contact_id,
            room_alias=self.aliases.get((room_id, contact_id), ""),
            inviter_id="",
            avatar="",
            name=contact.name,
        )

    async def message_payload(self, message_id: str) -> MessagePayload:
        if message_id not in self.messages:
            raise WechatyPuppetPayloadError(f"message {message_id} not exist")
        return self.messages[message_id]

    async def message_search(self, query: Any = None) -> list[str]:
        return []

    async def message_send_text(self, conversation_id: str, message: str, mention_ids: list[str] | None = None) -> str:
        if not self.logged_in:
            raise WechatyPuppetOperationError("not logged in")
        if self.fail_next_sends:
            raise self.fail_next_sends.pop(0)
        is_room = conversation_id in self.rooms
        if not is_room:
            contact = self.contacts.get(conversation_id)
            if contact is None:
                raise WechatyPuppetOperationError(f"contact {conversation_id} not exist")
            if self.refuse_non_friends and not contact.friend:
                raise WechatyPuppetOperationError(f"{conversation_id} is not a friend")
        mid = self._store(
            from_id=self.self_id_value,
            text=message,
            room_id=conversation_id if is_room else "",
            to_id="" if is_room else conversation_id,
            mentions=list(mention_ids or []),
            message_id=_next_id("bot"),
        )
        self.said.append(Said(conversation_id, message, list(mention_ids or []), self.clock.now(), mid, is_room))
        if self.echo_own_messages:
            # Real gateways echo the account's own messages back as message events.
            self._emit("message", EventMessagePayload(message_id=mid))
        return mid


def heping_cast(puppet: InProcessPuppet) -> InProcessPuppet:
    """The people and rooms of org.yaml (wechat ids), plus residents and a non-friend."""
    for cid, name in [
        ("wxid_wang", "王大妈"),
        ("wxid_liu_resident", "刘大爷"),
        ("wxid_li", "李网格"),
        ("wxid_zhao", "赵网格"),
        ("wxid_zhang", "张主任"),
        ("wxid_qian", "钱主任"),
        ("wxid_admin", "周管理"),
    ]:
        puppet.add_contact(cid, name)
    puppet.add_contact("wxid_stranger", "陌生人", friend=False)
    puppet.add_contact("wxid_zhang_nf", "张主任", friend=False)
    members = ["wxid_admin", "wxid_wang", "wxid_liu_resident", "wxid_li", "wxid_zhang", "wxid_stranger"]
    puppet.add_room("room_heping@chatroom", "和平村群", members)
    puppet.add_room("room_shiqiao@chatroom", "石桥村群", ["wxid_admin", "wxid_zhao", "wxid_qian"])
    return puppet
