"""`kirin task`: status, list and cancel of tasks on a server."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from kirin_video.cli import _common
from kirin_video.client import Task

task_app = typer.Typer(help="Look at and cancel tasks on a server.")


class StatusOutput(StrEnum):
    text = "text"
    json = "json"
    url = "url"


class ListOutput(StrEnum):
    text = "text"
    json = "json"


def _print_task(task: Task) -> None:
    lines = [f"id:       {task.id}", f"model:    {task.model}", f"status:   {task.status}"]
    if task.external_task_id:
        lines.append(f"external: {task.external_task_id}")
    if task.progress is not None and task.status == "processing":
        lines.append(f"progress: {task.progress:.0%}")
    if task.error:
        lines.append(f"error:    {task.error.get('code')}: {task.error.get('message')}")
    for label, url in (
        ("video", task.video_url),
        ("watermarked", task.watermarked_url),
        ("cover", task.cover_url),
    ):
        if url:
            lines.append(f"{label + ':':<9} {url}")
    _common.console.print("\n".join(lines), highlight=False, soft_wrap=True)


@task_app.command("status")
def status(
    task_id: str,
    output: Annotated[StatusOutput, typer.Option("--output", "-o")] = StatusOutput.text,
    server: _common.ServerOption = None,
    api_key: _common.ApiKeyOption = None,
) -> None:
    """Show one task (by id or external_task_id)."""
    task = _common.call(server, api_key, lambda client: client.get(task_id))
    if output is StatusOutput.json:
        _common.print_json(task.raw)
    elif output is StatusOutput.url:
        if task.video_url is None:
            _common.errors.print(f"task {task.id} is {task.status}: no video yet")
            raise typer.Exit(1)
        typer.echo(task.video_url)
    else:
        _print_task(task)


def _when(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


@task_app.command("list")
def list_tasks(
    status: Annotated[str | None, typer.Option(help="pending, processing, completed, …")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
    output: Annotated[ListOutput, typer.Option("--output", "-o")] = ListOutput.text,
    server: _common.ServerOption = None,
    api_key: _common.ApiKeyOption = None,
) -> None:
    """List your newest tasks."""
    page = _common.call(
        server, api_key, lambda client: client.list(status=status, model=model, limit=limit)
    )
    if output is ListOutput.json:
        _common.print_json({"data": [t.raw for t in page.data], "next_cursor": page.next_cursor})
        return
    table = Table("id", "model", "status", "progress", "created")
    for task in page.data:
        progress = f"{task.progress:.0%}" if task.progress is not None else ""
        table.add_row(task.id, task.model or "", task.status, progress, _when(task.created_at))
    _common.console.print(table)


@task_app.command("cancel")
def cancel(
    task_id: str, server: _common.ServerOption = None, api_key: _common.ApiKeyOption = None
) -> None:
    """Cancel a pending or processing task."""
    task = _common.call(server, api_key, lambda client: client.cancel(task_id))
    _common.console.print(f"{task.id} {task.status}", highlight=False)
