"""The per-key cap on unfinished tasks: one key's backlog cannot fill a node's queue."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import RateLimited
from kirin_video.tasks.db import Database
from kirin_video.tasks.tables import Task

_RETRY_S = 10.0  # a task takes at least this long; sooner is pointless
_LOCK = 0x6B76  # advisory lock scope of the per-key cap ("kv")


def hold_room(db: Database, session: Session, owner: str, cap: int) -> None:
    """Refuse a create past ``cap``, even with the key's creates in parallel.

    The key's creates take turns from the count to the commit, so two cannot both see room.
    """
    db.serialise(session, scope=_LOCK, key=owner)
    refuse_if_full(session, owner, cap)


def refuse_if_full(session: Session, owner: str, cap: int) -> None:
    """Raise ``RateLimited`` while ``owner`` has ``cap`` tasks pending or processing."""
    unfinished = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.owner == owner, Task.status.in_([Status.PENDING, Status.PROCESSING]))
    )
    if unfinished is not None and unfinished >= cap:
        raise RateLimited(
            f"tasks: at most {cap} pending or processing tasks per API key; "
            f"got {unfinished} already, retry when some finish",
            retry_after_s=_RETRY_S,
            concurrent=True,
        )
