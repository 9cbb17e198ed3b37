"""What a user sees: which messages become tickets, of which kind, and which are emergencies — decided by the
shipped model (learned weights over hand-written rules, words and characters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers import corpus, features, segment
from classifiers.handrules import RuleError, RuleSet
from classifiers.model import classify, classify_many, load_model
from classifiers.types import DEFAULT_CATEGORIES, EMERGENCY_KINDS
from tests.support.paths import REPO as REPO_ROOT

MIDDLE, HIGH = 0.45, 0.75


@pytest.fixture(scope="module")
def model():
    return load_model()


def acted(text: str, model) -> str:
    return classify(text, model).acted_intent(MIDDLE)


def test_broken_streetlight_is_a_road_complaint(model):
    c = classify("村口路灯坏了三天了，晚上黑漆漆的", model)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "road"
    assert not c.urgent


def test_evidence_names_the_features_and_words_behind_the_decision(model):
    c = classify("村口路灯坏了三天了，晚上黑漆漆的", model)
    assert any(e.target == "category" and e.label == "road" and "路灯" in e.matched for e in c.evidence)
    assert any(e.target == "intent" and e.label == "complaint" for e in c.evidence)
    assert all(e.weight > 0 for e in c.evidence)
    assert "路灯" in c.explain()


@pytest.mark.parametrize(
    "text",
    [
        "今天好热啊",
        "收到",
        "哈哈哈",
        "谢谢网格员👍",
        "🌹🌹🌹早上好",
        "",
        "   ",
        "[图片]",
        "热死了",
        "这道题做不出来我要原地去世了哈哈",
    ],
)
def test_chit_chat_and_thanks_are_not_tickets(model, text):
    c = classify(text, model)
    assert c.acted_intent(MIDDLE) == "other"
    assert not c.urgent


def test_solved_problem_with_thanks_is_not_a_ticket(model):
    assert acted("上次反映的路灯已经修好了 谢谢小肖网格员", model) == "other"


def test_notice_from_cadres_is_not_a_ticket(model):
    assert acted("【停电通知】因线路检修，明天8:00-17:00 一至六组停电，请提前做好准备。", model) == "other"


def test_how_to_apply_is_a_consultation(model):
    assert acted("请问低保怎么申请 要准备么子材料", model) == "consultation"


def test_benefit_cut_without_reason_is_a_welfare_complaint(model):
    c = classify("我家低保被取消了 没有任何人来通知 也没有说明理由 这个到底怎么回事", model)
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.category == "welfare"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("老板欠了我们半年工资 电话也不接 能不能帮忙找下劳动部门", "labor"),
        ("楼上天天半夜两点还在唱歌 吵得老人睡不着 说了几次都不管", "noise"),
        ("公厕脏得没法用，一直没人打扫", "environment"),
        ("有人在河边倒垃圾", "environment"),
        ("隔壁装修太吵了", "noise"),
        ("我们组的自来水停了两天了，打电话给水厂也冇人接", "utilities"),
    ],
)
def test_plain_complaints_are_tickets_of_their_category(model, text, category):
    c = classify(text, model)
    assert c.acted_intent(MIDDLE) == "complaint", c.explain()
    assert c.category == category, c.explain()


@pytest.mark.parametrize(
    "text",
    [
        "着火了",
        "家里煤气泄漏了",
        "厨房里煤气味很重，阀门关了还是有味道",
        "有人落水了，快来人",
        "电线掉下来了",
        "快来人啊 后山着火了 往屋那边烧过来了",
        "街上有人打架 一个人头上在流血 快叫120",
        "她站在天台边上说不想活了 快来人",
        "河堤渗水了 好几户屋里已经进水 老人走不动",
    ],
)
def test_emergencies_are_urgent_whatever_the_intent_confidence(model, text):
    c = classify(text, model)
    assert c.urgent, c.explain()
    assert c.acted_intent(MIDDLE) == "complaint"
    assert c.emergency in EMERGENCY_KINDS


def test_the_kind_of_emergency_is_told_apart(model):
    assert classify("厨房里煤气味很重，阀门关了还是有味道", model).emergency == "gas"
    assert classify("仓库冒烟了 好像烧起来了 旁边宿舍还有人在睡觉 快打119", model).emergency == "fire"


@pytest.mark.parametrize(
    "text",
    [
        "【森林防火】严禁上山烧纸、野外用火。发现火情请立即拨打119，违者依法处理。",
        "火已经扑灭了 感谢消防队和各位乡亲 冇人受伤 大家放心",
        "水泥路裂了好长一条缝 电动车经常摔 麻烦修一下",
    ],
)
def test_safety_notices_past_events_and_slow_hazards_are_not_emergencies(model, text):
    assert not classify(text, model).urgent


def test_confidence_is_a_probability_and_category_is_known(model):
    for text in ["村口路灯坏了三天了", "请问社保卡丢了在哪补办", "哈哈"]:
        c = classify(text, model)
        assert 0.0 <= c.confidence <= 1.0
        assert abs(sum(c.scores.values()) - 1.0) < 1e-3
        assert c.category is None or c.category in model.categories
    assert set(model.categories) == set(DEFAULT_CATEGORIES)


def test_classify_is_pure(model):
    text = "小区门口垃圾桶三天没人收了 臭得要死"
    assert classify(text, model) == classify(text, model)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.text(
            alphabet="村口路灯坏了三天晚上黑请问低保怎么申请着火了煤气快来人吗？！【通知】@ 13812345678😀🙏ab12",
            max_size=60,
        ),
        max_size=12,
    )
)
def test_a_batch_gives_each_message_what_it_gets_alone(model, texts):
    """The bot classifies its inbox a batch at a time: a message's reading, confidence and evidence are the same
    whatever else is in its batch, empty texts and emoji included."""
    alone = [classify(t, model) for t in texts]
    together = classify_many(texts, model)
    assert [(c, tuple(c.evidence)) for c in together] == [(c, tuple(c.evidence)) for c in alone]


def test_a_batch_of_the_dev_set_reads_as_its_messages_one_by_one(model):
    texts = [e.text for e in corpus.read_csv(corpus.DEV_SET)][:200]
    alone = [classify(t, model) for t in texts]
    together = classify_many(texts, model)
    assert [c.explain() for c in together] == [c.explain() for c in alone]
    assert together == alone


def test_load_model_is_cached():
    assert load_model() is load_model()


def test_the_first_complaint_after_a_start_finds_the_classifier_ready(monkeypatch):
    """Loading the classifier builds what it would otherwise build on the first complaint (~0.5 s that a whole
    batch of residents would wait for)."""
    from bot.app import load_classifier
    from core.config import load_config

    monkeypatch.setattr(segment, "_READY", False)
    monkeypatch.setattr(segment, "_CUTTER", None)
    load_classifier(load_config(None))
    assert segment._CUTTER is not None


def test_very_long_and_odd_inputs_do_not_raise(model):
    for text in ["路灯坏了" * 5000, "\x00\x01\x02", "🙂" * 3000, "a" * 10000, "\u200b\ufeff"]:
        assert 0 <= classify(text, model).confidence <= 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_classify_never_raises(model, text):
    c = classify(text, model)
    assert c.intent in ("complaint", "consultation", "other")
    assert list(c.evidence) is not None


def _route_logprob(jieba, ws: list[str]) -> float:
    import math

    total = math.log(jieba.dt.total)
    return sum(math.log(jieba.dt.FREQ.get(w) or 1) - total for w in ws)


def _assert_jiebas_route(jieba, text: str) -> None:
    """The words of every block are jieba's (precise mode, no HMM), or a route through the block exactly as
    likely as jieba's (喂喂喂: 喂喂+喂 or 喂+喂喂, a tie the two implementations break differently)."""
    for blk in jieba.re_han_default.split(text):
        if blk and jieba.re_han_default.match(blk):
            ours, theirs = segment.words(blk), jieba.lcut(blk, HMM=False)
            if ours != theirs:
                assert "".join(ours) == blk
                assert abs(_route_logprob(jieba, ours) - _route_logprob(jieba, theirs)) < 1e-9, (ours, theirs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(alphabet="村口路灯坏了三天晚上黑漆漆的请问低保怎么申请县区镇政府投诉噪音扰民a1b2K6县喂喂喂", max_size=40)
)
def test_the_compiled_cutter_gives_jiebas_words(model, text):
    _assert_jiebas_route(segment.jieba_module(), text)


