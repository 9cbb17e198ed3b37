"""What a user sees: which messages become tickets, of which kind, and which are emergencies."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers.pipeline import classify, load_rules
from classifiers.types import DEFAULT_CATEGORIES, Classification

MIDDLE, HIGH = 0.45, 0.75


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def acted(text: str, rules) -> str:
    return classify(text, rules).acted_intent(MIDDLE)


def test_broken_streetlight_is_a_road_complaint(rules):
    c = classify("村口路灯坏了三天了，晚上黑漆漆的", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "road"
    assert not c.urgent


def test_evidence_names_the_rules_and_words(rules):
    c = classify("村口路灯坏了三天了，晚上黑漆漆的", rules)
    assert any(e.target == "category" and e.label == "road" and "路灯" in e.matched for e in c.evidence)
    assert "路灯" in c.explain()


@pytest.mark.parametrize("text", ["今天好热啊", "收到", "哈哈哈", "谢谢网格员👍", "🌹🌹🌹早上好", "", "   ", "[图片]"])
def test_chit_chat_and_thanks_are_not_tickets(rules, text):
    assert acted(text, rules) == "other"


def test_thanks_is_not_a_ticket(rules):
    assert acted("上次反映的路灯已经修好了 谢谢小肖网格员", rules) == "other"


def test_notice_from_cadres_is_not_a_ticket(rules):
    assert acted("【停电通知】因线路检修，明天8:00-17:00 一至六组停电，请提前做好准备。", rules) == "other"


def test_how_to_apply_is_a_consultation(rules):
    assert acted("请问低保怎么申请 要准备么子材料", rules) == "consultation"


def test_benefit_cut_without_reason_is_a_welfare_complaint(rules):
    c = classify("我家低保被取消了 没有任何人来通知 也没有说明理由 这个到底怎么回事", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "welfare"


def test_unpaid_wages_are_a_labor_complaint(rules):
    c = classify("老板欠了我们半年工资 电话也不接 能不能帮忙找下劳动部门", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "labor"


def test_late_night_noise_is_a_noise_complaint(rules):
    c = classify("楼上天天半夜两点还在唱歌 吵得老人睡不着 说了几次都不管", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "noise"


def test_dialect_water_complaint(rules):
    c = classify("我们组冇水三天了 港了要来修 到现在冇看到人", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "utilities"


@pytest.mark.parametrize(
    "text",
    [
        "快来人啊 后山着火了 往屋那边烧过来了",
        "楼道里好大一股煤气味 敲门没人应",
        "街上有人打架 一个人头上在流血 快叫120",
        "她站在天台边上说不想活了 快来人",
        "河堤渗水了 好几户屋里已经进水 老人走不动",
    ],
)
def test_emergencies_are_urgent_tickets(rules, text):
    c = classify(text, rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.urgent
    assert c.confidence >= HIGH


def test_fire_is_urgent(rules):
    assert classify("仓库冒烟了 好像烧起来了 旁边宿舍还有人在睡觉 快打119", rules).urgent


def test_fire_drill_notice_is_not_urgent(rules):
    c = classify("【森林防火】严禁上山烧纸、野外用火。发现火情请立即拨打119，违者依法处理。", rules)
    assert c.acted_intent(MIDDLE) == "other"
    assert not c.urgent


def test_fire_already_out_is_not_a_ticket(rules):
    assert acted("火已经扑灭了 感谢消防队和各位乡亲 冇人受伤 大家放心", rules) == "other"


def test_confidence_is_a_probability_and_category_is_known(rules):
    for text in ["村口路灯坏了三天了", "请问社保卡丢了在哪补办", "哈哈"]:
        c = classify(text, rules)
        assert 0.0 <= c.confidence <= 1.0
        assert c.category is None or c.category in rules.categories
    assert set(DEFAULT_CATEGORIES) <= set(rules.categories)


def test_classify_is_pure(rules):
    text = "小区门口垃圾桶三天没人收了 臭得要死"
    assert classify(text, rules) == classify(text, rules)


def test_load_rules_is_cached():
    assert load_rules() is load_rules()
    assert load_rules(None, include_default=True) is load_rules([])


def test_the_first_complaint_after_a_start_finds_the_classifier_ready(monkeypatch):
    """Loading the classifier builds what it would otherwise build on the first complaint (~0.5 s
    that a whole batch of residents would wait for)."""
    import classifiers.pipeline as pipeline
    from bot.app import load_classifier
    from bot.config import load_config

    monkeypatch.setattr(pipeline, "_LOGP", None)
    load_classifier(load_config(None))
    assert pipeline._LOGP is not None


def test_very_long_and_odd_inputs_do_not_raise(rules):
    for text in ["路灯坏了" * 5000, "😀" * 3000, "\x00\x01\x02\u202e\ufeff", "a" * 20000, "\n\n\t"]:
        assert isinstance(classify(text, rules), Classification)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_classify_never_raises(rules, text):
    c = classify(text, rules)
    assert c.intent in ("complaint", "consultation", "other")
    assert 0.0 <= c.confidence <= 1.0


# --- character-level rules (rules/chars.jsonl) and compound words -------------------------------------------
def test_named_place_is_read_on_characters_not_jieba_words(rules):
    c = classify("建议尽快修复K6县白云路的路灯", rules)
    assert any(e.rule_id == "topic.named_place" for e in c.evidence)


def test_public_thing_with_evaluative_adjective_is_a_complaint(rules):
    c = classify("K3县乡村教师工资太低了", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert any(e.rule_id == "complaint.public_thing_bad" and "工资" in e.matched for e in c.evidence)


def test_category_word_inside_a_longer_jieba_word_counts(rules):
    c = classify("K市轨道交通规划建议", rules)
    assert any(e.target == "category" and e.label == "road" and e.matched == "交通" for e in c.evidence)


@pytest.mark.parametrize("text", ["你已经老年痴呆了", "不觉得你好看鼻子太塌了脸跟平面似的", "城管来啦？", "开始怀念医院了么？"])
def test_casual_use_of_a_problem_word_is_not_a_ticket(rules, text):
    assert acted(text, rules) == "other"


def test_bad_regex_rule_is_a_clear_error(tmp_path):
    from classifiers.pipeline import RuleError, build_ruleset

    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "x", "target": "intent", "label": "complaint", "regex": "(", "literals": ["a"]}\n',
                 encoding="utf-8")
    with pytest.raises(RuleError, match="bad regex"):
        build_ruleset([f])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="村口路灯坏了三天晚上黑漆漆的请问低保怎么申请县区镇政府投诉噪音扰民a1b2K6县", max_size=40))
def test_fast_block_cutter_gives_jiebas_words(rules, text):
    import math

    import jieba

    from classifiers.pipeline import _block_cutter, cut_block_no_hmm, logprob_table

    cut = _block_cutter()
    for blk in jieba.re_han_default.split(text):
        if blk and jieba.re_han_default.match(blk):
            assert cut_block_no_hmm(blk, jieba.dt.FREQ, math.log(jieba.dt.total)) == list(cut(blk))
            # the same with the precomputed log-probability table the classifier uses
            logp = logprob_table(jieba.dt.FREQ, jieba.dt.total)
            assert cut_block_no_hmm(blk, jieba.dt.FREQ, math.log(jieba.dt.total), logp) == list(cut(blk))


def _reference_focus(text: str, spans: list[tuple[int, int]], window: int | None) -> str:
    """focus() as first written: every Han/alnum run found, each stretch of hits widened within its run."""
    import bisect
    import re

    joined = _merged(spans)
    runs = [(m.start(), m.end()) for m in re.finditer(r"[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+", text)]
    starts = [r[0] for r in runs]
    wide = []
    for s, e in joined:
        i = bisect.bisect_right(starts, s) - 1
        if i >= 0 and runs[i][0] <= s < runs[i][1]:
            s = runs[i][0] if window is None else max(runs[i][0], s - window)
        j = bisect.bisect_right(starts, e - 1) - 1
        if j >= 0 and runs[j][0] <= e - 1 < runs[j][1]:
            e = runs[j][1] if window is None else min(runs[j][1], e + window)
        wide.append((s, e))
    return " ".join(text[s:e] for s, e in _merged(wide))


def _merged(spans: list[tuple[int, int]]) -> list[list[int]]:
    """Overlapping or touching spans joined, in order."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return merged


