"""`kirin serve`: the API server (with its embedded worker unless a broker is set)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

serve_app = typer.Typer()
log = logging.getLogger(__name__)


@serve_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Start the server (settings from KIRIN_* variables)."""
    import uvicorn

    from kirin_video.api.app import create_app
    from kirin_video.api.connections import derive_limits, guarded_protocol
    from kirin_video.cli._logging import setup_logging
    from kirin_video.config import Settings

    settings = Settings()
    setup_logging(settings)
    limits = derive_limits(settings)
    log.info(
        "connections: at most %d (file limit %d), request head within %g s, "
        "body silent at most %g s, kept alive idle %d s",
        limits.max_connections,
        limits.file_limit,
        limits.header_timeout_s,
        limits.body_timeout_s,
        settings.keepalive_s,
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        http=guarded_protocol(limits),
        backlog=limits.backlog,
        timeout_keep_alive=settings.keepalive_s,
        log_config=None,  # uvicorn's loggers go through the handler set up above
        access_log=False,  # the API logs each request itself, with its X-Request-Id
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )
