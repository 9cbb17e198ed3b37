"""A fortnight of a county's tickets on a ManualClock: the plan, and running it through the bot."""

from __future__ import annotations

from datetime import timedelta

from core.clock import ManualClock
from core.config import Config
from tests.support.schedules import Bot, at, start_bot

START, END = at(9, 28, 8, 0), at(10, 12, 12, 0)

PLAN = [
    # A: 和平村 environment (village, 5 working days → 10 Oct, the 调休 Saturday): worked on time, 满意.
    (at(9, 28, 9), "open", "A", ("王大妈", "和平村群", "environment", "村口垃圾堆了一个礼拜没人收")),
    (at(9, 28, 10), "accept", "A", ("张主任",)),
    (at(10, 9, 15), "resolve", "A", ("张主任", "已清运")),
    (at(10, 9, 16), "rate", "A", ("王大妈", "1")),
    # B: 石桥村 noise (village, 3 working days → 8 Oct): ignored → 签收提醒, due-soon, escalated to the township.
    (at(9, 28, 10), "open", "B", ("刘婶", "石桥村群", "noise", "隔壁厂子半夜还在敲敲打打")),
    # C: 南门社区 utilities at 20:00 (township): 签收提醒 falls at midnight → held to 07:30; resolved; no rating → 未表态.
    (at(9, 29, 20), "open", "C", ("马大姐", "南门社区群", "utilities", "停水两天了也没个通知")),
    (at(9, 30, 9), "accept", "C", ("郑主任",)),
    (at(10, 8, 15), "resolve", "C", ("郑主任", "管道已抢修，恢复供水")),
    # D: 和平村 road (township): 不满意 three times → reopened three times → escalated to the county.
    (at(9, 30, 9), "open", "D", ("赵叔", "和平村群", "road", "进村的路塌了一个大坑")),
    (at(9, 30, 10), "accept", "D", ("陈镇长",)),
    (at(10, 8, 9), "resolve", "D", ("陈镇长", "已填平")),
    (at(10, 8, 10), "rate", "D", ("赵叔", "3")),
    (at(10, 8, 11), "accept", "D", ("陈镇长",)),
    (at(10, 9, 9), "resolve", "D", ("陈镇长", "已重新填平压实")),
    (at(10, 9, 10), "rate", "D", ("赵叔", "3")),
    (at(10, 9, 11), "accept", "D", ("陈镇长",)),
    (at(10, 10, 9), "resolve", "D", ("陈镇长", "已铺沥青")),
    (at(10, 10, 10), "rate", "D", ("赵叔", "3")),
    # E: 石桥村 urgent security on National Day night: never held; escalated at once; county overdue → admins.
    (at(10, 1, 21), "open", "E", ("孙大爷", "石桥村群", "security", "有人撬车 快来人", True)),
    (at(10, 3, 10), "resolve", "E", ("刘局长", "已处置，嫌疑人已控制")),
    (at(10, 3, 11), "rate", "E", ("孙大爷", "2")),
    # H: 和平村 dispute (village): returned three times → escalated to the township; resolved; no rating → 未表态.
    (at(9, 29, 15), "open", "H", ("钱婆婆", "和平村群", "dispute", "邻居占了我家的宅基地")),
    (at(9, 29, 16), "return", "H", ("张主任", "请网格员先核实")),
    (at(9, 29, 16, 30), "transfer", "H", ("李网格", "和平村委会")),
    (at(9, 30, 9), "return", "H", ("张主任", "双方不配合")),
    (at(9, 30, 9, 30), "transfer", "H", ("李网格", "和平村委会")),
    (at(9, 30, 10), "return", "H", ("张主任", "村里调解不了")),
    (at(9, 30, 10, 30), "accept", "H", ("陈镇长",)),
    (at(10, 8, 10), "resolve", "H", ("陈镇长", "已调解，双方签了协议")),
    # I: 石桥村 environment opened on a holiday: 签收提醒 on the holiday; worked on the 调休 Saturday.
    (at(10, 3, 10), "open", "I", ("刘婶", "石桥村群", "environment", "河边有人倒建筑垃圾")),
    (at(10, 8, 9), "accept", "I", ("钱主任",)),
    (at(10, 10, 11), "resolve", "I", ("钱主任", "已清理")),
    (at(10, 10, 12), "rate", "I", ("刘婶", "1")),
]


async def simulate(config: Config, database_url: str) -> tuple[Bot, dict[str, str]]:
    clock = ManualClock(START)
    bot = await start_bot(config, clock, database_url)
    nos: dict[str, str] = {}
    plan = sorted(PLAN, key=lambda p: p[0])
    i = 0
    now = START
    while now <= END:
        clock.set(now)
        while i < len(plan) and plan[i][0] <= now:
            _, action, label, args = plan[i]
            if action == "open":
                reporter, group, category, text, *urgent = args
                nos[label] = bot.open(reporter, group, category, text, urgent=bool(urgent and urgent[0]))
            else:
                who, *rest = args
                bot.do(who, action, nos[label], *rest)
            i += 1
        await bot.sweep()
        now += timedelta(minutes=30)
    return bot, nos
