"""Whole conversations in a village group, read as transcripts: what residents, grid workers and
officials say, and what the bot answers where."""

from __future__ import annotations

from tests.support.chat import Chat
from tests.support.transcripts import STREETLIGHT, open_streetlight, ticket_no


async def test_resident_gets_ticket_number_when_reporting_broken_light(chat: Chat) -> None:
    replies = await chat.say("王大妈", STREETLIGHT)
    receipt = [l for l in replies if l.chat == "和平村群"]
    assert len(receipt) == 1
    text = receipt[0].text
    assert "@王大妈" in text and "SG20261125-0001" in text
    assert "道路交通" in text and "青石镇人民政府" in text and "12月02日 23:59" in text
    assert receipt[0].reply_to == chat.last_message_id("王大妈")


async def test_phone_number_is_masked_in_everything_posted_but_the_dispatch_to_the_handling_unit(chat: Chat) -> None:
    await chat.say("王大妈", STREETLIGHT)
    lines = chat.local.bot_lines()
    handling_unit = ("私聊:陈镇长", "私聊:杨干事")  # 青石镇人民政府's officials
    to_others = [l.text for l in lines if l.chat not in handling_unit]
    assert to_others and all("13975246031" not in t for t in to_others)
    assert any("139****6031" in t for t in to_others)
    (dispatch,) = chat.to("私聊:陈镇长")
    assert "反映人：王大妈（电话 13975246031）" in dispatch.text  # the official must be able to call
    assert "内容：村口路灯坏了三天了，晚上黑漆漆的，有事打我电话139****6031" in dispatch.text


async def test_a_detail_reaches_the_official_working_the_ticket(chat: Chat) -> None:
    no = await open_streetlight(chat)
    chat.clock.advance(minutes=2)
    replies = await chat.say("王大妈", "就在小卖部门口那一根")
    note = [l.text for l in replies if l.chat == "私聊:陈镇长"]
    assert len(note) == 1 and no in note[0] and "王大妈：就在小卖部门口那一根" in note[0]


async def test_chit_chat_gets_no_reply(chat: Chat) -> None:
    for text in ("今天好热啊", "收到", "哈哈哈", "🌹🌹🌹早上好 天天开心", "谢谢曾老板的红包🧧"):
        assert await chat.say("李大爷", text) == [], text
    assert chat.tickets() == []


async def test_consultation_goes_to_the_grid_worker_not_a_ticket(chat: Chat) -> None:
    replies = await chat.say("刘婶", "请问低保怎么申请，要准备么子材料")
    assert chat.tickets() == []
    prompt = [l for l in replies if l.chat == "私聊:李网格"]
    assert len(prompt) == 1 and "低保怎么申请" in prompt[0].text
    assert not [l for l in replies if l.chat == "和平村群"]


async def test_official_receives_dispatch_with_buttons(chat: Chat) -> None:
    no = await open_streetlight(chat)
    dispatch = chat.to("私聊:陈镇长")
    assert len(dispatch) == 1 and no in dispatch[0].text
    assert dispatch[0].buttons == ("签收", "办结", "退单", "不是诉求")


async def test_full_lifecycle_from_report_to_closing_with_audit_trail(chat: Chat) -> None:
    no = await open_streetlight(chat)
    accepted = await chat.dm("陈镇长", f"签收 {no}")
    assert any("已签收" in l.text for l in accepted if l.chat == "私聊:陈镇长")
    assert any("已由青石镇人民政府签收" in l.text and "@王大妈" in l.text for l in accepted if l.chat == "和平村群")

    resolved = await chat.dm("陈镇长", f"办结 {no} 路灯已更换，晚上亮了")
    ask = [l for l in resolved if l.chat == "和平村群"]
    assert len(ask) == 1 and "1 满意" in ask[0].text and ask[0].buttons == ("满意", "基本满意", "不满意")

    thanks = await chat.say("王大妈", "1")
    assert any("感谢评价" in l.text and "@王大妈" in l.text for l in thanks if l.chat == "和平村群")
    t = chat.ticket(no)
    assert t.status == "closed" and t.satisfaction == "satisfied"
    assert [a for a, _, _ in chat.events(no)] == [
        "register",
        "dispatch",
        "accept",
        "resolve",
        "followup",
        "rate",
        "close",
    ]


