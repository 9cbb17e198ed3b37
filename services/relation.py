"""Which open ticket a message is about, decided from what it says, not only from who said it and when.

A village group is a conversation: a reporter's next message may be more about their problem, a question, a
goodbye or a second problem; a neighbour's "我家也是" is about one of the problems being discussed, not
necessarily the latest. Two households describe one problem in different words (北头那个化粪池满了往外冒 /
北边厕所那里的臭水都流到路上了), and one category at two places is two problems (三组 / 五组 without water).

What a problem is, for this purpose: the *things* it names (water supply, a streetlight, a septic tank …), the
*fault* (no water / yellow water / a burst pipe), and the *places* (三组, 5栋, 北头, a named road). Each is a
small, general vocabulary (`PROBLEM_WORDS`), not the classifier's learned weights: whether two messages name the
same thing is a question about words that reviewers must be able to read and extend. Every decision carries a
reason (rule and score) for the ticket's audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: Things a complaint is about. Each set: words that name the same thing in residents' speech.
THINGS: dict[str, tuple[str, ...]] = {
    "water": (
        "自来水",
        "水管",
        "供水",
        "停水",
        "没水",
        "冇水",
        "无水",
        "来水",
        "水压",
        "水龙头",
        "水厂",
        "水表",
        "吃水",
        "用水",
        "放水",
        "水",
    ),
    "power": ("停电", "没电", "冇电", "供电", "电压", "跳闸", "电表", "来电", "断电", "电线", "电"),
    "light": ("路灯", "灯"),
    "road": ("路面", "马路", "水泥路", "公路", "坑", "坑洼", "塌陷", "路", "桥"),
    "sewage": (
        "化粪池",
        "粪池",
        "厕所",
        "公厕",
        "茅房",
        "粪",
        "臭水",
        "污水",
        "脏水",
        "下水道",
        "下水",
        "排水",
        "阴沟",
        "篦子",
        "水沟",
        "沟",
    ),
    "garbage": ("垃圾", "垃圾桶", "垃圾站", "垃圾车", "清运", "拉垃圾"),
    "livestock": ("猪场", "养猪", "猪圈", "猪屎", "猪粪", "猪", "鸡场", "养鸡", "鸡粪", "鸭棚", "养鸭", "养殖", "牛棚"),
    "noise": (
        "装修",
        "广场舞",
        "ktv",
        "唱歌",
        "音响",
        "音箱",
        "喇叭",
        "施工",
        "工地",
        "打桩",
        "吵",
        "噪音",
        "听得到",
        "听到",
        "听见",
        "唱",
        "电钻",
        "麻将",
    ),
    "lift": ("电梯",),
    "parking": ("停车", "车位", "占道", "乱停", "单车", "小黄车", "共享单车", "堵车道", "消防通道"),
    "network": ("网络", "宽带", "信号", "网", "wifi"),
    "gas": ("燃气", "煤气", "天然气"),
    "welfare": ("低保", "补贴", "救助", "残疾", "五保"),
    "pension": ("养老金", "养老保险", "退休金", "养老钱"),
    "medical": ("医保", "医疗保险", "合作医疗", "新农合", "报销"),
    "wages": ("工资", "欠薪", "工钱", "欠钱", "欠了", "欠俺", "欠我", "欠额", "结账"),
    "dogs": ("狗",),
    "smoke": ("烧", "焚烧", "烟", "熏"),
    "trees": ("砍树", "树"),
}
#: Words containing a thing's word that do not name it (水泥路 is no water, 电梯 no power, 网格员 no network).
NOT_THINGS: dict[str, tuple[str, ...]] = {
    "water": (
        "臭水",
        "污水",
        "脏水",
        "下水道",
        "下水",
        "排水",
        "水沟",
        "水泥",
        "积水",
        "水田",
        "水塘",
        "落水",
        "洪水",
        "涨水",
    ),
    "power": ("电梯", "电话", "电动", "电视", "电脑", "电瓶", "电器", "充电", "电商", "电影", "电线杆", "灯杆"),
    "light": ("红绿灯",),
    "road": (
        "路灯",
        "路口",
        "一路",
        "走路",
        "路过",
        "路上",
        "门路",
        "出路",
        "路边",
        "路旁",
        "路那头",
        "路这头",
        "绕路",
    ),
    "network": ("网格", "上网课"),
    "noise": ("吵架", "争吵"),
    "smoke": ("发烧", "烧饭", "烧菜", "烧水", "烧香", "烧烤"),
    "sewage": ("沟通",),
}
#: Faults of the same thing that are different problems (yellow water is not a burst pipe).
FAULTS: dict[str, tuple[str, ...]] = {
    "outage": ("停", "没水", "冇水", "没电", "冇电", "断", "不来", "没来", "冇来", "没得水", "一滴"),
    "quality": ("黄", "浑", "混", "脏", "有味", "臭", "虫", "锈"),
    "burst": ("爆", "漏", "破", "裂", "冒", "喷"),
    "blocked": ("堵", "满了", "溢"),
    "broken": ("坏", "不亮", "不转", "卡", "困"),
    "discharge": ("排进", "排到", "排的", "排放", "直排", "偷排", "倒进", "流进"),
}
#: Things for which two faults are two problems: yellow water is not a burst main, a pig farm's smell is not its
#: sewage in the river (for a septic tank, full and overflowing are one problem)
FAULT_SENSITIVE = frozenset({"water", "livestock"})
_NUM = "[一二三四五六七八九十两0-9]+"
_PLACE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("unit", re.compile(f"({_NUM})(?:组|队|社)")),
    ("building", re.compile(f"({_NUM})(?:栋|幢|号楼|单元)")),
    ("side", re.compile("([东南西北])(?:头|边|面|片)")),
    # a name before the place word, made of no function characters (村口的路灯 names no road "口的路"), and
    # not a longer word that starts with it (路灯, 路面, 路口)
    (
        "named",
        re.compile(
            "((?:(?![的了在就是到那这我你他她也都和跟去从往说得很有个走])[\u4e00-\u9fff]){2,3}"
            "(?:路|街|巷|桥|小区|广场|市场|学校|小学|超市|小卖部))(?![灯面口边])"
        ),
    ),
)
#: Landmarks residents place a problem by (东桥头, 晒谷场, 学校, 祠堂): each name's canonical form, the place word
#: and the character before it (东桥 and 东桥头 are one place, 东桥 and 新桥 two)
LANDMARKS: dict[str, str] = {
    "桥头": "桥",
    "桥": "桥",
    "村口": "村口",
    "学校": "学校",
    "小学": "学校",
    "村小": "学校",
    "幼儿园": "幼儿园",
    "河堤": "河堤",
    "河边": "河边",
    "晒谷场": "晒谷场",
    "祠堂": "祠堂",
    "村部": "村部",
    "大队部": "村部",
    "小卖部": "小卖部",
    "超市": "超市",
    "菜市场": "市场",
    "市场": "市场",
    "樟树": "樟树",
    "水库": "水库",
    "后山": "后山",
    "山脚": "山脚",
    "庙": "庙",
    "广场": "广场",
    "公园": "公园",
    "球场": "球场",
    "卫生室": "卫生室",
    "卫生院": "卫生院",
    "码头": "码头",
    "渡口": "渡口",
    "车站": "车站",
    "加油站": "加油站",
    "涵洞": "涵洞",
    "老街": "老街",
    "菜园": "菜园",
}
#: every landmark word, longest first, as a regex alternation
_LANDMARK_WORDS = "|".join(sorted(LANDMARKS, key=len, reverse=True))
_LANDMARK = re.compile(
    "((?:(?![的了在就是到那这我你他她也都和跟去从往说得很有个俺咱家屋组队栋])[\u4e00-\u9fff])?)("
    + _LANDMARK_WORDS
    + ")"
)
_AS_PLACE = re.compile("(?:" + _LANDMARK_WORDS + ")(?:那边|这边|旁边|边上|那头|这头|那里|那儿|那块|附近|对面)")
_NOT_PLACES = frozenset(
    {"水泥路", "马路", "公路", "小路", "大路", "土路", "这条路", "那条路", "条路", "上学路", "过马路"}
)
#: A "me too" that only points at what was said: it is about the problem being discussed.
LIKE_THIS = re.compile(r"也(?:是这样|是一样|一样|这样|是)(?:的|啊|呀|哦|哈)?[\s!！。.,，~～]*$")
_ME_TOO_LEAD = re.compile(
    r"^\s*(?:\+\s*1+|＋\s*1+|同上|同样|一样|附议|加一|顶+|"
    r"(?:我|俺|咱|阿拉|偶|我们|俺们|咱们|对面|隔壁|楼上|楼下|后面|前面|那边|这边|"
    + _NUM
    + r"(?:组|队|栋|楼|号))[\u4e00-\u9fff0-9]{0,6}?(?:也|同样|一样))"
)
_PURE_ME_TOO = re.compile(
    r"^\s*(\+\s*1+|＋\s*1+|1\s*\+|同上|同问|顶+|附议|加一|一样(一样)?的?|同样(的|情况)?|也是这样|"
    r"(我|俺|咱|我们|俺们|咱们)?(家|屋|屋里|这边|那边|这里|那里|组|队|栋|楼|门口)?也(是|一样|这样|有|遇到了?)(的|啊|呀|哦|哈)?"
    r"|我(屋|家)也|我也(是|一样|遇到了?))[\s!！。.,，~～👍🙏+1]*$"
)
#: Agreement that opens a reply ("是的 我家也还是冇", "可不咋的 俺家菜园子里…"): a "me too" about what was said.
_AGREE = re.compile(
    r"^\s*(?:是的|是啊|是呀|是咯|是嘞|是滴|系呀|系啊|系嘅|对的|对呀|对啊|没错|确实|真的|可不咋的|可不是|就是|"
    r"[\u4e00-\u9fff]{1,4}说得对|[\u4e00-\u9fff]{1,4}说的对)"
    r"[\s，,!！。~～]+"
)
_PLUS_ONE = re.compile(r"^\s*(?:\+\s*1+|＋\s*1+)\s*|\s*(?:\+\s*1+|＋\s*1+)\s*$")
#: "我屋里也是…", "7栋这边也…", "我在阳台上也看到了": a household or place, then 也, near the start.
_SUBJECT_ALSO = re.compile(
    r"^.{0,6}?(?:我|俺|咱|阿拉|偶|额|我哋|我们|俺们|咱们|对面|隔壁|楼上|楼下|"
    + _NUM
    + r"(?:组|队|栋|幢|楼|号|单元))[^，,。！!？?]{0,10}?也"
)
#: "网也没了", "电也停了": a thing named, then 也 and its failure, in a few words.
_THING_ALSO = re.compile(r"也(?:没了|冇了|没有了|停了|断了|坏了|不行了|不亮了|不通了|黑了|没得了)")
#: "我也不知道", "我也想问": 也 that reports nothing.
_NOT_ME_TOO = re.compile(r"也(?:不知道|不晓得|不清楚|想问|想知道|想去|要去|去|来|想|觉得|认为|同意|支持|问问)")
#: The message points at something already said: "那个坑", "过桥那盏", "上次也是这样".
_POINTS_BACK = re.compile(r"(?:那|这)(?:个|盏|根|条|家|辆|车|处|座|片|只|些|池|块|边|里|儿)|上次|它")
#: "还有…", "另外…", "顺便报一下…", "对了…": the speaker turns to another problem.
_ANOTHER = re.compile(r"^\s*(?:还有|另外|另，|另,|另：|顺便|对了|再报|再说一个|再反映)")
#: "物业说是…", "原来是修管子": news the speaker passes on, not more of their complaint.
_NEWS = re.compile(r"(?:说是|原来是|原来|回复说|通知说|听说)")
_ALSO_SO = re.compile(r"(?:我|俺|我们|俺们|阿拉)(?:家|屋|屋里)?也(?:是|一样)")
_ATTACHMENT = re.compile(r"^\s*\[(?:图片|照片|视频|位置|语音|文件|动画表情)\]")
_CORRECTION = re.compile(r"(?:不是|唔系).{1,8}[，,。 ]*(?:是|在|系|喺)|(?:说错|打错|搞错|讲错)了|更正")
_WHERE = re.compile(r"(?:就)?在.{1,12}(?:门口|旁边|边上|对面|后面|前面|那里|这里|那块|那儿|附近|路口)|门口|旁边|路口")
_STILL = re.compile(
    r"还是|一直|到现在|还没|还冇|还在|还再|又(?:停|坏|来|堵|黄|没|开始)|已经.{0,3}[天日周]|[两三四五六七八九十几\d]+[天日周]|"
    r"越来越|第[一二三四五六七八九十几\d]+次|好几次|又一次|开始的|更厉害|更严重"
)
_CHAT = re.compile(
    r"哈哈|呵呵|再聊|晚点聊|回头聊|拜拜|晚安|早安|早上好|吃饭|接孩子|接娃|赶集|去上班|先忙|先走|记得带|再等|等等看"
)
_FORWARD = re.compile(r"^\s*(?:转|转发|fw|【|\[|通知)")
_ACK = re.compile(
    r"^(?:谢谢|感谢|多谢|好的|好滴|好嘞|收到|辛苦|麻烦(你们|您)了|知道了|晓得了|明白|ok|嗯+|哦+|👍|🙏|[，,。！!\s])+$"
)


@dataclass(frozen=True)
class Problem:
    """What a complaint's text names: things, faults and places (each a set of normalised names)."""

    things: frozenset[str]
    faults: frozenset[str]
    places: frozenset[tuple[str, str]]
    #: (the character before it or "", canonical landmark): where residents say it is, by what is there
    landmarks: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Fit:
    """How well a message fits a ticket: ``same`` decides, ``score`` ranks, ``reason`` is audited."""

    same: bool
    score: float
    reason: str


