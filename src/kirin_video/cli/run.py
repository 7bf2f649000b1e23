"""`kirin run`: one video from the command line, embedded, against a server or the hosted one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from PIL import Image
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from kirin_video.cli import _common
from kirin_video.client import Client, KirinError, Task
from kirin_video.contract.catalog import Model

run_app = typer.Typer()
#: What the API takes, recognised by content as the server does (a name's extension may lie).
_IMAGE_FORMATS = {"JPEG", "PNG"}


@contextmanager
def _client(server: str | None, api_key: str | None) -> Iterator[Client]:
    target = _common.remote(server, api_key)
    if target is not None:
        with _common.make_client(*target) as client:
            yield client
        return
    with (
        _common.embedded_server() as (url, key),
        _common.make_client(url, key, poll_interval=0.2) as client,
    ):
        yield client


def _check_image(option: str, value: str) -> None:
    """A local picture must be a readable JPEG or PNG: one usage line, not a traceback, if not."""
    if value.startswith(("http://", "https://")):
        return
    path = Path(value).expanduser()
    if not path.exists():
        _common.fail_usage(f"{option} {value}: no such file")
    if not path.is_file():
        _common.fail_usage(f"{option} {value}: is a folder, not an image file")
    try:
        with Image.open(path) as picture:
            kind = picture.format
    except PermissionError:
        _common.fail_usage(f"{option} {value}: cannot be read (permission denied)")
    except (OSError, Image.DecompressionBombError):
        kind = None
    if kind not in _IMAGE_FORMATS:
        _common.fail_usage(f"{option} {value}: is not a JPEG or PNG image")


def _images(model: str, image: list[str], image_tail: str | None) -> dict[str, Any]:
    for value in image:
        _check_image("--image", value)
    if image_tail:
        _check_image("--image-tail", image_tail)
    if model == Model.MULTI_I2V:
        if image_tail:
            _common.fail_usage("--image-tail is for kirin_v1_6_i2v only")
        return {"image_list": image}
    if len(image) > 1:
        _common.fail_usage("kirin_v1_6_i2v takes one --image (and optionally --image-tail)")
    return {"image": image[0] if image else None, "image_tail": image_tail}


def _stage(task: Task) -> str:
    """What the bar says: queued (and where in the queue), running, or the end state."""
    if task.status != "in_progress":
        return task.status
    if task.queue_position is not None:
        return "queued, runs next" if task.queue_position == 1 else f"queued #{task.queue_position}"
    return "running" if task.progress else "in progress"


def _wait_with_bar(client: Client, task: Task, *, timeout: float) -> Task:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_common.errors, transient=False) as progress:
        bar = progress.add_task(f"{task.id} {_stage(task)}", total=1.0)

        def update(current: Task) -> None:
            done = 1.0 if current.status == "completed" else current.progress or 0.0
            progress.update(bar, completed=done, description=f"{current.id} {_stage(current)}")

        return client.wait(task, timeout=timeout, on_progress=update)


def _summary(task: Task) -> str:
    facts = [f"done: {task.id}"]
    facts += [
        f"{name} {task.metadata[name]}" for name in ("engine", "seed") if name in task.metadata
    ]
    if task.usage is not None and task.usage.cost is not None:
        facts.append(f"cost {task.usage.cost}")
    return ", ".join(facts)


@run_app.command("run")
def run(
    model: Annotated[str, typer.Argument(help="kirin_v1_6_i2v or kirin_v1_6_multi_i2v")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the MP4")],
    image: Annotated[
        list[str] | None, typer.Option("--image", help="file or URL; repeat for multi (1-4)")
    ] = None,
    image_tail: Annotated[str | None, typer.Option(help="last frame (i2v, pro)")] = None,
    prompt: Annotated[str | None, typer.Option()] = None,
    negative_prompt: Annotated[str | None, typer.Option()] = None,
    mode: Annotated[str | None, typer.Option(help="std or pro")] = None,
    duration: Annotated[int | None, typer.Option(help="5 or 10 seconds")] = None,
    aspect_ratio: Annotated[str | None, typer.Option(help="16:9, 9:16 or 1:1 (multi)")] = None,
    cfg_scale: Annotated[float | None, typer.Option(help="0-1 (i2v)")] = None,
    watermark: Annotated[bool, typer.Option(help="also make a watermarked copy")] = False,
    seed: Annotated[int | None, typer.Option()] = None,
    external_task_id: Annotated[str | None, typer.Option()] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the video")] = 3600.0,
    server: _common.ServerOption = None,
    api_key: _common.ApiKeyOption = None,
) -> None:
    """Generate one video and write it to --output.

    With no --server, the real server runs in this process on a loopback port for this one run;
    with --server (ours, or https://cloud.vtrix.ai with a hosted key) the same SDK drives it.
    """
    fields = {
        **_images(model, image or [], image_tail),
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "mode": mode,
        "duration": duration,
        "aspect_ratio": aspect_ratio,
        "cfg_scale": cfg_scale,
        "watermark": watermark or None,
        "seed": seed,
        "external_task_id": external_task_id,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _client(server, api_key) as client:
            task = _wait_with_bar(client, client.create(model, **fields), timeout=timeout)
            client.download(task, output)
            if watermark:
                client.download(task, output.with_suffix(".watermarked.mp4"), watermarked=True)
    except KirinError as error:
        _common.fail(error)
    _common.errors.print(_summary(task), highlight=False)
    typer.echo(output.resolve())
