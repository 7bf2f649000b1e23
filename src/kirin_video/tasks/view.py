"""The contract's task object, rendered from a row; output URLs are signed at read time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kirin_video.contract.catalog import Status
from kirin_video.tasks.tables import Task

#: Turns a storage key into a URL the client can fetch now.
SignFn = Callable[[str], str]


def task_object(task: Task, *, sign: SignFn | None) -> dict[str, Any]:
    """The task as GET answers it: optional parts only in the statuses that have them.

    With ``sign=None`` output entries keep their storage ``key`` instead of a URL: the form
    stored in the webhook outbox, signed by ``signed_object`` when it is sent.
    """
    body: dict[str, Any] = {
        "id": task.id,
        "model": task.model,
        "status": task.status,
        "created_at": int(task.created_ts),
        "updated_at": int(task.updated_ts),
        "external_task_id": task.external_task_id,
        "metadata": dict(task.meta),
    }
    if task.status == Status.PROCESSING:
        body["progress"] = task.progress
    if task.status in (Status.FAILED, Status.CANCELLED) and task.error_code:
        message = task.error_message or ""
        # the i2v document names the text `error_message`, the multi document `message`
        body["error"] = {"code": task.error_code, "message": message, "error_message": message}
    if task.status == Status.COMPLETED:
        body["progress"] = 1.0
        output = task.output or []
        body["output"] = output if sign is None else [_signed(item, sign) for item in output]
        body["usage"] = task.usage
    return body


def _signed(item: dict[str, Any], sign: SignFn) -> dict[str, Any]:
    content = []
    for entry in item.get("content", []):
        rest = {k: v for k, v in entry.items() if k not in ("type", "key")}
        content.append({"type": entry["type"], "url": sign(entry["key"]), **rest})
    return {**item, "content": content}


def signed_object(stored: dict[str, Any], *, sign: SignFn) -> dict[str, Any]:
    """A stored task object (``sign=None`` form) with fresh URLs in place of storage keys."""
    if "output" not in stored:
        return stored
    return {**stored, "output": [_signed(item, sign) for item in stored["output"]]}
