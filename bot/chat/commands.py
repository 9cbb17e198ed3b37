"""The chat commands, each declared once: its words (Chinese first, slash forms too), who may use it, whether it
names a ticket, the handler that carries it out and its line in 帮助; and the parsing of a message into one.

`签收 SG20261125-0007`, `/accept SG20261125-0007`, `办结 SG20261125-0007 路灯已换新`, and the reporter's bare
`1` / `2` / `3` answer to 回访. Parsing is pure. Who may use a command is checked once, by the router, from
``Spec.who``; what a command may do to a ticket (its region, its unit, its status) is the services' business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from bot.chat import texts


class Who(StrEnum):
    """Who may use a command (``services.org`` roles: resident, grid_worker, official, admin)."""

    ANYONE = "anyone"
    STAFF = "staff"  # grid workers, officials, admins
    OFFICIALS = "officials"  # officials and admins
    ADMINS = "admins"

    def allows(self, role: str, is_staff: bool) -> bool:
        if self is Who.ANYONE:
            return True
        if self is Who.STAFF:
            return is_staff
        if self is Who.OFFICIALS:
            return role in ("official", "admin")
        return role == "admin"


@dataclass(frozen=True)
class Spec:
    name: str
    slashes: tuple[str, ...]
    words: tuple[str, ...]  # longer words are tried first ("不是诉求" before "不是")
    who: Who
    #: the handler: ``Router._cmd_<handler>`` (every staff action on a ticket shares ``work``)
    handler: str
    #: the texts.ERRORS key told to someone who may not use it; None: from them it is no command but conversation
    #: (a resident's 收到 under a notice)
    refusal: str | None = None
    #: "required": names a ticket (or means the one replied to, or the only one that fits); "no": never
    ticket: Literal["required", "no"] = "no"
    #: where the word alone, with nothing after it, is the command: everywhere, only where the sender's words
    #: are meant for the bot (staff in private: in a group 收到 is what everyone answers to a notice), or nowhere
    bare: Literal["anywhere", "private", "never"] = "never"
    #: in a staff member's private chat the word may be followed straight by its text, without a ticket number
    text_without_number: bool = False
    #: the word is followed by free text (a region, a notice) anywhere, without a ticket number
    free_text: bool = False
    #: its line in 帮助 ("" for none)
    usage: str = ""
    #: the word the done-reply uses, and the prompt when the argument is missing (staff actions on a ticket)
    done_word: str = ""
    prompt: str | None = None


REGISTRY: tuple[Spec, ...] = (
    Spec(
        "my",
        ("my",),
        ("我的诉求", "我的反映"),
        Who.ANYONE,
        "my",
        bare="anywhere",
        usage="我的诉求 (/my)：查看您反映过的问题",
    ),
    Spec(
        "show",
        ("show", "ticket"),
        ("查看", "查询工单"),
        Who.ANYONE,
        "show",
        ticket="required",
        bare="anywhere",
        usage="查看 工单号 (/show)：查看一件工单",
    ),
    Spec("rate", ("rate",), (), Who.ANYONE, "rate"),
    Spec("help", ("help",), ("帮助", "菜单"), Who.ANYONE, "help", bare="anywhere"),
    Spec("start", ("start",), (), Who.ANYONE, "start"),
    Spec(
        "accept",
        ("accept",),
        ("签收", "接单"),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        "anywhere",
        usage="签收 工单号 (/accept)",
        done_word="签收",
    ),
    Spec(
        "resolve",
        ("resolve", "done"),
        ("办结", "已办结"),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        "anywhere",
        True,
        usage="办结 工单号 办理结果 (/resolve)",
        done_word="办结",
        prompt=texts.PROMPT_RESOLVE,
    ),
    Spec(
        "return",
        ("return",),
        ("退单", "退回"),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        "anywhere",
        True,
        usage="退单 工单号 原因 (/return)",
        done_word="退单",
        prompt=texts.PROMPT_RETURN,
    ),
    Spec(
        "transfer",
        ("transfer",),
        ("转办", "转派"),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        text_without_number=True,
        usage="转办 工单号 单位 (/transfer)",
        done_word="转办",
    ),
    Spec(
        "split",
        ("split",),
        ("拆分",),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        text_without_number=True,
        usage="拆分 工单号 居民名字 (/split)：把误并入的一户拆出，按其原话另立工单或不作诉求",
        done_word="拆分",
    ),
    Spec(
        "recat",
        ("recat", "category"),
        ("改类", "改类别"),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        text_without_number=True,
        usage="改类 工单号 类别 (/recat)",
        done_word="改类",
    ),
    Spec(
        "dismiss",
        ("dismiss",),
        ("不是诉求", "撤销"),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        "anywhere",
        True,
        usage="不是诉求 工单号 (/dismiss)",
        done_word="撤销",
    ),
    Spec(
        "confirm",
        ("confirm",),
        ("立案",),
        Who.STAFF,
        "work",
        "staff_only",
        "required",
        "anywhere",
        usage="立案 工单号 / 忽略 工单号 (/confirm /ignore)：确认疑似诉求",
        done_word="立案",
    ),
    Spec("ignore", ("ignore",), ("忽略",), Who.STAFF, "work", "staff_only", "required", "anywhere", done_word="忽略"),
    Spec(
        "mine",
        ("mine",),
        ("我的工单",),
        Who.STAFF,
        "mine",
        "staff_only_mine",
        bare="anywhere",
        usage="我的工单 (/mine) · 查看 工单号 (/show)",
    ),
    Spec("ack", ("ack",), ("收到",), Who.STAFF, "ack", None, bare="private"),
    Spec("onsite", ("onsite", "arrived"), ("已到场", "到场"), Who.STAFF, "onsite", None, bare="private"),
    Spec(
        "notice",
        ("notice",),
        ("发通知",),
        Who.OFFICIALS,
        "notice",
        "officials_only",
        free_text=True,
        usage="发通知 标签 [时间] 内容 (/notice)：如 发通知 township:青石镇,kind:village 2026-12-01 09:00 明天上午停水",
    ),
    Spec(
        "bind",
        ("bind",),
        ("绑定",),
        Who.ADMINS,
        "bind",
        "admin_only",
        free_text=True,
        bare="anywhere",  # 绑定 alone is answered with how to use it
        usage="绑定 村名 (/bind 和平村)：把本群绑定到村/社区",
    ),
)
SPECS: dict[str, Spec] = {s.name: s for s in REGISTRY}

_SEPARATORS = (" ", "\u3000", ":", "：", "，", ",")
TICKET_NO = re.compile(r"\b([A-Za-z]{1,6}\d{8}-\d{3,6})\b")
RATING = {"1": "1", "2": "2", "3": "3", "满意": "1", "基本满意": "2", "不满意": "3", "１": "1", "２": "2", "３": "3"}
_SLASH = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)
_WORDS = sorted(((w, s) for s in REGISTRY for w in s.words), key=lambda x: -len(x[0]))
_BY_SLASH = {w: s for s in REGISTRY for w in s.slashes}


@dataclass(frozen=True)
class Command:
    name: str
    ticket_no: str | None = None
    arg: str = ""  # the rest after the ticket number (reply, reason, unit, category, region)
    raw: str = ""

    @property
    def spec(self) -> Spec:
        return SPECS[self.name]


@dataclass(frozen=True)
class UnknownCommand:
    word: str


def _split_ticket(rest: str) -> tuple[str | None, str]:
    rest = rest.strip()
    m = TICKET_NO.search(rest)
    if m and rest[: m.start()].strip() in ("", "#", "工单", "工单号"):
        return m.group(1).upper(), rest[m.end() :].strip(" ：:，,")
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
        spec = _BY_SLASH.get(word)
        if spec is None:
            return UnknownCommand(word)
        no, arg = _split_ticket(m.group(2) or "")
        if spec.name == "rate":
            arg = RATING.get(arg.strip(), arg.strip())
        return Command(spec.name, no, arg, t)
    for word, spec in _WORDS:
        if t.startswith(word):
            rest = t[len(word) :]
            no, arg = _split_ticket(rest)
            if no is not None:
                return Command(spec.name, no, arg, t)
            if spec.free_text and rest.strip():
                return Command(spec.name, None, rest.strip(), t)
            if not rest.strip() and spec.bare == "anywhere":
                return Command(spec.name, None, "", t)
            if text_without_number and spec.bare == "private" and not rest.strip(" \u3000。.!！"):
                return Command(spec.name, None, "", t)
            if (
                text_without_number
                and spec.text_without_number
                and rest.startswith(_SEPARATORS)
                and rest.strip(" \u3000:：，,")
            ):
                return Command(spec.name, None, rest.strip(" \u3000:：，,"), t)
            return None  # "签收了吗" or "查看一下路灯" is conversation, not a command
    return None


def help_text(role: str, is_staff: bool, *, local: bool = False) -> str:
    """帮助, generated from the registry: the lines of the commands this person may use."""
    parts = [
        texts.HELP_RESIDENT_INTRO
        + "\n"
        + "\n".join(f"· {s.usage}" for s in REGISTRY if s.who is Who.ANYONE and s.usage)
        + "\n"
        + texts.HELP_RATING
    ]
    if is_staff:
        parts.append(
            texts.HELP_STAFF_INTRO
            + "\n"
            + "\n".join(f"· {s.usage}" for s in REGISTRY if s.who is Who.STAFF and s.usage)
            + "\n"
            + texts.HELP_STAFF_OUTRO
        )
    for who in (Who.OFFICIALS, Who.ADMINS):
        if who.allows(role, is_staff):
            parts += [
                ("管理员命令：" if who is Who.ADMINS else "") + s.usage for s in REGISTRY if s.who is who and s.usage
            ]
    if local:
        parts.append(texts.HELP_LOCAL)
    return "\n\n".join(parts)
