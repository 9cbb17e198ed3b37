"""A landmark said as where ("从大樟树那边", "桥头那边") is a place: it does not make the message about trees or a
bridge, so the reporter's "整个五组 从大樟树那边到河边都黑的" stays detail of their power cut."""

from __future__ import annotations

from services.relation import problem_of


def test_a_landmark_said_as_where_names_no_thing() -> None:
    p = problem_of("整个五组 从大樟树那边到河边都黑的")
    assert p.things == frozenset() and ("大", "樟树") in p.landmarks


def test_the_same_word_as_the_subject_still_names_the_thing() -> None:
    assert "trees" in problem_of("后山的樟树被人砍了好几棵").things


def test_what_is_broken_there_is_still_read() -> None:
    assert problem_of("桥头那边的路灯坏了").things == frozenset({"light"})


def test_a_message_that_only_says_where_is_a_place() -> None:
    from services.relation import says_only_where

    assert says_only_where("就是大路边上那几户红砖房子那里") and says_only_where("就在小卖部门口")
    assert not says_only_where("就在村口 路灯又坏了") and not says_only_where("我在家里")
