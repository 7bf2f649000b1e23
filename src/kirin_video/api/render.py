"""Render tasks for HTTP answers, with output URLs signed against the public base URL."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from kirin_video.api.services import Services
from kirin_video.tasks.tables import Task
from kirin_video.tasks.view import task_object


def public_base(request: Request, services: Services) -> str:
    """``KIRIN_PUBLIC_URL`` if set, else the address the client reached us on."""
    return services.settings.public_url or str(request.base_url)


def render_task(task: Task, *, request: Request, services: Services) -> dict[str, Any]:
    """The task object; a pending one also says where it stands in the queue."""
    base = public_base(request, services)
    body = task_object(task, sign=lambda key: services.storage.url(key, base_url=base))
    position = services.tasks.queue_position(task)
    if position is not None:
        body["metadata"]["queue_position"] = position
    return body
