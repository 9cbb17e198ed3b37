"""Parsing of role commands: Chinese words first, slash forms too.

`签收 SG20261125-0007`, `/accept SG20261125-0007`, `办结 SG20261125-0007 路灯已换新`, and the
reporter's bare `1` / `2` / `3` answer to 回访. Parsing is pure; what a command may do, and who may
do it, is the services' business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> (slash forms, Chinese words). Longer words are tried first ("不是诉求" before "不是").
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accept": (("accept",), ("签收", "接单")),
    "resolve": (("resolve", "done"), ("办结", "已办结")),
    "return": (("return",), ("退单", "退回")),
    "transfer": (("transfer",), ("转办", "转派")),
    "recat": (("recat", "category"), ("改类", "改类别")),
    "dismiss": (("dismiss",), ("不是诉求", "撤销")),
    "confirm": (("confirm",), ("立案",)),
    "ignore": (("ignore",), ("忽略",)),
    "mine": (("mine",), ("我的工单",)),
    "show": (("show", "ticket"), ("查看", "查询工单")),
    "my": (("my",), ("我的诉求", "我的反映")),
    "help": (("help",), ("帮助", "菜单")),
    "bind": (("bind",), ("绑定",)),
    "rate": (("rate",), ()),
    "notice": (("notice",), ("发通知",)),
    "start": (("start",), ()),
    "ack": (("ack",), ("收到",)),
    "onsite": (("onsite", "arrived"), ("已到场", "到场")),
}
# Commands whose Chinese word alone (without a ticket number) is still a command.
BARE_WORDS_OK = {"mine", "my", "help", "accept", "show"}
# Commands whose word may be followed straight by their text, without a ticket number, where the
# sender's words are meant for the bot (`parse(..., text_without_number=True)`): staff in private.
TEXT_WITHOUT_NUMBER = {"resolve", "return", "transfer", "recat", "dismiss"}
# Commands whose word alone is one only where the sender's words are meant for the bot (staff in private): in a
# group, 收到 is what everyone answers to a notice.
BARE_WORDS_PRIVATE = {"ack", "onsite"}
_SEPARATORS = (" ", "\u3000", ":", "：", "，", ",")

TICKET_NO = re.compile(r"\b([A-Za-z]{1,6}\d{8}-\d{3,6})\b")
RATING = {"1": "1", "2": "2", "3": "3", "满意": "1", "基本满意": "2", "不满意": "3", "１": "1", "２": "2", "３": "3"}
_SLASH = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)
_WORDS = sorted(((w, name) for name, (_, words) in COMMANDS.items() for w in words), key=lambda x: -len(x[0]))


@dataclass(frozen=True)
class Command:
    name: str
    ticket_no: str | None = None
    arg: str = ""  # the rest after the ticket number (reply, reason, unit, category, region)
    raw: str = ""


@dataclass(frozen=True)
class UnknownCommand:
    word: str


def _split_ticket(rest: str) -> tuple[str | None, str]:
    rest = rest.strip()
    m = TICKET_NO.search(rest)
    if m and rest[: m.start()].strip() in ("", "#", "工单", "工单号"):
        return m.group(1).upper(), rest[m.end():].strip(" ：:，,")
    return None, rest


def parse(text: str, *, text_without_number: bool = False) -> Command | UnknownCommand | None:
    """A Command, an UnknownCommand (a slash word we do not know), or None (not a command at all).

    In a group, `办结 路灯修好了吗` is a resident talking, so a command word followed by text is a
    command only with a ticket number. With `text_without_number` (a staff member's private chat
    with the bot, where everything is meant for it), `办结 路灯已更换` is the resolve of the ticket
    the sender's work list makes unambiguous; the word must still stand apart (`办结了吗` is not)."""
    t = text.strip()
    if not t:
        return None
    rating = RATING.get(t.rstrip("。.!！ "))
    if rating:
        return Command("rate", None, rating, t)
    m = _SLASH.match(t)
    if m:
        word = m.group(1).lower()
        for name, (slashes, _) in COMMANDS.items():
            if word in slashes:
                no, arg = _split_ticket(m.group(2) or "")
                if name == "rate":
                    arg = RATING.get(arg.strip(), arg.strip())
                return Command(name, no, arg, t)
        return UnknownCommand(word)
    for word, name in _WORDS:
        if t.startswith(word):
            rest = t[len(word):]
            no, arg = _split_ticket(rest)
            if no is not None:
                return Command(name, no, arg, t)
            if name in ("bind", "notice") and rest.strip():
                return Command(name, None, rest.strip(), t)
            if not rest.strip() and name in BARE_WORDS_OK | {"resolve", "return", "dismiss", "confirm", "ignore"}:
                return Command(name, None, "", t)
            if text_without_number and name in BARE_WORDS_PRIVATE and not rest.strip(" \u3000。.!！"):
                return Command(name, None, "", t)
            if text_without_number and name in TEXT_WITHOUT_NUMBER and rest.startswith(_SEPARATORS) and rest.strip(" \u3000:：，,"):
                return Command(name, None, rest.strip(" \u3000:：，,"), t)
            return None  # "签收了吗" or "查看一下路灯" is conversation, not a command
    return None