def test_the_compiled_cutter_gives_jiebas_words_on_every_dev_message(model):
    jieba = segment.jieba_module()
    for e in corpus.read_csv(corpus.DEV_SET):
        _assert_jiebas_route(jieba, segment.normalize(e.text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(
        alphabet="村口路灯坏了三天晚上黑请问低保怎么申请着火了煤气快来人吗？！【通知】@ 13812345678😀🙏ab12",
        max_size=80,
    )
)
def test_the_model_reads_exactly_the_known_features_of_a_message(model, text):
    """The scorer's fast path (one automaton over known n-grams, look-ups by kind) finds the same features as
    the extraction training used, restricted to those the model knows."""
    known = set(model.keys)
    want = {k for k in features.extract(text, model.rules, model.config) if k in known}
    rows, _matched = model.reader.read(text)
    assert {model.keys[r] for r in rows} == want


def test_the_same_reasons_whichever_process_classified_the_message() -> None:
    """A pure function of text and model: not of Python's string hash seed, which differs between the bot's
    processes (and between a run and its replay)."""
    import subprocess
    import sys

    script = (
        "import csv\nfrom classifiers.model import classify, load_model\nm = load_model()\n"
        "for row in csv.DictReader(open('classifiers/data/dev/lanjiang.csv', encoding='utf-8')):\n"
        "    c = classify(row['text'], m)\n"
        "    print(c.intent, c.confidence, c.category, c.urgent, c.urgency, c.explain())\n"
    )
    root = REPO_ROOT
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", "HOME": str(root)},
        ).stdout
        for seed in ("1", "12345")
    ]
    assert runs[0].count("\n") == 400
    assert runs[0] == runs[1]


