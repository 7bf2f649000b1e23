"""What the client commands share: where the server is, the SDK client, error printing."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from kirin_video.client import APIError, Client, KirinError
from kirin_video.config import ClientSettings, Settings

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)

ServerOption = Annotated[
    str | None, typer.Option("--server", help="server base URL \\[env: KIRIN_SERVER_URL]")
]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", help="API key or JWT \\[env: KIRIN_API_KEY]")
]


def make_client(server: str, api_key: str, *, poll_interval: float = 0.5) -> Client:
    """The SDK client the commands use (tests replace this to talk to a fake server)."""
    try:
        return Client(server, api_key, poll_interval=poll_interval)
    except ValueError as exc:
        fail_usage(str(exc).replace("base_url:", "--server:").replace("api_key:", "--api-key:"))


def remote(server: str | None, api_key: str | None) -> tuple[str, str] | None:
    """The server and key from options or ``KIRIN_SERVER_URL``/``KIRIN_API_KEY``; None if unset."""
    defaults = ClientSettings()
    server = server or defaults.server_url
    if server is None:
        return None
    key = api_key or defaults.api_key
    if not key:
        fail_usage("--api-key (or KIRIN_API_KEY) is required with a server")
    return server, key


def require_remote(server: str | None, api_key: str | None) -> tuple[str, str]:
    target = remote(server, api_key)
    if target is None:
        fail_usage("--server (or KIRIN_SERVER_URL) is required")
    return target


def call(server: str | None, api_key: str | None, action: Callable[[Client], T]) -> T:
    """Run one SDK call against the chosen server; an SDK error ends the command with code 1."""
    try:
        with make_client(*require_remote(server, api_key)) as client:
            return action(client)
    except KirinError as error:
        fail(error)


def fail(error: KirinError) -> NoReturn:
    """Print the error's code and message (and where the server said, its request id); exit 1."""
    label = f"error {error.code}:" if error.code else "error:"
    errors.print(f"[red]{label}[/red] {error.message}", highlight=False, soft_wrap=True)
    if isinstance(error, APIError):
        trace = f"HTTP {error.status_code}" + (
            f", request id {error.request_id}" if error.request_id else ""
        )
        errors.print(f"[dim]{trace}[/dim]", highlight=False)
    raise typer.Exit(1)


def fail_usage(message: str) -> NoReturn:
    errors.print(f"[red]usage:[/red] {message}", highlight=False)
    raise typer.Exit(2)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


@contextmanager
def embedded_server(settings: Settings | None = None) -> Iterator[tuple[str, str]]:
    """The real server in this process on a free loopback port, with a key for this run only."""
    import uvicorn

    from kirin_video.api.app import create_app

    settings = settings or Settings()
    key = "run_" + secrets.token_urlsafe(24)
    app = create_app(settings.model_copy(update={"api_keys": [*settings.api_keys, key]}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="kirin-embedded-server", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the embedded server did not start")
        thread.join(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join()
