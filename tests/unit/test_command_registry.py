"""The command registry is the one declaration of every chat command: its words parse to it, 帮助 lists what
the person asking may use, and who may use it is decided from it."""

from __future__ import annotations

from bot.chat.commands import REGISTRY, SPECS, Who, help_text, parse


def test_every_word_and_slash_form_of_a_command_parses_to_it() -> None:
    for spec in REGISTRY:
        for word in spec.words:
            got = parse(f"{word} SG20261125-0007")
            assert got is not None and getattr(got, "name", None) == spec.name, word
        for slash in spec.slashes:
            got = parse(f"/{slash} SG20261125-0007")
            assert got is not None and getattr(got, "name", None) == spec.name, slash


def test_a_resident_sees_only_the_commands_a_resident_may_use_in_help() -> None:
    text = help_text("resident", False)
    assert "我的诉求" in text and "签收" not in text and "发通知" not in text and "绑定" not in text


def test_a_grid_worker_sees_the_ticket_commands_but_not_notices_or_binding() -> None:
    text = help_text("grid_worker", True)
    assert all(s.usage in text for s in REGISTRY if s.who in (Who.ANYONE, Who.STAFF) and s.usage)
    assert "发通知" not in text and "绑定 村名" not in text


def test_an_admin_sees_every_command_with_a_help_line() -> None:
    text = help_text("admin", True)
    assert all(s.usage in text for s in REGISTRY if s.usage)


def test_who_may_use_a_command_follows_the_roles() -> None:
    assert SPECS["accept"].who.allows("grid_worker", True) and not SPECS["accept"].who.allows("resident", False)
    assert SPECS["notice"].who.allows("official", True) and not SPECS["notice"].who.allows("grid_worker", True)
    assert SPECS["bind"].who.allows("admin", True) and not SPECS["bind"].who.allows("official", True)


def test_a_residents_received_under_a_notice_is_conversation_not_a_refused_command() -> None:
    assert SPECS["ack"].refusal is None and parse("收到") is None  # in a group the bare word is no command