_FOCUS_ALPHABET = "村口路灯坏了三天晚上黑请问低保怎么申请县区镇政府投诉噪音扰民ab12K6县，。？! ?…\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=_FOCUS_ALPHABET, max_size=60),
       raw=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 6)), max_size=8),
       window=st.sampled_from([None, 0, 1, 3, 8]))
def test_focus_windows_match_the_run_based_definition(rules, monkeypatch, text, raw, window):
    # RuleSet._windows reads the runs around each hit with anchored regexes instead of finding every run first
    import classifiers.pipeline as pipeline

    spans = sorted({(s, min(s + n, len(text))) for s, n in raw if s < len(text)})
    with monkeypatch.context() as m:
        m.setattr(pipeline, "FOCUS_WINDOW", window)
        assert rules.focus(text, spans) == _reference_focus(text, spans, window)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=_FOCUS_ALPHABET, max_size=60))
def test_focus_words_are_jiebas_words_of_the_focus_text(rules, text):
    # focus_words cuts each focus part on its own, with " " between parts: what jieba gives for focus()'s text
    import jieba

    from classifiers.pipeline import normalize

    norm = normalize(text)
    spans = rules.scan(norm)[2]
    part = rules.focus(norm, spans)
    assert rules.focus_words(norm, spans) == (jieba.lcut(part, HMM=False) if part else [])


