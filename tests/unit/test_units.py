"""Small pure parts: command parsing, masking, similarity, pacing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.adapters.base import PaceLimits
from bot.chat.commands import Command, UnknownCommand, parse
from bot.delivery.pacing import Pacer
from core.clock import SHANGHAI
from services.masking import mask
from services.similarity import is_me_too, similarity


@pytest.mark.parametrize(
    "text, expected",
    [
        ("签收 SG20261125-0007", Command("accept", "SG20261125-0007", "", "签收 SG20261125-0007")),
        ("接单 sg20261125-0007", Command("accept", "SG20261125-0007", "", "接单 sg20261125-0007")),
        (
            "办结 SG20261125-0007 路灯已换",
            Command("resolve", "SG20261125-0007", "路灯已换", "办结 SG20261125-0007 路灯已换"),
        ),
        (
            "/return SG20261125-0007 不归我们",
            Command("return", "SG20261125-0007", "不归我们", "/return SG20261125-0007 不归我们"),
        ),
        (
            "/accept@shanzhi_bot SG20261125-0001",
            Command("accept", "SG20261125-0001", "", "/accept@shanzhi_bot SG20261125-0001"),
        ),
        ("3", Command("rate", None, "3", "3")),
        ("基本满意", Command("rate", None, "2", "基本满意")),
        ("/rate SG20261125-0001 1", Command("rate", "SG20261125-0001", "1", "/rate SG20261125-0001 1")),
        ("绑定 和平村", Command("bind", None, "和平村", "绑定 和平村")),
        ("我的诉求", Command("my", None, "", "我的诉求")),
    ],
)
def test_commands_parse_in_chinese_and_slash_forms(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["查看一下天气", "签收了吗", "办结了没有啊", "今天好热", "13", ""])
def test_conversation_is_not_a_command(text: str) -> None:
    assert parse(text) is None


def test_unknown_slash_word_is_an_unknown_command() -> None:
    assert parse("/frobnicate 1") == UnknownCommand("frobnicate")


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("电话13975246031", "电话139****6031"),
        ("+86 139 7524 6031", "139****6031"),
        ("身份证430124198801011234", "身份证4301**********1234"),
        ("身份证43012419880101123X", "身份证4301**********123X"),
        ("座机0731-84561234", "座机0731-****1234"),
        ("路灯坏了3天", "路灯坏了3天"),
        ("2026年11月25日", "2026年11月25日"),
    ],
)
def test_phone_and_id_numbers_are_masked(raw: str, masked: str) -> None:
    assert masked in mask(raw)


def test_me_too_and_similarity() -> None:
    assert is_me_too("我家也是") and is_me_too("+1") and is_me_too("同上！")
    assert not is_me_too("我家也停水了，水管爆了")
    assert similarity("村口路灯坏了三天了", "村口的路灯坏了") > 0.5
    assert similarity("村口路灯坏了", "低保被取消了") == 0.0


def test_pacer_keeps_one_message_per_second_per_chat_and_twenty_per_minute_per_group() -> None:
    pacer = Pacer(PaceLimits(global_per_second=30, per_chat_interval=1.0, per_group_per_minute=20))
    t = datetime(2026, 11, 25, 9, tzinfo=SHANGHAI)
    sent = []
    for _ in range(45):
        wait = pacer.wait("g", True, t)
        t += timedelta(seconds=max(0.0, wait))
        pacer.record("g", True, t)
        sent.append(t)
    gaps = [(b - a).total_seconds() for a, b in zip(sent, sent[1:])]
    assert min(gaps) >= 1.0
    for i in range(len(sent) - 20):
        assert (sent[i + 20] - sent[i]).total_seconds() >= 60


def test_pacer_per_hour_cap_and_jitter() -> None:
    import random

    pacer = Pacer(PaceLimits(per_chat_interval=3.0, jitter=2.0, per_hour=10), rng=random.Random(7))
    t = datetime(2026, 11, 25, 9, tzinfo=SHANGHAI)
    sent = []
    for i in range(25):
        chat = f"room{i % 5}"
        t += timedelta(seconds=max(0.0, pacer.wait(chat, True, t)))
        pacer.record(chat, True, t)
        sent.append(t)
    for i in range(len(sent) - 10):
        assert (sent[i + 10] - sent[i]).total_seconds() >= 3600