@lru_cache(maxsize=8192)  # an open ticket's text is compared with every new complaint of its group
def problem_of(text: str) -> Problem:
    t = text.lower()
    # a landmark said as where ("从大樟树那边到河边都黑的", "桥头那边"): a place, not the thing it could name
    things = frozenset(name for name, words in THINGS.items() if _names(_AS_PLACE.sub("", t), name, words))
    faults = frozenset(name for name, words in FAULTS.items() if any(w in t for w in words))
    places = frozenset(
        (kind, _norm_num(m)) for kind, rx in _PLACE_PATTERNS for m in rx.findall(t) if m not in _NOT_PLACES
    )
    landmarks = frozenset((pre, LANDMARKS[word]) for pre, word in _LANDMARK.findall(t))
    return Problem(things, faults, places, landmarks)


def _names(t: str, name: str, words: tuple[str, ...]) -> bool:
    for w in NOT_THINGS.get(name, ()):
        t = t.replace(w, "")
    return any(w in t for w in words)


_CN = {
    "一": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
    "十": "10",
}


def _norm_num(s: str) -> str:
    return "".join(_CN.get(ch, ch) for ch in s)


def places_conflict(a: Problem, b: Problem, *, landmarks: bool = True) -> bool:
    """Both name a place of the same kind and none in common: 三组 and 五组, 3栋 and 5栋, 东桥头 and 晒谷场."""
    for kind in ("unit", "building", "side", "named"):
        pa = {v for k, v in a.places if k == kind}
        pb = {v for k, v in b.places if k == kind}
        if pa and pb and not (pa & pb):
            return True
    return landmarks and bool(a.landmarks) and bool(b.landmarks) and not shares_landmark(a, b)