async def test_official_resolves_their_only_ticket_in_private_without_its_number(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", "签收")
    resolved = await chat.dm("陈镇长", "办结 路灯已更换")
    assert any("已办结" in l.text and no in l.text for l in resolved if l.chat == "私聊:陈镇长")
    assert any("1 满意" in l.text for l in resolved if l.chat == "和平村群")
    t = chat.ticket(no)
    assert t.status == "followup" and t.resolution == "路灯已更换"


async def test_official_with_several_tickets_is_asked_which_one_to_resolve(chat: Chat) -> None:
    first = await open_streetlight(chat)
    second = ticket_no(await chat.say("路人甲", "隔壁工地半夜还在施工，吵得孩子睡不着"))
    for no in (first, second):
        await chat.dm("陈镇长", f"签收 {no}")
    replies = await chat.dm("陈镇长", "办结 已处理")
    assert any("请写明工单号" in l.text for l in replies if l.chat == "私聊:陈镇长")
    assert chat.ticket(first).status == chat.ticket(second).status == "accepted"


async def test_a_command_word_said_in_passing_in_private_is_not_a_command(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", "签收")
    await chat.dm("陈镇长", "办结了吗这个")
    assert chat.ticket(no).status == "accepted"


async def test_a_resident_writing_a_staff_command_in_a_group_is_just_talking(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.say("路人甲", "办结 这事早该办了")
    assert chat.ticket(no).status == "dispatched"


async def test_slash_commands_work_like_chinese_words(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", f"/accept {no}")
    await chat.dm("陈镇长", f"/resolve {no} 已修好")
    assert chat.ticket(no).status == "followup"


async def test_unsatisfied_rating_reopens_ticket_for_rework(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.dm("陈镇长", f"签收 {no}")
    await chat.dm("陈镇长", f"办结 {no} 已修好")
    replies = await chat.say("王大妈", "3")
    assert any("发回重办" in l.text and "@王大妈" in l.text for l in replies if l.chat == "和平村群")
    redispatch = [l for l in replies if l.chat == "私聊:陈镇长"]
    assert redispatch and "发回重办" in redispatch[0].text
    t = chat.ticket(no)
    assert t.status == "dispatched" and t.reopen_count == 1


async def test_neighbour_saying_me_too_joins_the_ticket_and_counts_households(chat: Chat) -> None:
    no = await open_streetlight(chat)
    replies = await chat.say("李大爷", "我家也是")
    assert any(no in l.text and "2 户" in l.text for l in replies)
    replies = await chat.say("张奶奶", "+1")
    assert any("3 户" in l.text for l in replies)
    assert len(chat.tickets()) == 1


async def test_every_reporter_of_a_merged_ticket_is_asked_in_one_post_and_any_3_reopens(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.say("李大爷", "我家也是")
    await chat.dm("陈镇长", f"办结 {no} 已修好")
    asks = [l for l in chat.to("和平村群") if "请回复数字评价" in l.text]
    assert len(asks) == 1 and asks[0].text.startswith("@王大妈 @李大爷 ")
    await chat.say("王大妈", "1")
    assert chat.ticket(no).status == "followup"  # still waiting for 李大爷
    await chat.say("李大爷", "不满意")
    assert chat.ticket(no).status == "dispatched"


async def test_acceptance_of_a_ticket_of_three_households_is_one_group_post(chat: Chat) -> None:
    no = await open_streetlight(chat)
    await chat.say("李大爷", "我家也是")
    await chat.say("赵叔", "+1")
    before = len(chat.to("和平村群"))
    await chat.dm("陈镇长", f"签收 {no}")
    posts = chat.to("和平村群")[before:]
    assert len(posts) == 1 and all(f"@{n}" in posts[0].text for n in ("王大妈", "李大爷", "赵叔"))


async def test_similar_complaint_from_another_resident_merges(chat: Chat) -> None:
    no = await open_streetlight(chat)
    replies = await chat.say("赵叔", "村口的路灯坏了好几天了，晚上黑漆漆的走路怕摔")
    assert any(no in l.text and "2 户" in l.text for l in replies)
    assert len(chat.tickets()) == 1


async def test_same_reporter_adds_detail_within_minutes(chat: Chat) -> None:
    no = await open_streetlight(chat)
    chat.clock.advance(minutes=2)
    replies = await chat.say("王大妈", "就在小卖部门口那一根")
    assert any("已补充到工单" in l.text for l in replies)
    t = chat.ticket(no)
    assert len(chat.tickets()) == 1 and "小卖部" in t.details[0]["text"]


async def test_reply_to_receipt_adds_detail_to_that_ticket(chat: Chat) -> None:
    no = await open_streetlight(chat)
    receipt = [l for l in chat.to("和平村群") if no in l.text][0]
    chat.clock.advance(hours=5)
    await chat.say("王大妈", "晚上还有人在那里摔了一跤", reply_to=receipt.message_id)
    assert "摔了一跤" in chat.ticket(no).details[0]["text"]


async def test_return_goes_to_grid_worker_who_transfers_it(chat: Chat) -> None:
    no = await open_streetlight(chat)
    replies = await chat.dm("陈镇长", f"退单 {no} 路灯归县住建局管")
    assert any("退单" in l.text and "路灯归县住建局管" in l.text for l in replies if l.chat == "私聊:李网格")
    assert chat.ticket(no).status == "returned"
    replies = await chat.dm("李网格", f"转办 {no} 县住建局")
    assert any(no in l.text for l in replies if l.chat == "私聊:刘局长")
    t = chat.ticket(no)
    assert t.status == "dispatched" and t.unit_code == "county_zjj" and t.return_count == 1


async def test_resident_sees_own_tickets(chat: Chat) -> None:
    no = await open_streetlight(chat)
    replies = await chat.say("王大妈", "我的诉求")
    assert len(replies) == 1 and no in replies[0].text and "已派单" in replies[0].text
    assert (await chat.say("路人甲", "/my"))[0].text == "暂无工单。"


async def test_grid_worker_confirms_uncertain_message_then_it_is_dispatched(chat: Chat) -> None:
    replies = await chat.say("王大妈", "路边的树枝挡住路灯了，有空修剪一下吧")
    prompt = [l for l in replies if l.chat == "私聊:李网格"]
    assert len(prompt) == 1 and "立案" in prompt[0].text and "忽略" in prompt[0].text
    assert not [l for l in replies if l.chat == "和平村群"]  # nothing public until confirmed
    no = ticket_no(prompt)
    replies = await chat.dm("李网格", f"立案 {no}")
    assert any(no in l.text and "@王大妈" in l.text for l in replies if l.chat == "和平村群")
    assert chat.ticket(no).status == "dispatched"


async def test_grid_worker_ignores_uncertain_message_and_nobody_is_told(chat: Chat) -> None:
    replies = await chat.say("王大妈", "路边的树枝挡住路灯了，有空修剪一下吧")
    no = ticket_no([l for l in replies if l.chat == "私聊:李网格"])
    replies = await chat.dm("李网格", f"忽略 {no}")
    assert [l.chat for l in replies] == ["私聊:李网格"]
    assert chat.ticket(no).status == "dismissed"


async def test_urgent_fire_alerts_officials_at_once(chat: Chat) -> None:
    replies = await chat.say("周满爹", "快来人啊 后山着火了 风好大 往周家那边烧过来了")
    advice = [l for l in replies if l.chat == "和平村群"]
    assert advice and "119" in advice[0].text
    alerts = [l for l in replies if l.chat.startswith("私聊:") and "紧急警报" in l.text]
    assert alerts
    assert chat.ticket().urgent


async def test_a_two_word_emergency_opens_an_urgent_ticket_and_alerts(chat: Chat) -> None:
    """着火了 says little, and the intent reading may be unsure: the urgency reading alone opens the ticket."""
    replies = await chat.say("周满爹", "着火了")
    t = chat.ticket()
    assert t is not None and t.urgent and t.emergency == "fire" and t.status == "dispatched"
    assert [l for l in replies if l.chat.startswith("私聊:") and "紧急警报" in l.text]


async def test_an_emergency_right_after_another_report_is_its_own_urgent_ticket(chat: Chat) -> None:
    no = await open_streetlight(chat)
    chat.clock.advance(minutes=1)
    replies = await chat.say("王大妈", "着火了")
    assert not any("已补充到工单" in l.text for l in replies)
    urgent = [t for t in chat.tickets() if t.no != no]
    assert len(urgent) == 1 and urgent[0].urgent and urgent[0].emergency == "fire"
    assert not chat.ticket(no).details


async def test_a_self_harm_statement_is_answered_privately_and_never_echoed_in_the_group(chat: Chat) -> None:
    replies = await chat.say("刘姐", "活着真没意思 我不想活了 今晚就去河边")
    t = chat.ticket()
    assert t is not None and t.urgent and t.emergency == "self_harm" and t.private
    assert not [l for l in replies if l.chat == "和平村群"]
    to_her = [l for l in replies if l.chat == "私聊:刘姐"]
    assert to_her and "12356" in to_her[0].text and "不想活" not in to_her[0].text
    grid = [l for l in replies if l.chat == "私聊:李网格"]
    assert grid and "紧急警报" in grid[0].text


async def test_private_report_from_unknown_village_is_asked_where_they_live(chat: Chat) -> None:
    replies = await chat.dm("陌生人", "村干部作风太差了，办事找不到人，打电话也不接")
    assert chat.tickets() == []
    assert len(replies) == 1 and "所在村" in replies[0].text


async def test_conduct_complaint_never_goes_to_the_cadres_own_unit(chat: Chat) -> None:
    await chat.say("王大妈", "早上好")  # the bot now knows she lives in 和平村
    replies = await chat.dm("王大妈", "村部今天上午一个人都冇 门是锁的 值班表贴着好看的吗 村干部作风太差了")
    t = chat.ticket()
    assert t is not None and t.category == "conduct" and t.unit_code == "county_jw" and t.private
    assert not [l for l in replies if l.chat in ("私聊:张主任", "私聊:李网格", "和平村群")]
    assert any(t.no in l.text for l in replies if l.chat == "私聊:沈书记")


async def test_official_posts_a_policy_notice_to_the_tagged_groups(chat: Chat) -> None:
    replies = await chat.dm(
        "陈镇长", "发通知 township:青石镇 2026-11-25 10:00 明天上午九点到十二点停水检修，请提前储水"
    )
    assert "将于" in replies[0].text and "6 个群" in replies[0].text  # 青石镇's local, Telegram and WeChat groups
    chat.clock.set(chat.clock.now().replace(hour=10, minute=1))
    chat.app.schedules.sweep(chat.clock.now())
    assert await chat.app.idle()
    for group in ("和平村群", "石桥村群"):
        assert any("停水检修" in l.text for l in chat.to(group)), group
    assert not any("停水检修" in l.text for l in chat.to("南门社区群"))


async def test_residents_cannot_post_notices(chat: Chat) -> None:
    replies = await chat.say("王大妈", "发通知 township:青石镇 大家来买我的鸡蛋")
    assert "只有工作人员" in replies[0].text


async def test_reporter_saying_thanks_after_the_receipt_is_not_added_as_detail(chat: Chat) -> None:
    no = await open_streetlight(chat)
    chat.clock.advance(minutes=1)
    assert await chat.say("王大妈", "好的谢谢") == []
    assert not chat.ticket(no).details
