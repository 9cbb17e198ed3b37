"""Short "me too"s that name the thing: "网也没了" right under a broadband report is one more household."""

from __future__ import annotations

import pytest

from services.relation import me_too


@pytest.mark.parametrize("text", ["网也没了", "水也停了", "我这边电也断了"])
def test_a_thing_gone_too_is_a_me_too(text: str) -> None:
    said, content = me_too(text)
    assert said and content == text


@pytest.mark.parametrize("text", ["也没了", "钱也没了还能咋办", "我也不知道网为啥断"])
def test_without_a_thing_or_with_a_story_it_is_not(text: str) -> None:
    assert me_too(text) == (False, "")
