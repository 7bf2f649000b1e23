"""`kirin keys`: issue, list and revoke API keys, and rotate their webhook secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from kirin_video.tasks.db import Database

keys_app = typer.Typer(
    help="Issue, list and revoke API keys, rotate webhook secrets (on the server's database)."
)
console = Console()


def _database() -> Database:
    from kirin_video.config import Settings
    from kirin_video.tasks.db import Database

    db = Database.from_settings(Settings())
    db.migrate()
    return db


def _when(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@keys_app.command("create")
def create(name: Annotated[str, typer.Option(help="a label for the key")] = "") -> None:
    """Issue a key; its secrets are printed once and never again."""
    from kirin_video.tasks import keys

    issued = keys.issue_key(_database(), name=name)
    typer.echo(f"api key:        {issued.api_key}")
    typer.echo(f"access id:      {issued.access_id}")
    typer.echo(f"jwt secret:     {issued.secret}")
    typer.echo(f"webhook secret: {issued.webhook_secret}")
    console.print("[yellow]Store the key and secrets now: they are not shown again.[/yellow]")


@keys_app.command("list")
def list_keys() -> None:
    """Show issued keys (never their secrets)."""
    from kirin_video.tasks import keys

    table = Table("access id", "name", "created", "revoked")
    for info in keys.list_keys(_database()):
        table.add_row(info.access_id, info.name, _when(info.created_at), _when(info.revoked_at))
    console.print(table)


@keys_app.command("revoke")
def revoke(access_id: str) -> None:
    """Revoke a key and the JWTs signed with its secret, at once."""
    from kirin_video.tasks import keys

    if not keys.revoke_key(_database(), access_id):
        Console(stderr=True).print(f"[red]error:[/red] no key with access id {access_id!r}")
        raise typer.Exit(1)
    console.print(f"revoked {access_id}")


@keys_app.command("rotate-webhook-secret")
def rotate_webhook_secret(access_id: str) -> None:
    """Give a key a new webhook secret; callbacks sent from now on are signed with it."""
    from kirin_video.tasks import keys

    secret = keys.rotate_webhook_secret(_database(), access_id)
    if secret is None:
        Console(stderr=True).print(
            f"[red]error:[/red] no active key with access id {access_id!r}", highlight=False
        )
        raise typer.Exit(1)
    typer.echo(f"webhook secret: {secret}")
    console.print("[yellow]Store the secret now: it is not shown again.[/yellow]")
