"""A private message the bot cannot deliver is posted, with an @-mention, only in a group its addressee is in: the
bot sees no member lists, so it goes by who spoke there and who works for the village or its township."""

from __future__ import annotations

from services.org import likely_in_group
from tests.support.chat import Chat


def in_group(chat: Chat, name: str, group: str = "和平村群") -> bool:
    with chat.app.services.uow() as uow:
        person = uow.org.person_by_name(name)
        assert person is not None
        return likely_in_group(uow, person, name, "local", group)


async def test_the_village_and_township_staff_are_taken_to_be_in_the_village_group(chat: Chat) -> None:
    assert in_group(chat, "李网格") and in_group(chat, "张主任") and in_group(chat, "陈镇长")


async def test_a_county_official_or_another_villages_grid_worker_is_not(chat: Chat) -> None:
    assert not in_group(chat, "刘局长")
    assert not in_group(chat, "孙网格")  # 南门社区, another township


async def test_someone_who_spoke_in_the_group_is_taken_to_be_in_it(chat: Chat) -> None:
    await chat.say("刘局长", "大家好，我是县住建局的，有房屋安全的问题可以找我", group="和平村群")

    assert in_group(chat, "刘局长")
