"""The `kirin` command: serve, worker, run, task, keys, models, doctor."""

from __future__ import annotations

import typer

from kirin_video.cli.doctor import doctor_app
from kirin_video.cli.keys import keys_app
from kirin_video.cli.models import models_app
from kirin_video.cli.run import run_app
from kirin_video.cli.serve import serve_app
from kirin_video.cli.task import task_app
from kirin_video.cli.worker import worker_app

app = typer.Typer(
    name="kirin",
    help="Kirin v1.6 image-to-video: server, client and tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for group in (serve_app, worker_app, run_app, models_app, doctor_app):
    app.add_typer(group)
app.add_typer(task_app, name="task")
app.add_typer(keys_app, name="keys")


def main() -> None:
    app()
