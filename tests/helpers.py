"""Helpers shared by the API and surface tests: the kirin routes, and the official client's decode.

The ``Vtrix*`` models read an answer as the official ``vtrix`` CLI (Go, v1.0.1) decodes it:
every field optional (absent or ``null`` leaves Go's zero value), extra keys ignored, and a field
of another JSON type failing the decode, as ``encoding/json`` fails it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy import func, select

from kirin_video.tasks.tables import Task, TaskImage
from tests.conftest import KEY_A, bearer

#: The kirin surface's create and list route, as the hosted gateway spells it.
GENERATION = "/model/v1/generation"
#: The three words a kirin poller may ever see.
STATUS_WORDS = frozenset({"in_progress", "completed", "failed"})


def task_path(ref: str, action: str = "") -> str:
    """``/model/v1/generation/task/{ref}`` or one of its actions (``cancel``, ``callbacks``)."""
    return f"{GENERATION}/task/{ref}" + (f"/{action}" if action else "")


def create(client: TestClient, body: Any, *, key: str = KEY_A) -> dict[str, Any]:
    """Create a task on the kirin surface; the test fails unless it is taken."""
    response = client.post(GENERATION, json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def poll(client: TestClient, ref: str, *, key: str = KEY_A) -> dict[str, Any]:
    response = client.get(task_path(ref), headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def poll_until_finished(
    client: TestClient, ref: str, *, key: str = KEY_A, timeout_s: float = 120
) -> list[httpx.Response]:
    """Every answer of a poller that stops at ``completed`` or ``failed``, as hosted clients do."""
    deadline = time.monotonic() + timeout_s
    answers: list[httpx.Response] = []
    while True:
        answer = client.get(task_path(ref), headers=bearer(key))
        assert answer.status_code == 200, answer.text
        answers.append(answer)
        if answer.json()["status"] in ("completed", "failed"):
            return answers
        assert time.monotonic() < deadline, f"still {answer.json()['status']}: {answer.text}"
        time.sleep(0.05)


def task_rows(client: TestClient) -> int:
    """How many tasks the node's database holds, whoever owns them."""
    db = client.app.state.services.db  # type: ignore[attr-defined]
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Task)) or 0)


def stored_task(client: TestClient, task_id: str) -> dict[str, Any]:
    """What the task service stored: the facts every surface renders from."""
    db = client.app.state.services.db  # type: ignore[attr-defined]
    with db.session() as session:
        task = session.scalars(select(Task).where(Task.id == task_id)).one()
        images = session.scalars(
            select(TaskImage).where(TaskImage.task_id == task_id).order_by(TaskImage.position)
        ).all()
        return {
            "model": task.model,
            "params": task.params,
            "seed": task.seed,
            "surface": task.surface,
            "external_task_id": task.external_task_id,
            "callback_url": task.callback_url,
            "images": [(image.role, image.data) for image in images],
        }


def kirin_error(response: httpx.Response, *, status: int, code: str) -> str:
    """A kirin-surface error: its status and code, the text under ``error`` and at the top."""
    body = response.json()
    assert (response.status_code, body["error"]["code"]) == (status, code), body
    assert set(body) == {"error", "message"} and set(body["error"]) == {"code", "message"}, body
    assert body["message"] == body["error"]["message"] and body["message"], body
    return str(body["message"])


def nulls(value: Any, where: str = "") -> list[str]:
    """The paths of every ``null`` in a JSON value: the kirin surface leaves such keys out."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{where}.{k}" if where else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{where}[{i}]")]
    return [where] if value is None else []


class _GoStruct(BaseModel):
    """A Go struct as ``encoding/json`` fills it: strict JSON types, null or absent = zero."""

    model_config = ConfigDict(strict=True, extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _null_is_zero(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class VtrixContent(_GoStruct):
    type: str = ""
    url: str = ""
    duration: str = ""
    id: str = ""
    img_id: int = 0


class VtrixOutput(_GoStruct):
    content: list[VtrixContent] = []


class VtrixTaskError(_GoStruct):
    message: str = ""
    error_message: str = ""


class VtrixUsage(_GoStruct):
    cost: str = ""
    quantity: int = 0
    unit_price: str = ""


class VtrixTask(_GoStruct):
    """``TaskStatus``: what the CLI decodes the create answer and every poll into."""

    id: str = ""
    status: str = ""
    model: str = ""
    created_at: int = 0
    progress: float = 0.0
    output: list[VtrixOutput] = []
    error: str | VtrixTaskError = ""
    usage: VtrixUsage = VtrixUsage()


class VtrixHttpError(_GoStruct):
    """What the CLI tries first on an HTTP error; where it fails, it prints the raw body."""

    message: str = ""
    error: str = ""


def vtrix_task(response: httpx.Response) -> VtrixTask:
    """The answer decoded as the CLI decodes it (raises ``ValidationError`` where the CLI fails)."""
    return VtrixTask.model_validate_json(response.content)


def vtrix_error_text(response: httpx.Response) -> str:
    """What the CLI prints after ``HTTP <status>:``: ``message``, a string ``error``, or all."""
    try:
        decoded = VtrixHttpError.model_validate_json(response.content)
    except ValidationError:
        return response.text
    return decoded.message or decoded.error or response.text