@pytest.mark.parametrize("text", [
    "村口路灯坏了三天了，晚上黑漆漆的",
    "请问低保怎么申请？需要什么材料",
    "楼下广场舞噪音扰民到晚上十一点，投诉了也没人管",
    "K6县白云路的井盖丢了，有人受伤",
])
def test_word_lookup_matching_equals_spacys_phrase_matcher(rules, text):
    # match_words' one dictionary look-up per word gives the PhraseMatcher's matches on the same words
    from spacy.tokens import Doc

    from classifiers.pipeline import normalize

    norm = normalize(text)
    words = rules.focus_words(norm, rules.scan(norm)[2])
    doc = Doc(rules.nlp.vocab, words=words, spaces=[False] * len(words))

    def key(ms):
        return sorted((r.id, s, e, c) for r, s, e, c in ms)

    assert key(rules.match_words(words)) == key(rules.match(doc))


def test_run_characters_are_jiebas_block_characters():
    # the focus windows and the one-block shortcut rely on the same character class as jieba's block splitting
    import jieba

    from classifiers.pipeline import _RUN_RE

    for cp in range(0x10000):
        c = chr(cp)
        assert bool(_RUN_RE.fullmatch(c)) == bool(jieba.re_han_default.fullmatch(c)), hex(cp)


