"""`kirin worker`: a GPU worker that takes tasks from the broker (KIRIN_BROKER_URL)."""

from __future__ import annotations

from typing import Annotated

import typer

worker_app = typer.Typer()


@worker_app.command("worker")
def worker(
    device: Annotated[
        str | None, typer.Option(help="cuda, cuda:N or cpu \\[env: KIRIN_DEVICE]")
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="tasks at once; one per GPU is right for the real model")
    ] = 1,
) -> None:
    """Run tasks queued by API nodes, with the engine loaded once and kept warm."""
    from kirin_video.cli._logging import setup_logging
    from kirin_video.config import Settings

    settings = Settings()
    if device:
        settings = settings.model_copy(update={"device": device})
    if not settings.broker_url:
        raise typer.BadParameter(
            "KIRIN_BROKER_URL must name the broker the API nodes use, e.g. redis://host:6379/0",
            param_hint="KIRIN_BROKER_URL",
        )
    try:
        from kirin_video.runtime.celery_worker import run_worker
    except ImportError as exc:
        raise typer.BadParameter(
            "workers need Celery: pip install 'kirin-video[cluster]'",
            param_hint="KIRIN_BROKER_URL",
        ) from exc
    setup_logging(settings)
    run_worker(settings, concurrency=concurrency)
