"""Every string a user sees, in one place so wording is reviewed together.

Concise and polite: residents are often elderly and read on small phones; officials read dozens
of these a day. Anything quoted from a resident passes through `mask()` before it is posted.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.masking import mask

TZ = ZoneInfo("Asia/Shanghai")
MAX_QUOTE = 80


def when(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return dt.astimezone(TZ).strftime("%m月%d日 %H:%M")


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    text = mask(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


HELP_RESIDENT_INTRO = "您好，我是善治助手。在群里直接说出您遇到的问题（如“村口路灯坏了”），我会登记成工单并跟进到底。"
HELP_RATING = "· 办结后请回复 1 满意 / 2 基本满意 / 3 不满意"
HELP_STAFF_INTRO = "工作人员命令（中文或斜杠均可，工单号如 SG20261125-0007）："
HELP_STAFF_OUTRO = "手上只有一件待办时，私聊里可省略工单号，如：办结 路灯已更换"
HELP_LOCAL = "本地聊天：/as 名字 @群名 切换发言人和群（如 /as 王大妈 @和平村），/as 名字 私聊 进入私聊，/groups 列出群，/quit 退出"


def receipt(no: str, category: str, unit: str, deadline: datetime | None, urgent: bool, text: str) -> str:
    head = "【紧急】已受理，正在通知相关单位立即处置。" if urgent else "已受理您反映的问题。"
    return (
        f"{head}\n工单号：{no}\n类别：{category}\n承办单位：{unit}\n办结时限：{when(deadline)}前\n"
        f"内容：{quote(text)}\n办理进展会在这里告诉您。"
    )


def receipt_private(no: str, category: str, unit: str, deadline: datetime | None) -> str:
    return f"已收到您的反映，工单号：{no}（{category}），承办单位：{unit}，{when(deadline)}前办结。我们会为您保密。"


def self_harm_reply(crisis_line: str = "12356") -> str:
    """To someone who said they want to harm themselves: privately, gently, with a number to call now."""
    return (
        "看到您的消息了，您不是一个人。我们已经请网格员马上联系您。"
        f"如果现在很难受，请拨打心理援助热线 {crisis_line}（24小时），或者找身边信得过的人陪着您；有危险请立即拨打 110 或 120。"
    )


def dispatch_notice(
    no: str,
    category: str,
    group: str,
    deadline: datetime | None,
    urgent: bool,
    text: str,
    note: str = "",
    reporter: str = "",
) -> str:
    """To the ticket's own staff, privately: who reported it and how to reach them (``reporter``), unmasked —
    they must be able to call; the content stays masked as everywhere."""
    head = "【紧急工单】请立即处置" if urgent else "【新工单】请签收办理"
    extra = f"\n说明：{note}" if note else ""
    who = f"\n反映人：{reporter}" if reporter else ""
    return (
        f"{head}\n工单号：{no}\n类别：{category}\n来源：{group}{who}\n时限：{when(deadline)}前\n"
        f"内容：{quote(text, 200)}{extra}\n"
        f"回复：签收 {no} ／ 办结 {no} 办理结果 ／ 退单 {no} 原因 ／ 不是诉求 {no}"
    )


def pending_prompt(no: str, group: str, text: str) -> str:
    return (
        f"【待确认】{group}有一条消息疑似诉求：\n“{quote(text, 200)}”\n属于诉求请回复：立案 {no}；不是请回复：忽略 {no}"
    )


def merged(no: str, households: int) -> str:
    return f"已记录，您反映的问题与工单 {no} 相同，已合并跟进，目前共 {households} 户反映。"


def detail_added(no: str) -> str:
    return f"已补充到工单 {no}。"


def accepted(no: str, unit: str) -> str:
    return f"您反映的问题（{no}）已由{unit}签收，正在办理。"


def resolved_ask(no: str, unit: str, reply: str) -> str:
    return (
        f"您反映的问题（{no}）{unit}已办结：{quote(reply, 200)}\n"
        "问题解决了吗？请回复数字评价：1 满意　2 基本满意　3 不满意"
    )


def rated_thanks(no: str, label: str) -> str:
    return f"感谢评价（{no}：{label}）。"


def reopened(no: str) -> str:
    return f"收到，工单 {no} 已发回重办，我们会继续跟进。"


def returned_notice(no: str, unit: str, reason: str) -> str:
    return f"【退单】工单 {no} 被{unit}退回，原因：{quote(reason, 120)}\n请回复：转办 {no} 单位名称"


def escalated_notice(no: str, frm: str, to: str, reason: str) -> str:
    return f"【提级】工单 {no} 由{frm}提级至{to}：{reason}"


def dismissed_to_reporter(no: str) -> str:
    return f"经核实，您的消息（{no}）不属于需要办理的诉求，已撤销。如有问题请再次说明。"


def consultation_prompt(group: str, asker: str, text: str) -> str:
    return f"【居民咨询】{group} {asker} 问：“{quote(text, 200)}”\n请在群里答复。"


def non_text_notice(group: str, sender: str, kind: str) -> str:
    return f"【提示】{group} {sender} 发了一条{KIND_LABELS.get(kind, '非文字')}消息，机器人无法识别，请留意。"


KIND_LABELS = {
    "image": "图片",
    "voice": "语音",
    "video": "视频",
    "file": "文件",
    "sticker": "表情",
    "link": "链接",
    "miniprogram": "小程序",
    "redpacket": "红包",
    "location": "位置",
    "contact": "名片",
}


def voice_hint() -> str:
    return "语音消息机器人听不懂，麻烦您用文字（或语音转文字）再说一遍，谢谢！"


def staff_private_hint() -> str:
    return (
        "收到。这里是与善治助手的私聊，您的话不会登记为居民诉求。办理工单请用命令，如："
        "办结 工单号 办理结果、退单 工单号 原因、我的工单；发送 帮助 查看全部命令。"
    )


def unbound_group() -> str:
    return (
        "本群还没有绑定到村/社区。大家反映的问题已先记下，绑定后会逐条登记处理。"
        "请管理员在群里发送：绑定 村名（如 /bind 和平村）。"
    )


def bind_request(title: str, platform: str) -> str:
    where = {"telegram": "Telegram ", "wechat": "微信"}.get(platform, "")
    return (
        f"【待绑定】{where}群「{title}」还没有绑定到村/社区，群里已有居民发言（先保存，绑定后逐条处理）。"
        "请在该群里发送：绑定 村名（如 /bind 和平村）。"
    )


def unknown_home() -> str:
    return "请先在您所在村/社区的群里说一句话，或直接在群里反映问题，这样我才知道您的问题归哪里管。"


def bound(title: str, region: str, kept: int = 0, before: str | None = None) -> str:
    then = f"绑定前群里的 {kept} 条发言现在逐条处理。" if kept else ""
    moved = f"（原绑定{before}，已改绑）" if before and before != region else ""
    return f"本群（{title}）已绑定到{region}{moved}。{then}"


def ticket_line(no: str, status: str, category: str, text: str, deadline: datetime | None) -> str:
    return f"{no}｜{status}｜{category}｜{when(deadline)}前｜{quote(text, 30)}"


def show_ticket(
    no: str,
    status: str,
    category: str,
    unit: str,
    created: datetime | None,
    deadline: datetime | None,
    text: str,
    resolution: str | None,
    households: int,
) -> str:
    lines = [
        f"工单 {no}",
        f"状态：{status}",
        f"类别：{category}",
        f"承办：{unit}",
        f"受理：{when(created)}",
        f"时限：{when(deadline)}",
        f"反映户数：{households}",
        f"内容：{quote(text, 200)}",
    ]
    if resolution:
        lines.append(f"办理结果：{quote(resolution, 200)}")
    return "\n".join(lines)


def no_tickets() -> str:
    return "暂无工单。"


def my_tickets_header(n: int) -> str:
    return f"您的工单（{n} 件）："


PROMPT_RESOLVE = "请写明工单 {no} 的办理结果（直接发来或回复本消息，30 分钟内有效）。"
PROMPT_RETURN = "请写明退回工单 {no} 的原因（直接发来或回复本消息，30 分钟内有效）。"
PROMPT_TYPE = "请输入"
HINT_BIND = "绑定 村名，如：绑定 和平村"
HINT_NOTICE = "发通知 标签 [时间] 内容，如：发通知 township:青石镇 2026-12-01 09:00 明天停水"
HINTS = {
    "resolve": "办结 工单号 办理结果",
    "return": "退单 工单号 原因",
    "transfer": "转办 工单号 单位名称",
    "recat": "改类 工单号 类别",
    "rate": "回复 1 满意 / 2 基本满意 / 3 不满意",
    "bind": "绑定 村名",
}
HINT_DEFAULT = "发送 帮助 查看命令"


def hint_transfer(no: str) -> str:
    return f"转办 {no} 单位名称"


def hint_recat(no: str, labels: list[str]) -> str:
    return f"改类 {no} 类别（{'、'.join(labels)}）"


def platform_down(platform: str, detail: str) -> str:
    return f"【告警】{platform} 连接中断：{detail}"


def done(action: str, no: str) -> str:
    return f"已{action}：{no}"


def detail_note(no: str, who: str, text: str) -> str:
    return f"【工单补充】{no}\n{who}：{quote(text, 200)}\n查看全部：查看 {no}"


def reporter_contact(name: str, phones: list[str], handle: str) -> str:
    """ "王大妈（电话 13975246031）" or "王大妈（Telegram 5001）": how the ticket's staff reach the reporter."""
    return f"{name}（电话 {'、'.join(phones)}）" if phones else f"{name}（{handle}）"


