"""Who may do what: every ticket command from every role.

Only grid workers and officials of a ticket's region/unit (and admins) may change it; residents
may see their own tickets; anyone else gets a polite refusal and the ticket does not change.
"""

from __future__ import annotations

import pytest

from tests.support.chat import Chat
from tests.support.transcripts import open_streetlight

# The streetlight ticket is in 和平村 (青石镇) and routed to 青石镇人民政府.
ROLES = {
    "reporter": ("王大妈", False),
    "other_resident": ("路人甲", False),
    "grid_worker_of_village": ("李网格", True),
    "grid_worker_elsewhere": ("赵网格", False),
    "official_of_unit": ("陈镇长", True),
    "village_official_of_region": ("张主任", True),
    "county_official_other_unit": ("刘局长", False),
    "admin": ("周管理", True),
}
REFUSALS = ("没有权限", "只有网格员和工作人员")
#: 签收 commits a unit: an official of a unit below the handling one (a village committee, for a township's
#: ticket) may work the ticket but not accept it for the township
MAY_NOT_ACCEPT = {"village_official_of_region"}

# command template -> status the ticket must reach when allowed (from a freshly dispatched ticket)
CHANGING = {
    "签收 {no}": "accepted",
    "办结 {no} 已修好": "followup",
    "退单 {no} 不归我们管": "returned",
    "转办 {no} 县住建局": "dispatched",
    "改类 {no} 环境卫生": "dispatched",
    "不是诉求 {no}": "dismissed",
}


@pytest.mark.parametrize("role", ROLES)
async def test_ticket_commands_are_refused_or_done_by_role(chat: Chat, role: str) -> None:
    who, allowed = ROLES[role]
    for template, status in CHANGING.items():
        no = await open_streetlight(chat)
        before = chat.ticket(no)
        replies = await chat.dm(who, template.format(no=no))
        after = chat.ticket(no)
        answer = " ".join(l.text for l in replies if l.chat == f"私聊:{who}")
        if allowed and not (template.startswith("签收") and role in MAY_NOT_ACCEPT):
            assert after.status == status, (role, template, answer)
            assert not any(r in answer for r in REFUSALS)
        else:
            assert any(r in answer for r in REFUSALS), (role, template, answer)
            assert (after.status, after.unit_code, after.category) == (before.status, before.unit_code, before.category)
        chat.clock.advance(hours=1)


async def test_a_township_official_accepting_a_village_ticket_is_announced_as_the_township(chat: Chat) -> None:
    await chat.say("王大妈", "村里的垃圾桶满了好几天没人收，苍蝇到处飞")
    t = chat.ticket()
    assert t.unit_code == "heping_cwh"
    replies = await chat.dm("陈镇长", f"签收 {t.no}")
    posted = [l.text for l in replies if l.chat == "和平村群"]
    assert len(posted) == 1 and "已由青石镇人民政府签收" in posted[0]


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_see_a_ticket(chat: Chat, role: str) -> None:
    who, staff_allowed = ROLES[role]
    no = await open_streetlight(chat)
    replies = await chat.dm(who, f"查看 {no}")
    may_see = staff_allowed or role == "reporter"
    assert (no in replies[0].text and "状态" in replies[0].text) == may_see, replies[0].text


@pytest.mark.parametrize("role", ROLES)
async def test_only_staff_have_a_work_list(chat: Chat, role: str) -> None:
    who, _ = ROLES[role]
    no = await open_streetlight(chat)
    text = (await chat.dm(who, "我的工单"))[0].text
    if role in ("reporter", "other_resident"):
        assert "只有网格员和工作人员" in text and "我的诉求" in text  # pointed to their own list
    elif role in ("grid_worker_elsewhere", "county_official_other_unit"):
        assert no not in text
    else:
        assert no in text


async def test_only_the_reporter_may_rate(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", f"办结 {no} 已修好")
    replies = await chat.say("路人甲", f"/rate {no} 3")
    assert "没有权限" in replies[0].text
    assert chat.ticket(no).status == "followup"
    assert await chat.say("路人甲", "3") == []  # a bare digit from someone not asked is just chat


@pytest.mark.parametrize("who", ["王大妈", "李网格", "陈镇长"])
async def test_only_admins_bind_groups(chat: Chat, who: str) -> None:
    replies = await chat.say(who, "绑定 和平村", group="新建群")
    assert "只有管理员" in replies[0].text


async def test_admin_binds_a_new_group_and_complaints_flow(chat: Chat) -> None:
    first = await chat.say("王大妈", "村口路灯坏了三天了，晚上黑漆漆的", group="新建群")
    assert "还没有绑定" in first[0].text
    assert await chat.say("王大妈", "路灯还是不亮", group="新建群") == []  # told once only
    replies = await chat.say("周管理", "/bind 石桥村", group="新建群")
    assert "已绑定到石桥村" in replies[0].text
    kept = chat.ticket()  # what 王大妈 said before the binding is handled once bound
    assert kept is not None and kept.region_code == "shiqiao" and kept.text.startswith("村口路灯")
    chat.clock.advance(hours=1)
    replies = await chat.say("钱大姐", "学校门口那段路上全是坑，下雨天积水走不了", group="新建群")
    assert any("工单号" in l.text for l in replies if l.chat == "新建群")
    assert chat.ticket().region_code == "shiqiao" and len(chat.tickets()) == 2
