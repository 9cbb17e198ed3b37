"""Classifier commands of the ``shanzhi`` CLI: ``eval`` (one file, or leave-one-county-out cross-validation),
``rules train`` and ``bench classify``.

``bot/cli/main.py`` owns the Typer apps and calls :func:`register`. Machine-readable output (``--json``) is one JSON
object on the last line of stdout; progress and notes go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.options import err

TextColumns = Annotated[
    list[str] | None, typer.Option("--text-column", help="text column; repeat to join several with 。 (default: text)")
]
LabelColumn = Annotated[str | None, typer.Option("--label-column", help="gold category column (default: category)")]
Intent = Annotated[
    str | None,
    typer.Option(
        "--intent", help="fixed gold intent for files without an intent column (complaint|consultation|other)"
    ),
]
Split = Annotated[
    str | None, typer.Option("--split", help="only the train (4/5) or test (1/5) part, chosen by a hash of --split-key")
]
SplitKey = Annotated[str | None, typer.Option("--split-key", help="column hashed for --split (default: id)")]
Json = Annotated[bool, typer.Option("--json", help="print one JSON object on the last line")]
Corpus = Annotated[
    Path | None,
    typer.Option(
        "--corpus",
        exists=True,
        file_okay=False,
        help="a folder of county CSVs instead of the project's corpus and dev set",
    ),
]


def _read(
    files: list[Path],
    text_column: list[str] | None,
    label_column: str | None,
    intent: str | None,
    split: str | None,
    split_key: str | None,
) -> list[Any]:
    from classifiers.corpus import CorpusError, read_csv

    try:
        return [
            e
            for f in files
            for e in read_csv(
                f, text_columns=text_column, label_column=label_column, intent=intent, split=split, split_key=split_key
            )
        ]
    except CorpusError as exc:
        err(f"error: {exc}")
        raise typer.Exit(2) from exc


def eval_command(
    files: Annotated[
        list[Path] | None, typer.Argument(exists=True, dir_okay=False, readable=True, help="labelled CSV(s)")
    ] = None,
    json_out: Json = False,
    text_column: TextColumns = None,
    label_column: LabelColumn = None,
    intent: Intent = None,
    model: Annotated[Path | None, typer.Option("--model", help="model file (default: the shipped one)")] = None,
    middle: Annotated[float, typer.Option("--middle", help="confidence the bot acts on")] = 0.45,
    split: Split = None,
    split_key: SplitKey = None,
    cv: Annotated[
        str | None,
        typer.Option(
            "--cv",
            help="'county': leave-one-county-out cross-validation of the "
            "shipped recipe (the FILES are added to its training data)",
        ),
    ] = None,
    worst: Annotated[int, typer.Option("--worst", help="misses listed in the text report")] = 25,
    corpus: Corpus = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="also train TF-IDF + LinearSVC on the shipped recipe's data and score it on the same rows",
        ),
    ] = False,
) -> None:
    """Score the classifier on labelled CSVs (id,text,intent,category,urgent[,emergency,county]), or
    cross-validate it county by county (--cv county)."""
    from classifiers.evaluate import metrics, report, score_rows
    from classifiers.model import classify, classify_many, load_model

    if cv is not None:
        if cv != "county":
            err("error: --cv takes 'county'")
            raise typer.Exit(2)
        _cross_validate(
            _read(files or [], text_column, label_column, intent, split, split_key), json_out, middle, corpus
        )
        return
    if not files:
        err("error: name a labelled CSV, or use --cv county")
        raise typer.Exit(2)
    rows = _read(files, text_column, label_column, intent, split, split_key)
    m_ = load_model(model)
    err(f"scoring {len(rows)} messages with {m_.source} ({len(m_)} features, {len(m_.rules.rules)} rules) …")
    scored = score_rows(rows, lambda t: classify(t, m_), middle, many=lambda ts: classify_many(ts, m_))
    m = metrics(scored)
    svm = None
    if baseline:
        from classifiers import recipe
        from classifiers.crossval import SvmBaseline

        svm = metrics(score_rows(rows, SvmBaseline(recipe.shipped_examples(corpus)).classify, middle))
    if json_out:
        typer.echo(json.dumps({"model": m, "svm": svm} if baseline else m, ensure_ascii=False))
    else:
        typer.echo(report(scored, m, worst=worst))
        if svm is not None:
            typer.echo("\nTF-IDF + LinearSVC trained on the same data:\n" + json.dumps(svm, ensure_ascii=False))


def _cross_validate(extra: list[Any], json_out: bool, middle: float, folder: Path | None) -> None:
    from classifiers import recipe
    from classifiers.crossval import leave_one_county_out, table
    from classifiers.handrules import load_rules
    from classifiers.train import TrainConfig

    chat = recipe.chat_examples(folder)
    examples = chat + recipe.public_examples() + extra
    held = sorted({e.county for e in chat})
    err(
        f"leave-one-county-out over {len(held)} counties ({len(chat)} messages), "
        f"{len(examples) - len(chat)} more always in training …"
    )
    cv = leave_one_county_out(examples, load_rules(), TrainConfig(), held=held, middle=middle, progress=err)
    if json_out:
        typer.echo(json.dumps(cv.summary(), ensure_ascii=False))
    else:
        typer.echo(table(cv))


def train_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="more labelled CSVs, e.g. `shanzhi feedback export`"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="model file to write (default: the shipped classifiers/model/default.jsonl)"),
    ] = None,
    text_column: TextColumns = None,
    label_column: LabelColumn = None,
    intent: Intent = None,
    split: Split = None,
    split_key: SplitKey = None,
    own_categories: Annotated[
        bool,
        typer.Option("--own-categories", help="learn the categories from the FILES only (a county's own taxonomy)"),
    ] = False,
    no_calibrate: Annotated[
        bool,
        typer.Option(
            "--no-calibrate",
            help="skip the inner cross-validation that fits "
            "temperatures and the urgent threshold (faster; probabilities "
            "uncalibrated, urgent threshold 0.5)",
        ),
    ] = False,
    corpus: Corpus = None,
    json_out: Json = False,
) -> None:
    """Fit the model on the project's corpus (and FILES) and write it as a readable JSONL model file."""
    from dataclasses import replace

    from classifiers import recipe
    from classifiers.corpus import fingerprint
    from classifiers.handrules import load_rules
    from classifiers.model import DEFAULT_MODEL, write_model_file
    from classifiers.train import TrainConfig, train

    extra = _read(files or [], text_column, label_column, intent, split, split_key)
    base = recipe.shipped_examples(corpus)
    if own_categories:
        if not any(e.category for e in extra):
            err("error: --own-categories needs FILES with a category column (--label-column)")
            raise typer.Exit(2)
        base = [replace(e, category=None) for e in base]
    examples = base + extra
    target = out or DEFAULT_MODEL
    paths = recipe.training_files(corpus) + list(files or [])
    sources = [{"file": p.name, "rows": sum(1 for e in examples if e.source == str(p))} for p in paths]
    sources.append({"fingerprint": fingerprint(paths)})
    meta, weights = train(
        examples, load_rules(), TrainConfig(), sources=sources, calibrate=not no_calibrate, progress=err
    )
    write_model_file(target, meta, weights)
    summary = {
        "examples": len(examples),
        "features": len(weights),
        "out": str(target),
        "urgent_threshold": meta["urgent_threshold"],
        "temperatures": {h: d["temperature"] for h, d in meta["heads"].items()},
    }
    if json_out:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        typer.echo(f"wrote {summary['features']} features learned from {len(examples)} messages to {target}")


