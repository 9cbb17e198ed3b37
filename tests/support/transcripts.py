"""Reading a transcript: the ticket number the bot gave, and the streetlight report most conversations start from."""

from __future__ import annotations

import re

from tests.support.chat import Chat

STREETLIGHT = "村口路灯坏了三天了，晚上黑漆漆的，有事打我电话13975246031"
TICKET_NO = re.compile(r"SG\d{8}-\d{4}")


def ticket_no(lines) -> str:  # type: ignore[no-untyped-def]
    for line in lines:
        m = TICKET_NO.search(line.text)
        if m:
            return m.group(0)
    raise AssertionError(f"no ticket number in {[l.text for l in lines]}")


async def open_streetlight(chat: Chat) -> str:
    return ticket_no(await chat.say("王大妈", STREETLIGHT))