def split_done(no: str, name: str, new_no: str | None, pending: bool) -> str:
    if new_no is None:
        return f"已把 {name} 从 {no} 拆出；其原话不像诉求，不另立工单"
    return f"已把 {name} 从 {no} 拆出，按其原话另立工单 {new_no}{'（待网格员确认）' if pending else ''}"


#: what a person must do, per platform, before the bot can write to them privately
START_PRIVATE = {
    "telegram": "请私聊机器人并点“开始”（Start）",
    "wechat": "请加善治助手为微信好友",
}


def fallback_mention(text: str, platform: str) -> str:
    """A private message that could not be delivered, posted in the group instead: masked like everything there
    (an emergency alert carries the resident's text unmasked for the people who must act). The person is named
    once, by the mention the message carries."""
    how = START_PRIVATE.get(platform, "请先私聊机器人")
    return f"机器人无法私聊您，{how}，以后的提醒就发到私聊。{mask(text)}"


def fallback_admin(name: str, platform: str, posted_in: str) -> str:
    how = START_PRIVATE.get(platform, "私聊机器人")
    where = f"已改在群「{posted_in}」里@提醒" if posted_in else "对方不在这件工单的群里，没有在群里提醒，请电话联系"
    return f"【提示】无法私信{name}（{platform}）：对方还没有开启与机器人的私聊。{where}。请让其{how}。"


