"""The classifier's commands: eval, rules learn, bench classify (through a throwaway Typer app)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli_classifier import register
from classifiers.evaluate import Row, evaluate_rows, read_rows
from classifiers.pipeline import classify, load_rules

DATA = Path(__file__).parent / "data"
DEV = DATA / "dev_messages.csv"
TEDDY = DATA / "teddycup_sample.csv"
INTENT_KEYS = {"complaint", "consultation", "other"}


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    rules_app = typer.Typer()
    bench_app = typer.Typer()
    app.add_typer(rules_app, name="rules")
    app.add_typer(bench_app, name="bench")
    register(app, rules_app, bench_app)
    return app


def run(app: typer.Typer, *args: str):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def check_shape(m: dict) -> None:
    assert set(m) == {"n", "intent", "actionable", "category", "urgent"}
    assert set(m["intent"]) == INTENT_KEYS
    for d in m["intent"].values():
        assert set(d) == {"precision", "recall", "f1"}
    assert set(m["actionable"]) == {"rate", "precision", "recall"}
    assert set(m["category"]) == {"accuracy", "macro_f1"}
    assert set(m["urgent"]) == {"precision", "recall"}


def test_eval_on_the_dev_set_prints_its_figures(app, capsys):
    res = run(app, "eval", DEV, "--json")
    m = last_json(res.stdout)
    check_shape(m)
    assert m["n"] == 400
    with capsys.disabled():
        print("\nshanzhi eval tests/data/dev_messages.csv --json:\n" + json.dumps(m, ensure_ascii=False))
    held = last_json(run(app, "eval", DEV, "--json", "--split", "test").stdout)
    with capsys.disabled():
        print("held-out fifth (--split test):\n" + json.dumps(held, ensure_ascii=False))
    assert 0 < held["n"] < 400


def test_eval_text_report_has_table_confusion_and_misses(app):
    out = run(app, "eval", DEV, "--worst", "5").stdout
    assert "precision" in out and "confusion" in out
    assert "worst misses" in out and "rules:" in out


def test_eval_with_nothing_to_score_gives_nulls_not_nan():
    m = evaluate_rows([], load_rules())
    assert m["n"] == 0
    assert m["intent"]["complaint"] == {"precision": None, "recall": None, "f1": None}
    assert m["actionable"]["rate"] is None and m["category"]["macro_f1"] is None
    assert m["urgent"] == {"precision": None, "recall": None}
    assert "NaN" not in json.dumps(m)
    only_other = evaluate_rows([Row(id="1", text="收到", intent="other", urgent=False)], load_rules())
    assert only_other["urgent"]["precision"] is None and only_other["category"]["accuracy"] is None


def test_eval_public_file_columns(app):
    m = last_json(run(app, "eval", TEDDY, "--json", "--text-column", "留言主题", "--label-column", "一级标签",
                      "--intent", "complaint").stdout)
    check_shape(m)
    assert m["n"] == 42 and m["actionable"]["rate"] is not None


def test_text_columns_are_joined_and_ids_default_to_row_numbers(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n路灯,坏了\n,收到\n", encoding="utf-8")
    rows = read_rows(f, text_columns=["a", "b"], intent="other")
    assert [(r.id, r.text, r.intent) for r in rows] == [("1", "路灯。坏了", "other"), ("2", "收到", "other")]


def test_eval_bad_column_is_a_clear_error(app):
    res = CliRunner().invoke(app, ["eval", str(DEV), "--text-column", "nope"])
    assert res.exit_code == 2
    assert "nope" in res.output


def test_learn_then_load_then_classify_round_trip(app, tmp_path):
    out = tmp_path / "county.jsonl"
    summary = last_json(run(app, "rules", "learn", TEDDY, "--text-column", "留言主题", "--label-column", "一级标签",
                            "--out", out, "--min-support", "1", "--json").stdout)
    assert summary["target"] == "category" and summary["rules"] > 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    assert "meta" in lines[0]
    assert all({"id", "target", "label", "weight", "pattern"} <= set(r) for r in lines[1:])
    own = load_rules([out], include_default=False)
    assert set(own.categories) == set(lines[0]["meta"]["categories"])
    rows = list(csv.DictReader(TEDDY.open(encoding="utf-8")))
    right = sum(classify(r["留言主题"], own).category == r["一级标签"] for r in rows)
    assert right / len(rows) > 0.8  # its own training data
    beside = load_rules([out])  # default intent rules + the county's own categories
    assert set(beside.categories) == set(own.categories)
    m = last_json(run(app, "eval", TEDDY, "--json", "--text-column", "留言主题", "--label-column", "一级标签",
                      "--intent", "complaint", "--rules", out).stdout)
    assert m["category"]["accuracy"] > 0.5


def test_corrections_make_it_better(app, tmp_path):
    """After a batch of corrections and a re-learn, the corrected kind of message is classified right."""
    rules = load_rules()
    wrong = "我们小区的快递柜天天坏 取件码输了没反应"
    assert classify(wrong, rules).category != "enterprise"  # a county files these under 营商/企业
    fixes = tmp_path / "corrections.csv"
    with fixes.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "intent", "category", "urgent"])
        for i, t in enumerate(["快递柜又坏了 取件码没反应", "快递柜屏幕黑了 取不了件", "快递柜柜门打不开 快递拿不出来",
                               "小区快递柜天天故障", "快递柜坏了一个星期了"]):
            w.writerow([f"fb{i}", t, "complaint", "enterprise", 0])
    out = tmp_path / "learned.jsonl"
    run(app, "rules", "learn", DEV, fixes, "--out", out, "--label-column", "category", "--min-support", "1")
    relearned = load_rules([out])
    c = classify(wrong, relearned)
    assert c.acted_intent(0.45) == "complaint"
    assert c.category == "enterprise"


def test_bench_reports_both_throughputs(app, tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("text\n路灯坏了三天了\n收到\n请问低保怎么申请\n", encoding="utf-8")
    m = last_json(run(app, "bench", "classify", f, "--json", "--repeat-to", "30").stdout)
    assert set(m) == {"messages", "classifier_msgs_per_s", "jieba_msgs_per_s", "ratio", "rss_mb"}
    assert m["messages"] == 30 and m["ratio"] > 0 and m["rss_mb"] > 0


def test_learned_rules_score_like_the_linear_model_they_come_from(tmp_path):
    """The learned rules are a linear SVM written out: the pipeline's argmax equals the model's."""
    import math
    from collections import Counter

    from classifiers.learn import _fit, _matrix, learn, tokenize_all

    rows = [(r["留言主题"], r["一级标签"]) for r in csv.DictReader(TEDDY.open(encoding="utf-8"))]
    out = tmp_path / "lin.jsonl"
    learn(rows, out, min_support=1, min_weight=0.0)
    own = load_rules([out], include_default=False)
    docs = tokenize_all([t for t, _ in rows])
    df = Counter(f for d in docs for f in d)
    feats = sorted(df)
    idf = {f: math.log((1 + len(docs)) / (1 + df[f])) + 1.0 for f in feats}
    classes = sorted({lab for _, lab in rows})
    x = _matrix(docs, feats, idf)
    w, b = _fit(x, [lab for _, lab in rows], classes, 1.0)
    model = (x @ w + b).argmax(1)
    agree = sum(classify(t, own).category == classes[int(k)] for (t, _), k in zip(rows, model, strict=True))
    assert agree / len(rows) >= 0.95


def test_learned_character_rules_are_readable_and_show_in_the_evidence(app, tmp_path):
    """Short subjects: character pairs jieba's words hide (公交 in 公交车) are learned as "chars": true rules."""
    out = tmp_path / "county.jsonl"
    run(app, "rules", "learn", TEDDY, "--text-column", "留言主题", "--label-column", "一级标签", "--out", out,
        "--min-support", "1")
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    chars = [r for r in lines[1:] if r.get("chars")]
    assert chars and all(isinstance(r["pattern"], str) and len(r["pattern"]) == 2 for r in chars)
    assert "character 2-grams" in lines[0]["meta"]["method"]
    own = load_rules([out], include_default=False)
    rows = list(csv.DictReader(TEDDY.open(encoding="utf-8")))
    c = classify(rows[0]["留言主题"], own)
    assert any(e.target == "category" and len(e.matched) == 2 and e.matched in rows[0]["留言主题"].lower()
               for e in c.evidence)


def test_word_and_character_features_only_when_asked(tmp_path):
    from classifiers.learn import learn

    rows = [(r["留言主题"], r["一级标签"]) for r in csv.DictReader(TEDDY.open(encoding="utf-8"))]
    out = tmp_path / "words.jsonl"
    learn(rows, out, min_support=1, char_ngram=0)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    assert not any(r.get("chars") for r in lines[1:])
