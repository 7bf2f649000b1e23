"""`kirin task`: status, list, cancel and callback deliveries of tasks on a server."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from kirin_video.cli import _common
from kirin_video.client import Task

task_app = typer.Typer(help="Look at and cancel tasks on a server, and see their callbacks.")


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
    if task.queue_position is not None:
        lines.append(f"queue:    #{task.queue_position}")
    if task.progress is not None and task.status == "in_progress":
        lines.append(f"progress: {task.progress:.0%}")
    if task.error:
        lines.append(f"error:    {task.error.code or '-'}: {task.error.message}")
    for label, at in (("created", task.created), ("updated", task.updated)):
        if at is not None:
            lines.append(f"{label + ':':<9} {_when(at)} UTC")
    if task.usage is not None and task.usage.cost is not None:
        lines.append(f"cost:     {task.usage.cost}")
    for label, url in (
        ("video", task.video_url),
        ("watermarked", task.watermarked_video_url),
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


def _when(at: datetime | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "-" if at is None else at.strftime(pattern)


def _instant(timestamp: object) -> datetime | None:
    """A callback record's time: Unix milliseconds like a task's, or seconds (older servers)."""
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return None
    seconds = timestamp / 1000 if timestamp > _MILLIS_FROM else timestamp
    return datetime.fromtimestamp(seconds, UTC)


#: Above this a timestamp is in milliseconds (in seconds it would be the year 5138).
_MILLIS_FROM = 10**11


@task_app.command("list")
def list_tasks(
    status: Annotated[str | None, typer.Option(help="in_progress, completed or failed")] = None,
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
    widest = max((len(task.id) for task in page.data), default=2)
    table = Table(  # ids are copied from here: the other columns give way in a narrow terminal
        Column("id", no_wrap=True, min_width=widest),
        Column("model", overflow="fold"),
        Column("status", overflow="fold"),
        Column("progress", overflow="fold"),
        Column("created", overflow="fold"),
    )
    for task in page.data:
        progress = f"{task.progress:.0%}" if task.progress is not None else ""
        table.add_row(task.id, task.model or "", task.status, progress, _when(task.created))
    _common.console.print(table)


@task_app.command("cancel")
def cancel(
    task_id: str, server: _common.ServerOption = None, api_key: _common.ApiKeyOption = None
) -> None:
    """Cancel a task not yet finished (it ends failed, code 8002005097)."""
    task = _common.call(server, api_key, lambda client: client.cancel(task_id))
    state = "cancelled" if task.cancelled else task.status
    _common.console.print(f"{task.id} {state}", highlight=False)


def _short_when(timestamp: object) -> str:
    return _when(_instant(timestamp), "%m-%d %H:%M:%S")


def _result(attempt: dict[str, Any]) -> str:
    status = attempt.get("http_status")
    return str(attempt.get("error") or (f"HTTP {status}" if status is not None else ""))


def _delivery_rows(delivery: dict[str, Any]) -> list[list[str]]:
    """One row per attempt (an empty one if none yet): the delivery first, its next try last."""
    attempts = delivery.get("attempts") or []
    rows = [
        ["", "", "", str(number), _short_when(attempt.get("at")), _result(attempt), ""]
        for number, attempt in enumerate(attempts, start=1)
    ] or [["", "", "", "", "", "", ""]]
    rows[0][:3] = [str(delivery.get(name, "")) for name in ("id", "event", "state")]
    rows[-1][-1] = _short_when(delivery.get("next_attempt_at"))
    return rows


@task_app.command("callbacks")
def callbacks(
    task_id: str,
    output: Annotated[ListOutput, typer.Option("--output", "-o")] = ListOutput.text,
    server: _common.ServerOption = None,
    api_key: _common.ApiKeyOption = None,
) -> None:
    """Show a task's callback deliveries and every attempt to send them."""
    deliveries = _common.call(server, api_key, lambda client: client.callbacks(task_id))
    if output is ListOutput.json:
        _common.print_json({"data": deliveries})
        return
    table = Table(
        Column("delivery", overflow="fold"),
        Column("event", no_wrap=True),
        Column("state", no_wrap=True),
        Column("#", no_wrap=True),
        Column("at (UTC)", no_wrap=True),
        Column("result", overflow="fold"),
        Column("next attempt", no_wrap=True),
    )
    for delivery in deliveries:
        for row in _delivery_rows(delivery):
            table.add_row(*row)
    _common.console.print(table)
