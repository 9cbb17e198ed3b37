"""The `shanzhi` command line: run the bot, replay files through it, evaluate, report, maintain.

The root command and its groups, and every command group registered here, by name: what `shanzhi --help`
lists is what this file says.
"""

from __future__ import annotations

import typer

from bot.cli import classifier, schedules, service, storage

app = typer.Typer(add_completion=False, no_args_is_help=True, help="善治 shanzhi: village group chat → tracked tickets")
rules_app = typer.Typer(no_args_is_help=True, help="The classifier: train its model from labelled messages")
bench_app = typer.Typer(
    no_args_is_help=True, help="Benchmarks (figures as ratios to a baseline run in the same process)"
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
feedback_app = typer.Typer(no_args_is_help=True, help="Corrections made by grid workers, as labelled data")
notice_app = typer.Typer(no_args_is_help=True, help="Policy notices to the groups whose tags match")
app.add_typer(rules_app, name="rules")
app.add_typer(bench_app, name="bench")
app.add_typer(db_app, name="db")
app.add_typer(feedback_app, name="feedback")
app.add_typer(notice_app, name="notice")

service.register(app, db_app, feedback_app)
classifier.register(app, rules_app, bench_app)
schedules.register(app, notice_app)
storage.register(app, bench_app)
