"""`kirin models`: the models a server offers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kirin_video.cli import _common
from kirin_video.cli.task import ListOutput

models_app = typer.Typer()


@models_app.command("models")
def models(
    output: Annotated[ListOutput, typer.Option("--output", "-o")] = ListOutput.text,
    server: _common.ServerOption = None,
    api_key: _common.ApiKeyOption = None,
) -> None:
    """List the models, their parameters and defaults."""
    catalog = _common.call(server, api_key, lambda client: client.models())
    if output is ListOutput.json:
        _common.print_json({"data": catalog})
        return
    table = Table("model", "description", "parameters (default)")
    for model in catalog:
        params = ", ".join(
            f"{name}={spec['default']}" if isinstance(spec, dict) and "default" in spec else name
            for name, spec in model.get("parameters", {}).items()
        )
        table.add_row(model.get("id", ""), model.get("description", ""), params)
    _common.console.print(table)
