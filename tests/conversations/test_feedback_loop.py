"""Corrections make it better: what grid workers fix in chat becomes labelled data, and after a
re-train the corrected kind of message is classified right."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.main import app
from classifiers.model import classify, load_model
from services.feedback import export_csv
from tests.support.chat import Chat

LOCKERS = [
    "小区快递柜坏了三天了 取件码输了没反应 麻烦派人来修一下",
    "我们小区快递柜屏幕黑了一个星期了 取不了件 投诉了也没人管",
    "小区门口快递柜柜门坏了好几天了 快递拿不出来 麻烦管一下",
    "小区快递柜天天故障 反映了好多次还是没人来修",
    "小区里的快递柜坏了一个星期了 老人取不到药 麻烦派人来修",
]
NO = re.compile(r"SG\d{8}-\d{4}")


async def test_recategorised_tickets_teach_the_classifier_their_category(chat: Chat, tmp_path: Path) -> None:
    unseen = "我们这边的快递柜又坏了 取件码输了没反应 麻烦管一下"
    assert classify(unseen, load_model()).category != "enterprise"

    for i, text in enumerate(LOCKERS):
        chat.clock.advance(days=4)  # past the merge window: each is a ticket of its own
        replies = await chat.say(f"居民{i}", text, group="南门社区群")
        numbers = {m.group(0) for l in replies for m in [NO.search(l.text)] if m}
        if not numbers:
            continue
        no = numbers.pop()
        await chat.dm("周管理", f"改类 {no} 企业服务")
        if chat.ticket(no).status == "pending":
            await chat.dm("周管理", f"立案 {no}")

    with chat.app.services.uow() as uow:
        n = export_csv(uow, tmp_path / "feedback.csv")
    rows = list(csv.DictReader((tmp_path / "feedback.csv").open(encoding="utf-8")))
    assert n == len(rows) >= 3
    assert all(r["intent"] == "complaint" and r["category"] == "enterprise" for r in rows)

    out = tmp_path / "retrained.jsonl"
    result = CliRunner().invoke(
        app, ["rules", "train", str(tmp_path / "feedback.csv"), "--no-calibrate", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    c = classify(unseen, load_model(out))
    assert c.acted_intent(0.45) == "complaint" and c.category == "enterprise", c.explain()


async def test_dismissed_tickets_are_exported_as_not_complaints(chat: Chat, tmp_path: Path) -> None:
    replies = await chat.say("王大妈", "村口路灯坏了三天了，晚上黑漆漆的")
    no = NO.search(" ".join(l.text for l in replies)).group(0)  # type: ignore[union-attr]
    await chat.dm("李网格", f"不是诉求 {no}")
    result = CliRunner().invoke(app, ["feedback", "export", str(tmp_path / "fb.csv"), "--db", chat.app.database_url])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "fb.csv").open(encoding="utf-8")))
    assert [(r["intent"], r["category"]) for r in rows] == [("other", "")]
    assert json.dumps(rows, ensure_ascii=False).count("路灯") == 1
