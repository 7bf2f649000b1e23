"""`kirin serve`: the API server with its embedded worker."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

serve_app = typer.Typer()


@serve_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Start the server (settings from KIRIN_* variables)."""
    import uvicorn

    from kirin_video.api.app import create_app
    from kirin_video.config import Settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    uvicorn.run(create_app(Settings()), host=host, port=port)