def test_evidence_init_is_the_dataclass_init():
    import dataclasses
    import pickle

    from classifiers.types import Evidence

    e = Evidence("road.infra", "category", "road", "路灯", 2.0)
    assert e == Evidence(rule_id="road.infra", target="category", label="road", matched="路灯", weight=2.0)
    assert dataclasses.asdict(e) == {"rule_id": "road.infra", "target": "category", "label": "road",
                                     "matched": "路灯", "weight": 2.0}
    assert dataclasses.replace(e, weight=1.0).weight == 1.0
    assert pickle.loads(pickle.dumps(e)) == e and hash(e) == hash(pickle.loads(pickle.dumps(e)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.weight = 3.0  # type: ignore[misc]


def test_named_place_literal_alone_does_not_force_segmentation(rules):
    # 街 is a literal of the named-place regex: only a named street (白云街) raises the prefilter's bound
    assert rules.scan("去逛街好玩吗")[0] < 1.0
    assert rules.scan("白云街好玩吗")[0] >= 1.0


# ---------------------------------------------------------------- structure rules (rules/structure.jsonl)
def fired(c: Classification) -> set[str]:
    return {e.rule_id for e in c.evidence}


@pytest.mark.parametrize("text", ["A市育英小学划分重点班", "A7县海德公元15栋悄悄进行销售", "丽发新城小区旁边建搅拌站"])
def test_petition_subject_stating_a_fact_about_a_named_place_or_body_is_a_complaint(rules, text):
    c = classify(text, rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert fired(c) & {"structure.place_led_report", "structure.body_led_report"}


def test_village_group_report_that_opens_with_its_group_is_a_complaint(rules):
    c = classify("三组的路灯又坏了", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert "structure.place_led_report" in fired(c)


@pytest.mark.parametrize("text", ["A市的烧烤摊好多人哈哈", "长沙的臭豆腐好好吃哈哈", "十堰古竹高速是我修的", "新文化广场那里吗？",
                                  "【通知】A市明天停水"])
def test_chat_about_a_place_is_not_a_written_report(rules, text):
    c = classify(text, rules)
    assert c.acted_intent(MIDDLE) == "other"
    assert not {r for r in fired(c) if r.startswith("structure.")}


def test_place_led_question_is_a_consultation(rules):
    c = classify("西地省专升本学位英语身份现场确认地址可以更改吗？", rules)
    assert c.acted_intent(MIDDLE) == "consultation"
    assert "structure.place_led_question" in fired(c)


def test_written_question_about_an_unlisted_matter_is_a_consultation(rules):
    # no topic word (土地所有权 is in no list): the opening 咨询 of a written question names a public matter
    c = classify("咨询土地所有权问题", rules)
    assert c.acted_intent(MIDDLE) == "consultation"
    assert "structure.question_led" in fired(c)


def test_petition_that_opens_with_oppose_is_a_complaint(rules):
    c = classify("坚决反对岳路区万象府台调规", rules)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert "structure.petition_led" in fired(c)


def test_ad_word_in_a_written_report_names_the_matter_not_an_ad(rules):
    c = classify("A3区岳北社区B2栋3单元羽婕钢材批发噪音太大", rules)  # 批发 is an ad word in chat
    assert c.acted_intent(MIDDLE) == "complaint"
    assert "register.written_report" in fired(c)
    ad = classify("出售二手工业缝纫机 兄弟牌 九成新 价格私聊", rules)
    assert ad.acted_intent(MIDDLE) == "other"


def test_a_text_has_one_structure_vote(rules):
    c = classify("反对在A1区汇一城小区边建110KV高压变电站", rules)
    both = {"structure.place_led_report", "structure.petition_led"}
    assert both <= fired(c)  # both are shown to the reviewer...
    alone = classify("A1区汇一城小区边建110KV高压变电站", rules)
    assert "structure.petition_led" not in fired(alone)
    # ... but the complaint score differs only by what 反对 itself adds, not by a second structure vote
    assert c.scores["complaint"] - alone.scores["complaint"] < 1.0


def test_unless_stops_a_regex_rule_and_is_only_for_regex_rules(tmp_path):
    from classifiers.pipeline import RuleError, build_ruleset

    f = tmp_path / "u.jsonl"
    f.write_text('{"id": "t.x", "target": "intent", "label": "complaint", "weight": 3.0, "public": true, '
                 '"regex": "^k6县.{3,}", "literals": ["县"], "unless": "哈"}\n', encoding="utf-8")
    rs = build_ruleset([f])
    assert "t.x" in fired(classify("K6县路灯全部不亮", rs))
    assert "t.x" not in fired(classify("K6县路灯全部不亮哈哈", rs))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "t.y", "target": "intent", "label": "complaint", "pattern": "路灯", "unless": "哈"}\n',
                   encoding="utf-8")
    with pytest.raises(RuleError, match="unless"):
        build_ruleset([bad])


_EXPLAIN_ALL = """
import csv, sys
from classifiers.pipeline import classify, load_rules
rules = load_rules()
for path, col in (("tests/data/dev_messages.csv", "text"), ("tests/data/teddycup_sample.csv", "留言主题")):
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            c = classify(row[col], rules)
            print(c.intent, round(c.confidence, 6), c.category, c.urgent, c.explain())
"""


def test_an_official_sees_the_same_reasons_whichever_process_classified_the_message() -> None:
    """Classification is a pure function of text and rules: not of Python's string hash seed, which
    differs between the bot's processes (and between a run and its replay)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    runs = [
        subprocess.run([sys.executable, "-c", _EXPLAIN_ALL], cwd=root, capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", "HOME": str(root)}).stdout
        for seed in ("1", "12345")
    ]
    assert runs[0].count("\n") > 300
    assert runs[0] == runs[1]