def welcome_private() -> str:
    return "您好！我是善治助手。工单提醒会发到这里。发送 帮助 查看可用命令。"


ERRORS = {
    "not_authorised": "抱歉，您没有权限办理这件工单。",
    "ticket_not_found": "没有找到工单 {no}，请核对工单号（如 SG20261125-0007）。",
    "invalid_transition": "工单 {no} 当前状态为“{status}”，不能{action}。",
    "bad_argument": "命令格式不对：{hint}",
    "unknown_region": "没有找到“{region}”，请写村/社区的全称。",
    "unknown_unit": "没有找到单位“{value}”。",
    "ambiguous_ticket": "您有多件工单，请写明工单号。",
    "internal": "抱歉，处理这条消息时出了点问题，已记录，工作人员会跟进。",
    "too_long": "消息太长了，请分几段发送（每段不超过 {limit} 字）。",
    "need_ticket": "请写明工单号，例如：{example}",
    "unknown_command": "没有这个命令。发送 帮助 查看可用命令。",
    "staff_only": "这个命令只有网格员和工作人员可以使用。",
    "staff_only_mine": "这个命令只有网格员和工作人员可以使用。查看您自己反映的问题，请发送 我的诉求。",
    "admin_only": "这个命令只有管理员可以使用。",
    "group_only": "请在要绑定的群里发送这个命令。",
    "officials_only": "这个命令只有工作人员（干部）和管理员可以使用。",
    "no_alert": "工单 {no} 没有正在处置的紧急警报。",
    "ambiguous_alert": "您收到了几起紧急警报，请写明工单号，如：收到 SG20261125-0007。",
}

