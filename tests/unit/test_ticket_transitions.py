"""The ticket state machine as a table: every action succeeds from exactly the statuses written here, and is
refused (InvalidTransition) from every other one. The table is the specification (受理 → 派单 → 签收 → 办结 → 回访
→ 销号, with 退单, 转办, 改类, 撤销 and 提级), written out apart from `services.tickets.ALLOWED`, so a change to
either shows here."""

from __future__ import annotations

import pytest

from services.errors import BadArgument, InvalidTransition
from services.tickets import ALLOWED, STATUS_LABELS
from tests.support.schedules import start_bot

STATUSES = tuple(STATUS_LABELS)  # every status a ticket can be in
OPEN_WORK = {"dispatched", "accepted", "returned"}
SPEC = {
    "confirm": {"pending"},  # the grid worker's 立案 of an uncertain message
    "accept": {"dispatched"},  # 签收
    "resolve": {"dispatched", "accepted"},  # 办结
    "return": {"dispatched", "accepted"},  # 退单
    "transfer": OPEN_WORK | {"registered"},  # 转办
    "recat": OPEN_WORK | {"pending", "registered"},  # 改类
    "dismiss": OPEN_WORK | {"pending", "registered"},  # 撤销 / 不是诉求
    "rate": {"followup"},  # the reporter's 回访 answer
    "escalate": OPEN_WORK,  # 提级, by the sweep
    "split": OPEN_WORK | {"pending", "registered"},  # 拆分 a household joined by mistake
}


def test_the_service_table_is_the_specification() -> None:
    assert {a: set(s) for a, s in ALLOWED.items()} == SPEC


def test_every_status_of_the_enum_is_a_state_of_the_table() -> None:
    """The Status enum names exactly the states the table starts from, plus where tickets end (已办结 on the way
    to 回访, 已销号, 不是诉求): no status the machine never reaches, none it reaches unnamed."""
    from storage.status import Status

    started_from = set().union(*SPEC.values())
    assert set(Status) == started_from | {"resolved", "closed", "dismissed"}
    assert set(STATUS_LABELS) == {s.value for s in Status}


def run_action(bot, action: str, no: str) -> None:  # type: ignore[no-untyped-def]
    s = bot.app.services
    with s.uow() as uow:
        admin = s.org.actor(uow, "local", "周管理", "周管理")
        reporter = s.org.actor(uow, "local", "王大妈", "王大妈")
        t = s.tickets
        {
            "confirm": lambda: t.confirm(uow, admin, no),
            "accept": lambda: t.accept(uow, admin, no),
            "resolve": lambda: t.resolve(uow, admin, no, "已修好"),
            "return": lambda: t.return_(uow, admin, no, "不属于本单位"),
            "transfer": lambda: t.transfer(uow, admin, no, "县住建局"),
            "recat": lambda: t.recategorise(uow, admin, no, "noise"),
            "dismiss": lambda: t.dismiss(uow, admin, no, "不是诉求"),
            "rate": lambda: t.rate(uow, reporter, no, "1"),
            "escalate": lambda: _escalate(t, uow, no),
            "split": lambda: _split(t, uow, admin, no),
        }[action]()


def _split(tickets, uow, admin, no: str) -> None:  # type: ignore[no-untyped-def]
    """Past the status check a split asks whom to take out (this ticket has one household): allowed."""
    try:
        tickets.split(uow, admin, no, "赵叔", lambda text: None)
    except BadArgument:
        pass


def _escalate(tickets, uow, no: str) -> None:  # type: ignore[no-untyped-def]
    assert tickets.escalate(uow, tickets.get(uow, no), "超期")  # the sweep's action: the system, not a person


def ticket_in(bot, status: str) -> str:  # type: ignore[no-untyped-def]
    no = bot.open("王大妈", "和平村群", "road", f"村口路灯坏了（{status}）")
    with bot.app.services.uow() as uow:
        uow.tickets.by_no(no).status = status  # the state under test, set directly
    return no


@pytest.mark.parametrize("action", sorted(SPEC))
async def test_an_action_is_allowed_from_exactly_the_statuses_of_its_row(config, clock, database_url, action) -> None:  # type: ignore[no-untyped-def]
    bot = await start_bot(config, clock, database_url)
    try:
        outcome = {}
        for status in STATUSES:
            no = ticket_in(bot, status)
            try:
                run_action(bot, action, no)
                outcome[status] = True
            except InvalidTransition:
                outcome[status] = False
        assert {s for s, ok in outcome.items() if ok} == SPEC[action]
    finally:
        await bot.app.stop()
