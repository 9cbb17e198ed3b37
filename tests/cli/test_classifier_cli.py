"""The classifier's commands: eval (a file, or county by county), rules train, bench classify — through a
throwaway Typer app, on a small corpus cut from the project's own so that training takes seconds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.classifier import register
from classifiers.corpus import CORPUS_DIR, DEV_SET, Example, read_csv
from classifiers.evaluate import evaluate_rows
from classifiers.model import classify, load_model, read_model_file, write_model_file
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA
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


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """Every fourth row of three counties: enough of every kind of message to learn something from."""
    folder = tmp_path_factory.mktemp("corpus")
    for path in sorted(CORPUS_DIR.glob("*.csv"))[:3]:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        with (folder / path.name).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows[::4])
    return folder


def run(app: typer.Typer, *args: object):
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
    assert {"precision", "recall"} <= set(m["urgent"])


def test_eval_on_the_dev_set_prints_its_figures(app, capsys):
    m = last_json(run(app, "eval", DEV_SET, "--json").stdout)
    check_shape(m)
    assert m["n"] == 400
    with capsys.disabled():
        print("\nshanzhi eval classifiers/data/dev/lanjiang.csv --json:\n" + json.dumps(m, ensure_ascii=False))
    held = last_json(run(app, "eval", DEV_SET, "--json", "--split", "test").stdout)
    assert 0 < held["n"] < 400


def test_eval_text_report_has_table_confusion_and_misses_with_their_reasons(app, tmp_path):
    f = tmp_path / "few.csv"
    f.write_text(
        "id,text,intent,category,urgent\n1,村口路灯坏了三天了,complaint,road,0\n2,收到,complaint,road,0\n"
        "3,请问低保怎么申请,consultation,,0\n",
        encoding="utf-8",
    )
    out = run(app, "eval", f, "--worst", "5").stdout
    assert "precision" in out and "confusion" in out
    assert "worst misses" in out and "rules:" in out


def test_eval_with_nothing_to_score_gives_nulls_not_nan():
    model = load_model()
    m = evaluate_rows([], model.classify)
    assert m["n"] == 0
    assert m["intent"]["complaint"] == {"precision": None, "recall": None, "f1": None}
    assert m["actionable"]["rate"] is None and m["category"]["macro_f1"] is None
    assert m["urgent"] == {"precision": None, "recall": None}
    assert "NaN" not in json.dumps(m)
    only_other = evaluate_rows([Example(id="1", text="收到", intent="other", urgent=False)], model.classify)
    assert only_other["urgent"]["precision"] is None and only_other["category"]["accuracy"] is None


def test_eval_public_file_columns(app):
    m = last_json(
        run(
            app,
            "eval",
            TEDDY,
            "--json",
            "--text-column",
            "留言主题",
            "--label-column",
            "一级标签",
            "--intent",
            "complaint",
        ).stdout
    )
    check_shape(m)
    assert m["n"] == 42 and m["actionable"]["rate"] is not None


def test_text_columns_are_joined_and_ids_default_to_row_numbers(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n路灯,坏了\n,收到\n", encoding="utf-8")
    rows = read_csv(f, text_columns=["a", "b"], intent="other")
    assert [(r.id, r.text, r.intent, r.county) for r in rows] == [
        ("x-1", "路灯。坏了", "other", "x"),
        ("x-2", "收到", "other", "x"),
    ]


def test_eval_bad_column_is_a_clear_error(app):
    res = CliRunner().invoke(app, ["eval", str(DEV_SET), "--text-column", "nope"])
    assert res.exit_code == 2
    assert "nope" in res.output


def test_a_bad_label_in_a_corpus_file_names_its_row(app, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("id,text,intent,category,urgent\n1,路灯坏了,complaint,road,0\n2,收到,chitchat,,0\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["eval", str(f)])
    assert res.exit_code == 2
    assert "bad.csv:3" in res.output and "chitchat" in res.output


def test_trained_model_file_is_readable_and_loads(app, small_corpus, tmp_path):
    out = tmp_path / "m.jsonl"
    summary = last_json(run(app, "rules", "train", "--corpus", small_corpus, "--out", out, "--json").stdout)
    assert summary["features"] > 1000 and 0 < summary["urgent_threshold"] <= 0.5
    meta, weights = read_model_file(out)
    assert set(meta["heads"]) == {"intent", "category", "urgent", "emergency"}
    assert meta["heads"]["intent"]["labels"] == ["complaint", "consultation", "other"]
    assert any(f["file"] == "govqa_questions.csv" and f["rows"] == 2080 for f in meta["trained_on"] if "file" in f)
    # every hand-written rule that fired often enough is a feature with a learned weight per label
    assert weights["rule:urgent.fire"]["urgent"]["urgent"] > 0
    assert all(k.split(":", 1)[0] in {"rule", "word", "pair", "chars", "sym", "shape"} for k in weights)
    model = load_model(out)
    c = classify("后山着火了 快来人", model)
    assert c.urgent and any(e.rule_id == "rule:urgent.fire" for e in c.evidence)
    m = last_json(run(app, "eval", DEV_SET, "--json", "--model", out).stdout)
    assert m["intent"]["complaint"]["recall"] > 0.5


def test_training_is_deterministic(app, small_corpus, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        run(app, "rules", "train", "--corpus", small_corpus, "--out", out, "--no-calibrate")
    assert a.read_bytes() == b.read_bytes()


def test_a_hand_edited_weight_changes_the_decision(tmp_path):
    """The model file is for people too: raise one weight by hand and the decision follows."""
    from classifiers.model import DEFAULT_MODEL

    meta, weights = read_model_file(DEFAULT_MODEL)
    assert classify("收到", load_model()).acted_intent(0.45) == "other"
    weights["word:收到"]["intent"] = {"complaint": 80.0}
    out = tmp_path / "edited.jsonl"
    write_model_file(out, meta, weights)
    c = classify("收到", load_model(out))
    assert c.intent == "complaint" and c.evidence[0].rule_id == "word:收到"


def test_a_countys_own_categories_replace_the_default_ones(app, small_corpus, tmp_path):
    out = tmp_path / "teddy.jsonl"
    run(
        app,
        "rules",
        "train",
        TEDDY,
        "--corpus",
        small_corpus,
        "--text-column",
        "留言主题",
        "--label-column",
        "一级标签",
        "--intent",
        "complaint",
        "--own-categories",
        "--no-calibrate",
        "--out",
        out,
    )
    model = load_model(out)
    rows = list(csv.DictReader(TEDDY.open(encoding="utf-8")))
    assert set(model.categories) == {r["一级标签"] for r in rows}
    right = sum(classify(r["留言主题"], model).category == r["一级标签"] for r in rows)
    assert right / len(rows) > 0.8  # its own training data


def test_corrections_make_it_better(app, small_corpus, tmp_path):
    """After a batch of corrections and a re-train, the corrected kind of message is classified right."""
    wrong = "我们小区的快递柜天天坏 取件码输了没反应"
    assert classify(wrong, load_model()).category != "enterprise"  # this county files these under 营商/企业
    fixes = tmp_path / "corrections.csv"
    with fixes.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "intent", "category", "urgent"])
        for i, t in enumerate(
            [
                "快递柜又坏了 取件码没反应",
                "快递柜屏幕黑了 取不了件",
                "快递柜柜门打不开 快递拿不出来",
                "小区快递柜天天故障",
                "快递柜坏了一个星期了 没人修",
            ]
        ):
            w.writerow([f"fb{i}", t, "complaint", "enterprise", 0])
    out = tmp_path / "retrained.jsonl"
    run(app, "rules", "train", fixes, "--corpus", small_corpus, "--no-calibrate", "--out", out)
    c = classify(wrong, load_model(out))
    assert c.acted_intent(0.45) == "complaint"
    assert c.category == "enterprise", c.explain()


def test_cross_validation_holds_each_county_out_beside_the_svm(app, small_corpus):
    res = run(app, "eval", "--cv", "county", "--corpus", small_corpus, "--json")
    s = last_json(res.stdout)
    counties = {f["county"] for f in s["folds"]}
    assert len(counties) == 3
    for name in (
        "complaint P",
        "complaint R",
        "category macro-F1",
        "urgent R",
    ):  # all defined even on this small corpus
        row = s["figures"][name]
        assert {"mean", "worst", "worst_county"} <= set(row["model"]) and "mean" in row["svm"]
        assert row["model"]["worst"] <= row["model"]["mean"]
    assert s["urgent_by_kind"] and all(0 <= d["recall"] <= 1 for d in s["urgent_by_kind"].values())
    bins = s["reliability"]
    assert sum(b["n"] for b in bins) == sum(f["n"] for f in s["folds"])
    text = run(app, "eval", "--cv", "county", "--corpus", small_corpus).stdout
    assert "svm mean" in text and "reliability" in text and "urgent recall by kind" in text


def test_bench_reports_both_throughputs_and_memory(app, tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("text\n路灯坏了三天了\n收到\n请问低保怎么申请\n", encoding="utf-8")
    m = last_json(run(app, "bench", "classify", f, "--json", "--repeat-to", "30", "--rounds", "2").stdout)
    assert set(m) == {
        "messages",
        "rounds",
        "classifier_msgs_per_s",
        "jieba_msgs_per_s",
        "ratio",
        "cpu_ratio",
        "batch",
        "single_msgs_per_s",
        "single_ratio",
        "acted_on",
        "rss_mb",
    }
    assert m["messages"] == 30 and m["rounds"] == 2 and m["ratio"] > 0 and m["cpu_ratio"] > 0 and m["rss_mb"] > 0
    assert m["batch"] == 32 and m["single_ratio"] > 0  # the bot's inbox batch, and one message at a time
    assert 0 < m["acted_on"] < 30  # 路灯坏了 and 低保 are acted on, 收到 is not