ACTION_LABELS = {
    "accept": "签收",
    "resolve": "办结",
    "return": "退单",
    "transfer": "转办",
    "recat": "改类",
    "dismiss": "撤销",
    "confirm": "立案",
    "ignore": "忽略",
    "rate": "评价",
    "escalate": "提级",
}


def error(code: str, **params: object) -> str:
    template = ERRORS.get(code, ERRORS["internal"])
    params = {k: ("" if v is None else v) for k, v in params.items()}
    if "action" in params:
        params["action"] = ACTION_LABELS.get(str(params["action"]), params["action"])
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template.split("{")[0].rstrip("：: ") or ERRORS["internal"]


# === schedules (issue 6): reminders, escalation to admins, digests, policy notices ================
# Owned by the schedules module (bot/chat/announce_schedules.py); reviewed with the rest of the wording.

LATE_PREFIX = "（补发）"


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def reminder_accept(no: str, category: str, group: str, hours: float, text: str) -> str:
    return f"【签收提醒】工单 {no}（{category}，{group}）派单已超过 {hours:g} 小时仍未签收：{quote(text, 60)}\n请回复：签收 {no}"


def reminder_due_soon(no: str, category: str, deadline: datetime | None, hours: float) -> str:
    return f"【到期提醒】工单 {no}（{category}）将于 {when(deadline)} 到期（约 {hours:g} 小时后），请抓紧办理。"


def reminder_due_now(no: str, category: str, deadline: datetime | None) -> str:
    return f"【已到期】工单 {no}（{category}）办结时限 {when(deadline)} 已到，请立即办结：办结 {no} 办理结果"


def reminder_overdue(no: str, category: str, deadline: datetime | None, days: int) -> str:
    return (
        f"【超期提醒】工单 {no}（{category}）已超期 {days} 天（时限 {when(deadline)}），请立即办结：办结 {no} 办理结果"
    )


def escalated_to_admins(no: str, category: str, unit: str, deadline: datetime | None, reason: str) -> str:
    return f"【超期督办】工单 {no}（{category}，{unit}）已在县级承办，{reason}（时限 {when(deadline)}），请督办。"


def closed_no_answer(no: str) -> str:
    return f"您反映的问题（{no}）回访期满未收到评价，已按“未表态”销号。如问题仍未解决，请在群里再次反映。"


def digest_daily(day: str, open_: list[dict], due_today: list[dict], overdue: list[dict]) -> str:
    lines = [f"【每日工单】{day}：在办 {len(open_)} 件，今日到期 {len(due_today)} 件，已超期 {len(overdue)} 件。"]
    if overdue:
        lines.append("已超期：")
        lines += [f"· {t['no']}｜{t['category']}｜时限 {when(t['deadline'])}" for t in overdue[:10]]
    if due_today:
        lines.append("今日到期：")
        lines += [f"· {t['no']}｜{t['category']}｜{when(t['deadline'])}" for t in due_today[:10]]
    others = [t for t in open_ if t not in overdue and t not in due_today]
    if others:
        lines.append("其他在办：")
        lines += [f"· {t['no']}｜{t['category']}｜时限 {when(t['deadline'])}" for t in others[:10]]
    lines.append("发送 我的工单 查看全部。")
    return "\n".join(lines)


def figures_line(r: dict) -> str:
    return (
        f"受理 {r['received']} 件｜按时签收率 {pct(r['accepted_on_time_rate'])}｜办结率 {pct(r['resolved_rate'])}｜"
        f"按时办结率 {pct(r['resolved_on_time_rate'])}｜满意率 {pct(r['satisfaction_rate'])}（评价 {r['rated']} 件，"
        f"未表态 {r['no_answer']} 件）｜平均办理 {'—' if r['avg_handling_hours'] is None else format(r['avg_handling_hours'], 'g')} 小时"
    )


