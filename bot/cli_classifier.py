"""Classifier commands of the ``shanzhi`` CLI: ``eval``, ``rules learn`` and ``bench classify``.

``bot/cli.py`` owns the Typer apps and calls :func:`register`. Machine-readable output (``--json``) is
one JSON object on the last line of stdout; progress and notes go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _load(rules: list[Path] | None, no_default: bool):  # noqa: ANN202 - RuleSet, imported lazily
    from classifiers.pipeline import load_rules

    if no_default and not rules:
        raise typer.BadParameter("--no-default-rules needs at least one --rules file")
    return load_rules(rules or None, include_default=not no_default)


def eval_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="labelled CSV")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on the last line")] = False,
    text_column: Annotated[list[str] | None, typer.Option("--text-column", help="text column; repeat to join "
                                                          "several with 。 (default: text)")] = None,
    label_column: Annotated[str | None, typer.Option("--label-column", help="gold category column "
                                                     "(default: category)")] = None,
    intent: Annotated[str | None, typer.Option("--intent", help="fixed gold intent for files without an "
                                               "intent column (complaint|consultation|other)")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="extra rule file (repeatable), "
                                                     "loaded beside the default rules")] = None,
    no_default_rules: Annotated[bool, typer.Option("--no-default-rules", help="use only the --rules files")] = False,
    middle: Annotated[float, typer.Option("--middle", help="confidence the bot acts on")] = 0.45,
    split: Annotated[str | None, typer.Option("--split", help="score only the train (4/5) or test (1/5) part, "
                                              "chosen by a hash of --split-key")] = None,
    split_key: Annotated[str | None, typer.Option("--split-key", help="column hashed for --split (default id, "
                                                  "else row number)")] = None,
    worst: Annotated[int, typer.Option("--worst", help="misses listed in the text report")] = 25,
) -> None:
    """Score the classifier on a labelled CSV (columns id,text,intent,category,urgent)."""
    from classifiers.evaluate import metrics, read_rows, report, score_rows

    try:
        rows = read_rows(file, text_columns=text_column, label_column=label_column, intent=intent,
                         split=split, split_key=split_key)
    except ValueError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc
    ruleset = _load(rules, no_default_rules)
    _err(f"scoring {len(rows)} messages from {file} with {len(ruleset.rules)} rules …")
    scored = score_rows(rows, ruleset, middle)
    m = metrics(scored)
    if json_out:
        typer.echo(json.dumps(m, ensure_ascii=False))
    else:
        typer.echo(report(scored, m, worst=worst))


def learn_command(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True,
                                                help="labelled CSVs (e.g. the dev set and exported corrections)")],
    out: Annotated[Path, typer.Option("--out", help="rule file to write (JSONL)")],
    text_column: Annotated[list[str] | None, typer.Option("--text-column", help="text column; repeatable, "
                                                          "joined with 。 (default: text)")] = None,
    label_column: Annotated[str, typer.Option("--label-column", help="label column (intent, category, "
                                              "or a county's own class)")] = "category",
    min_support: Annotated[int, typer.Option("--min-support", help="messages a word must occur in")] = 2,
    per_label: Annotated[int, typer.Option("--per-label", help="strongest rules kept per label (0: all)")] = 0,
    split: Annotated[str | None, typer.Option("--split", help="learn only on the train (4/5) or test (1/5) "
                                              "part, by a hash of --split-key")] = None,
    split_key: Annotated[str | None, typer.Option("--split-key", help="column hashed for --split")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON summary on the last line")] = False,
) -> None:
    """Mine discriminative words per label and write them as reviewable rules."""
    from classifiers.learn import learn, read_labelled

    cols = text_column or ["text"]
    try:
        rows = read_labelled(files, cols, label_column, split=split, split_key=split_key)
        _err(f"learning from {len(rows)} labelled messages in {len(files)} file(s) …")
        rep = learn(rows, out, min_support=min_support, per_label=per_label,
                    source=", ".join(str(f) for f in files))
    except ValueError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc
    summary = {"rows": rep.rows, "labels": rep.labels, "rules": rep.rules, "target": rep.target, "out": str(rep.out)}
    if json_out:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        typer.echo(f"wrote {rep.rules} {rep.target} rules for {len(rep.labels)} labels to {rep.out}")
        typer.echo("use them with: shanzhi eval FILE --rules " + str(rep.out))


def bench_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV with a text column, or a text file (one message a line)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on the last line")] = False,
    repeat_to: Annotated[int, typer.Option("--repeat-to", help="repeat the messages up to N")] = 0,
    text_column: Annotated[list[str] | None, typer.Option("--text-column", help="text column (default text)")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="extra rule file (repeatable)")] = None,
) -> None:
    """Throughput of the full classifier vs plain jieba.lcut on the same messages."""
    from classifiers.bench import bench, read_texts

    texts = read_texts(file, text_columns=text_column, repeat_to=repeat_to)
    if not texts:
        _err("error: no messages in the file")
        raise typer.Exit(2)
    res = bench(texts, rules=rules, progress=lambda m: _err(m))
    if json_out:
        typer.echo(json.dumps(res))
    else:
        typer.echo(
            f"messages {res['messages']}\nclassifier {res['classifier_msgs_per_s']:.0f} msg/s\n"
            f"jieba.lcut {res['jieba_msgs_per_s']:.0f} msg/s\nratio {res['ratio']:.3f}\nRSS {res['rss_mb']:.0f} MB"
        )
    sys.stdout.flush()


def register(app: typer.Typer, rules_app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``eval`` to ``app``, ``learn`` to ``rules_app`` and ``classify`` to ``bench_app``."""
    app.command("eval")(eval_command)
    rules_app.command("learn")(learn_command)
    bench_app.command("classify")(bench_command)
