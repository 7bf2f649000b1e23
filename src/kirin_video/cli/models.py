"""`kirin models`: the models a server offers."""

from __future__ import annotations

from typing import Annotated, Any

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
        params = ", ".join(_parameter(name, spec) for name, spec in _parameters(model))
        table.add_row(model.get("id", ""), model.get("description", ""), params)
    _common.console.print(table)


def _parameters(model: dict[str, Any]) -> list[tuple[str, object]]:
    """``parameters`` as a name → schema object, or as a list of ``{"name", …}`` entries."""
    given = model.get("parameters") or {}
    if isinstance(given, dict):
        return list(given.items())
    return [(str(entry.get("name", "?")), entry) for entry in given if isinstance(entry, dict)]


def _parameter(name: str, spec: object) -> str:
    if not isinstance(spec, dict):
        return name
    default = spec.get("default", (spec.get("constraints") or {}).get("default"))
    return name if default is None else f"{name}={default}"