def digest_weekly(fig: dict) -> str:
    lines = [f"【上周工单统计】{fig['from']} 至 {fig['to']}", figures_line(fig["summary"])]
    if fig["by_township"]:
        lines.append("按乡镇：")
        lines += [f"· {r['name']}：{figures_line(r)}" for r in fig["by_township"]]
    if fig["worst_overdue"]:
        lines.append("超期最久：")
        lines += [
            f"· {w['no']}｜{w['unit']}｜{w['category']}｜已超期 {w['overdue_hours'] / 24:.1f} 天"
            for w in fig["worst_overdue"]
        ]
    if fig.get("emergencies"):
        lines.append("紧急警报（从居民报告起，分钟）：")
        lines += [emergency_figures_line(e) for e in fig["emergencies"]]
    lines.append("明细：shanzhi report --from 日期 --to 日期 --xlsx 文件")
    return "\n".join(lines)


def notice_post(text: str) -> str:
    return f"【通知】{text}\n如有疑问，请直接在群里提问。"


def notice_created(notice_id: int, at: datetime | None, groups: int) -> str:
    return f"已创建通知 #{notice_id}，将于 {when(at)} 发送到 {groups} 个群。查看进度：通知状态 {notice_id}"


# === emergencies (issue 22): the group's advice and the alerts ==================================
# Short and calm: read on a phone by someone frightened. The national numbers (110 police, 119 fire and
# rescue, 120 ambulance, 122 traffic) are always given; the county's own (燃气抢修, 供电, 派出所, 卫生院)
# come from config.yaml's `emergency:` section.

EMERGENCY_LABELS = {
    "fire": "火情",
    "gas": "燃气泄漏",
    "flood": "水情",
    "landslide": "山体滑坡",
    "collapse": "房屋险情",
    "live_wire": "电线断落",
    "drowning": "落水",
    "trapped": "被困",
    "missing": "人员走失",
    "domestic_violence": "家庭暴力",
    "weapon_fight": "持械斗殴",
    "self_harm": "轻生风险",
    "poisoning": "中毒",
    "road_accident": "交通事故",
    "crowd": "人员聚集",
}

_ADVICE = {
    "fire": "请立即拨打 119。人先撤到安全的地方，不要乘电梯，不要回去拿东西；烟大时用湿毛巾捂住口鼻、弯腰走。",
    "gas": "不要开关电灯电器、不要打火，屋里不要打电话；轻轻打开门窗、关掉阀门，人到室外后拨打{gas}119。",
    "flood": "请马上往高处转移，不要蹚水，不要开车过水淹的路；有人被困请拨打 119。",
    "landslide": "请立即撤离，往滑坡两侧的高处跑，不要顺着滑坡方向跑，不要回去拿东西；拨打 119。",
    "collapse": "请立即撤离，远离墙体和房屋；有人被压请拨打 119、120，不要贸然进去。",
    "live_wire": "请远离断线 8 到 10 米，小步挪开或单脚跳开，不要用手或湿木棍去碰；拨打供电抢修 {power}。",
    "drowning": "请大声喊人，向落水的人抛救生圈、木板、绳子等能漂的东西，不会水不要下水；拨打 120、119。",
    "trapped": "请拨打 119（电梯里可按电梯内的报警按钮）；被困的人不要扒门撬门，保持通话。",
    "missing": "请马上拨打 110{police}，在群里发走失人的照片、穿着和最后见到的地点，大家帮忙留意。",
    "domestic_violence": "请拨打 110{police}；先保护好自己和孩子，到安全的地方去。",
    "weapon_fight": "请拨打 110{police}；大家远离现场，不要围观、不要上前，有人受伤拨打 120。",
    "poisoning": "请拨打 120{clinic}；留下吃过的东西或药瓶，不要乱喂东西；煤气中毒先开窗、把人移到通风处。",
    "road_accident": "请拨打 120、122；在车后方放警示标志，不要随意搬动伤者。",
    "crowd": "请大家保持冷静，不要围观、不要起冲突；需要时拨打 110{police}。",
}
_ADVICE_OTHER = "有危险请先拨打 110、119 或 120。"


