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
