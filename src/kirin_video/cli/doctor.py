"""`kirin doctor`: is this machine ready to run the real model?"""

from __future__ import annotations

import typer
from rich.table import Table

from kirin_video.cli import _common
from kirin_video.config import Settings
from kirin_video.engines.doctor import diagnose

doctor_app = typer.Typer()


@doctor_app.command("doctor")
def doctor() -> None:
    """Print the engine choice, device, dtype, weights, free GPU memory and accelerations."""
    table = Table("check", "value")
    for fact, value in diagnose(Settings()):
        table.add_row(fact, value)
    _common.console.print(table)