def emergency_advice(kind: str, no: str, numbers: object) -> str:
    """The group's message, at once: what to do now, and that the people who must act are told."""
    gas = getattr(numbers, "gas_repair", None)
    police = getattr(numbers, "police_station", None)
    clinic = getattr(numbers, "clinic", None)
    advice = _ADVICE.get(kind, _ADVICE_OTHER).format(
        gas=f"燃气抢修 {gas} 或 " if gas else "",
        power=getattr(numbers, "power", "95598"),
        police=f"，或派出所 {police}" if police else "",
        clinic=f"，或卫生院 {clinic}" if clinic else "",
    )
    label = EMERGENCY_LABELS.get(kind, "紧急情况")
    return f"【{label}】{advice}\n已通知网格员、村委会和镇值班人员马上处置（工单 {no}）。"


def emergency_alert(
    kind: str,
    no: str,
    group: str,
    reporter: str,
    account: str,
    at: datetime | None,
    places: list[str],
    text: str,
    round_: int = 0,
    minutes: int = 0,
) -> str:
    """To everyone who must act, privately: everything they need to go, unmasked."""
    label = EMERGENCY_LABELS.get(kind, "紧急情况")
    head = (
        f"【紧急警报·{label}】请立即处置"
        if round_ == 0
        else f"【紧急警报·{label}·第{round_ + 1}次】已 {minutes} 分钟无人确认收到，请立即处置"
    )
    where = f"\n地点：{'、'.join(places)}" if places else ""
    return (
        f"{head}\n工单号：{no}\n来源：{group}\n报告人：{reporter}（{account}）\n时间：{when(at)}{where}\n内容：{text[:1000]}\n"
        f"请回复 收到；到达现场后回复 到场。"
    )


def emergency_responder(role: str, name: str | None, unit: str | None) -> str:
    """How the group is told who is coming: 网格员李明, 和平村委会张主任 — or no name where the county says so."""
    if role == "grid_worker":
        return f"网格员{name or ''}"
    return f"{unit or ''}{name or '工作人员'}"


def emergency_ack_group(who: str) -> str:
    return f"{who}已收到，正在赶往处置。"


def emergency_on_site_group(who: str) -> str:
    return f"{who}已到达现场处置。"


def emergency_ack_circle(no: str, name: str, at: datetime | None) -> str:
    return f"【紧急警报 {no}】{name} 已于 {when(at)} 确认收到，正在赶往。"


def emergency_on_site_circle(no: str, name: str, at: datetime | None) -> str:
    return f"【紧急警报 {no}】{name} 已于 {when(at)} 到达现场。"


def emergency_ack_reply(no: str) -> str:
    return f"已确认收到 {no}，已告知群里和其他值班人员。到达现场后请回复 到场。"


def emergency_on_site_reply(no: str) -> str:
    return f"已记录到场 {no}。处置完请回复 办结 {no} 处置结果。"


def emergency_follow_up(no: str, name: str, at: datetime | None, text: str) -> str:
    return f"【紧急警报 {no}·群里新消息】{name}（{when(at)}）：{text[:500]}"


def emergency_closed(no: str, reason: str) -> str:
    return f"【紧急警报解除】{no}：{reason[:120]}。不再重复提醒；工单请按实际处置情况办结。"


def _mins(v: float | None) -> str:
    return "—" if v is None else f"{v:g}"


def emergency_figures_line(e: dict) -> str:
    """One emergency in the figures: minutes from the resident's message to the first alert, 收到 and 到场."""
    label = EMERGENCY_LABELS.get(e["kind"], e["kind"])
    who = f"（{e['acknowledged_by']}）" if e.get("acknowledged_by") else ""
    return (
        f"· {e['no']}｜{label}｜首次警报 {_mins(e['to_alert_minutes'])}｜收到 {_mins(e['to_ack_minutes'])}{who}｜"
        f"到场 {_mins(e['to_on_site_minutes'])}｜警报 {e['rounds']} 轮"
    )