def _rule_file(tmp_path: Path, *lines: dict) -> Path:
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return f


def test_a_rule_with_a_hand_set_weight_is_refused_with_the_reason(tmp_path):
    f = _rule_file(tmp_path, {"id": "x.fire", "weight": 2.0, "pattern": "着火"})
    with pytest.raises(RuleError, match="weights are learned"):
        RuleSet.build([f])


def test_bad_regex_rule_is_a_clear_error(tmp_path):
    f = _rule_file(tmp_path, {"id": "x.bad", "regex": "([", "literals": ["x"]})
    with pytest.raises(RuleError, match="bad regex"):
        RuleSet.build([f])


def test_unless_is_only_for_regex_rules(tmp_path):
    f = _rule_file(tmp_path, {"id": "x.u", "pattern": "着火", "unless": "演练"})
    with pytest.raises(RuleError, match="unless is only for regex"):
        RuleSet.build([f])


def test_a_regex_rule_fires_unless_its_unless_matches(tmp_path):
    f = _rule_file(tmp_path, {"id": "x.place", "regex": "[\u4e00-\u9fff]{2}村", "literals": ["村"], "unless": "演练"})
    rs = RuleSet.build([f])
    norm = segment.normalize("石桥村着火了")
    assert [(r.id, m) for r, m in rs.match(norm, segment.words(norm))] == [("x.place", "石桥村")]
    norm = segment.normalize("石桥村消防演练")
    assert rs.match(norm, segment.words(norm)) == []


def test_a_token_pattern_with_an_operator_runs_through_spacys_matcher(tmp_path):
    f = _rule_file(
        tmp_path,
        {
            "id": "x.seq",
            "pattern": [{"ORTH": "路灯"}, {"ORTH": {"IN": ["又", "也"]}, "OP": "?"}, {"ORTH": {"IN": ["坏", "坏了"]}}],
        },
    )
    rs = RuleSet.build([f])
    for words in (["路灯", "坏了"], ["路灯", "又", "坏了"], ["路灯", "也", "坏"]):
        assert [(r.id, m) for r, m in rs.match("".join(words), words)] == [("x.seq", "".join(words))]
    assert rs.match("路灯修好了", ["路灯", "修好", "了"]) == []
