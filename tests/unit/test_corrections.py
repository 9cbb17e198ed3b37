"""A reporter's correction ("不是三组，是五组") changes where the ticket says the problem is, so the next neighbour's
"+1 五组" is matched against the corrected words."""

from __future__ import annotations

import pytest

from services.relation import corrected


@pytest.mark.parametrize(
    ("ticket", "correction", "now"),
    [
        ("5栋电梯又坏了 卡在12楼不动", "说错了 是6栋不是5栋", "6栋电梯又坏了 卡在12楼不动"),
        ("三组的路灯坏了好几天", "不是三组，是五组", "五组的路灯坏了好几天"),
        ("三组的路灯坏了好几天", "更正一下 不是三组的 应该是五组", "五组的路灯坏了好几天"),
        ("五组嗰个垃圾池三日冇人收", "唔系五组 系六组", "六组嗰个垃圾池三日冇人收"),
    ],
)
def test_a_correction_replaces_the_words_it_names(ticket: str, correction: str, now: str) -> None:
    assert corrected(ticket, correction) == now


@pytest.mark.parametrize(
    "correction",
    ["不是村口，是桥头", "是我说错了不是今天", "说错了", "我家不是也停水了吗"],
)
def test_a_correction_naming_nothing_the_ticket_says_changes_nothing(correction: str) -> None:
    assert corrected("三组的路灯坏了好几天", correction) is None


def test_a_neighbour_naming_no_thing_joins_the_same_kind_of_problem_at_the_same_place() -> None:
    from services.relation import fit

    pool = "六组嗰个垃圾池三日冇人嚟收咗 满到泻出嚟 臭到唔得了"
    assert fit("六组祠堂嗰度真系臭 我哋屋企成日闻到", "environment", pool, "environment", similarity=0.3).same
    assert not fit("七组祠堂嗰度真系臭", "environment", pool, "environment", similarity=0.3).same