def bench_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with a text column, or a text file (one message a line)",
        ),
    ],
    json_out: Json = False,
    repeat_to: Annotated[int, typer.Option("--repeat-to", help="repeat the messages up to N")] = 0,
    text_column: TextColumns = None,
    model: Annotated[Path | None, typer.Option("--model", help="model file (default: the shipped one)")] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="alternate rounds of the loops; best kept")] = 3,
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="messages classified together (default: the bot's inbox batch)")
    ] = None,
) -> None:
    """Throughput of the full classifier vs plain jieba.lcut on the same messages, and the process's RSS."""
    from bot.app import BATCH
    from classifiers.bench import bench, read_texts

    texts = read_texts(file, text_columns=text_column, repeat_to=repeat_to)
    if not texts:
        err("error: no messages in the file")
        raise typer.Exit(2)
    res = bench(texts, model=model, rounds=rounds, batch=batch or BATCH, progress=err)
    if json_out:
        typer.echo(json.dumps(res))
    else:
        typer.echo(
            f"messages {res['messages']}\nclassifier {res['classifier_msgs_per_s']:.0f} msg/s\n"
            f"jieba.lcut {res['jieba_msgs_per_s']:.0f} msg/s\nratio {res['ratio']:.3f} "
            f"(CPU time ratio {res['cpu_ratio']:.3f}; batches of {res['batch']})\n"
            f"one at a time {res['single_msgs_per_s']:.0f} msg/s, ratio {res['single_ratio']:.3f}\n"
            f"RSS {res['rss_mb']:.0f} MB"
        )
    sys.stdout.flush()


def register(app: typer.Typer, rules_app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``eval`` to ``app``, ``train`` to ``rules_app`` and ``classify`` to ``bench_app``."""
    app.command("eval")(eval_command)
    rules_app.command("train")(train_command)
    bench_app.command("classify")(bench_command)