def shares_landmark(a: Problem, b: Problem) -> bool:
    """One landmark in common: the same place word, and the same character before it where both have one."""
    return any(wa == wb and (not pa or not pb or pa == pb) for pa, wa in a.landmarks for pb, wb in b.landmarks)


def shares_place(a: Problem, b: Problem) -> bool:
    return bool(a.places & b.places) or shares_landmark(a, b)


def faults_differ(shared: frozenset[str], a: Problem, b: Problem) -> bool:
    """The same thing with two faults that are two problems (FAULT_SENSITIVE)."""
    return bool(shared & FAULT_SENSITIVE) and bool(a.faults) and bool(b.faults) and not (a.faults & b.faults)


def bigram_overlap(a: str, b: str) -> float:
    sa, sb = _bigrams(a), _bigrams(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


_FILLER = re.compile(
    "[^\u4e00-\u9fffA-Za-z0-9]|[的了是我你他她它们在有也都就又还很太啊呀吧呢嘛哒咯喽哦噢唉这那个么子冇家]"
)


@lru_cache(maxsize=8192)
def _bigrams(text: str) -> frozenset[str]:
    s = _FILLER.sub("", text)
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


def fit(
    text: str,
    category: str | None,
    ticket_text: str,
    ticket_category: str | None,
    *,
    similarity: float,
    places: bool = True,
    landmarks: bool = True,
) -> Fit:
    """Is ``text`` about the problem of the ticket? The same thing named (or the same category and much of
    the same wording), and no clash of places, things or faults."""
    a, b = problem_of(text), problem_of(ticket_text)
    if places and places_conflict(a, b, landmarks=landmarks):
        return Fit(False, 0.0, "place.differs")
    shared = a.things & b.things
    words = bigram_overlap(text, ticket_text)
    if a.things and b.things and not shared:
        return Fit(False, 0.0, "thing.differs")
    # yellow water and a burst main are two problems; for a septic tank, full and overflowing are one
    if faults_differ(shared, a, b):
        return Fit(False, 0.0, "fault.differs")
    same_category = category is not None and category == ticket_category
    if shared:
        return Fit(True, 1.0 + 0.5 * same_category + words, f"thing.same:{'+'.join(sorted(shared))}")
    if same_category and words >= similarity:
        return Fit(True, 0.5 + words, f"words.same:{words:.2f}")
    if same_category and not a.things and places and a.places & b.places and a.faults & b.faults:
        # it names no thing, but the same kind of problem at the same place, going wrong the same way ("六组祠堂
        # 嗰度真系臭" beside 六组's overflowing garbage pool): the problem being talked about there
        return Fit(True, 0.4 + words, "place_fault.same")
    return Fit(False, words, "unrelated")


def me_too(text: str) -> tuple[bool, str]:
    """("is it a 'me too'", the content after it): "我家也是" → (True, ""); "我家门口也是，路灯一直不亮" →
    (True, "路灯一直不亮"); "我也不知道" → (True, "不知道"), which fits no ticket and is read on its own."""
    s = text.strip()
    if len(s) <= 20 and _PURE_ME_TOO.match(s):
        return True, ""
    if len(s) > 60 or _NOT_ME_TOO.search(s):
        return False, ""
    for lead in (_AGREE, _PLUS_ONE):
        rest = lead.sub("", s, count=1).strip() if lead is _AGREE else lead.sub("", s).strip()
        if rest != s:
            return True, ("" if not rest or _PURE_ME_TOO.match(rest) else rest)
    if _ME_TOO_LEAD.match(s) or _SUBJECT_ALSO.match(s) or _ALSO_SO.search(s):
        return True, s
    if len(s) <= 14 and _THING_ALSO.search(s) and problem_of(s).things:
        return True, s  # "网也没了", "水也停了": the same thing gone for them too
    return False, ""


#: "不是三组，是五组", "说错了 是6栋不是5栋": the wrong words and the right ones
_SWAPS = (
    re.compile(
        r"(?:不是|唔系|唔是)\s*(?P<wrong>[^\s，,。！!？?]{1,10}?)\s*[，,。 ]*(?:而是|应该是|是|在|系|喺)\s*"
        r"(?P<right>[^\s，,。！!？?]{1,10})"
    ),
    re.compile(r"是\s*(?P<right>[^\s，,。！!？?不]{1,10}?)\s*[，,]?\s*不是\s*(?P<wrong>[^\s，,。！!？?]{1,10})"),
)
_PARTICLES = "的啊哈了呀嘛咯哦喔嘞"


#: "就是大路边上那几户红砖房子那里", "就在小卖部门口": a message that only says where
_ONLY_WHERE = re.compile(
    r"^\s*(?:就是|就在|是在|在|位置在|地点在|地方在|地址[是:：]?)[^，,。！!？?]{1,24}?"
    r"(?:那里|那边|这里|这边|那块|那儿|这儿|附近|旁边|边上|门口|对面|隔壁|后面|前面|路口)(?:的|啊|哈|呀|嘞|咯)?[\s。!！~～]*$"
)


def says_only_where(text: str) -> bool:
    """The message says where and nothing else: more of the speaker's own problem, whatever its words name."""
    return bool(_ONLY_WHERE.match(text))


def corrected(ticket_text: str, text: str) -> str | None:
    """The ticket's words with a reporter's correction made ("5栋电梯又坏了" and "说错了 是6栋不是5栋" give
    "6栋电梯又坏了"), or None when the correction names no words the ticket has: what a later "+1 6栋" is matched
    against (the original stays in the audit trail)."""
    for rx in _SWAPS:
        m = rx.search(text)
        if m is None:
            continue
        wrong, right = m.group("wrong").rstrip(_PARTICLES), m.group("right").rstrip(_PARTICLES)
        if wrong and right and wrong != right and wrong in ticket_text:
            return ticket_text.replace(wrong, right, 1)
    return None


def is_correction(text: str) -> bool:
    """ "不是三组，是五组", "说错了", "更正一下": the reporter corrects what they said."""
    return bool(_CORRECTION.search(text))


def points_back(text: str) -> bool:
    """It speaks of something already said ("那个坑", "上次也是这样", "还是没修"), not of something new."""
    return bool(_POINTS_BACK.search(text) or _STILL.search(text) or LIKE_THIS.search(text))


_THANKS = re.compile(r"^\s*(?:谢谢|感谢|多谢|唔该|辛苦|好的|好嘞|收到|麻烦你|麻烦您)")


def is_acknowledgement(text: str) -> bool:
    """ "好的谢谢", "收到", "谢谢赵网格 谢谢师傅", "唔该晒孙网格🙏": a reply that adds nothing (no problem named,
    nothing still wrong, no question)."""
    s = text.strip().lower()
    if len(s) <= 12 and _ACK.match(s):
        return True
    return (
        len(s) <= 24
        and bool(_THANKS.match(s))
        and not problem_of(s).things
        and not _STILL.search(s)
        and not re.search(r"[?？吗]", s)
    )


def is_chit_chat(text: str) -> bool:
    """ "我先去接孩子了", "物业说是水箱在维修": talk or news, not more of a problem."""
    return bool(_CHAT.search(text) or _NEWS.search(text))


def adds_to(text: str, ticket_text: str) -> bool:
    """Says where, since when, that it is still so, or corrects, and names no thing the ticket does not: more of
    the ticket's problem even when the words sound alarming ("就在小卖部门口那根电线杆旁边")."""
    if detail_like(text, ticket_text) not in ("detail.attachment", "detail.correction", "detail.place", "detail.still"):
        return False
    return problem_of(text).things <= problem_of(ticket_text).things


def turns_to_another(text: str) -> bool:
    """ "还有我们二组村口那个垃圾池…", "顺便报一下…": a second problem, never more of the first."""
    return bool(_ANOTHER.match(text))


def is_forward(text: str) -> bool:
    return bool(_FORWARD.match(text)) and not _ATTACHMENT.match(text)


def is_attachment(text: str) -> bool:
    """ "[图片]", "[位置] 老碾坊往北二十米": what a platform shows for a photo, a location, a voice message."""
    return bool(_ATTACHMENT.match(text))


def detail_like(text: str, ticket_text: str) -> str | None:
    """Why a message the classifier calls chit-chat still reads as more about the reporter's problem (a
    place, a correction, how long it has lasted, the same thing named), or None."""
    if is_attachment(text):
        return "detail.attachment"
    if _CHAT.search(text) or _NEWS.search(text):
        return None
    if _CORRECTION.search(text):
        return "detail.correction"
    a, b = problem_of(text), problem_of(ticket_text)
    if a.things & b.things:
        return "detail.same_thing"
    if a.places or _WHERE.search(text):
        return "detail.place"
    if _STILL.search(text):
        return "detail.still"
    if bigram_overlap(text, ticket_text) >= 0.5:
        return "detail.words"
    return None
