"""What the sync and async clients share: request bodies, answer parsing and polling rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from kirin_video.client._exceptions import TRANSPORT_ERROR, WAIT_TIMEOUT, KirinAPIError
from kirin_video.client._images import encode_image
from kirin_video.client._models import Page, Task

GENERATION = "/v1/generation"


def create_body(model: str, **fields: Any) -> dict[str, Any]:
    """The create request: images encoded, ``None`` left out, duration as a string."""
    images = {name: fields.pop(name) for name in ("image", "image_tail") if name in fields}
    image_list = fields.pop("image_list", None)
    watermark = fields.pop("watermark", None)
    body: dict[str, Any] = {"model": model}
    body.update({name: encode_image(v) for name, v in images.items() if v is not None})
    if image_list is not None:
        body["image_list"] = [{"image": encode_image(v)} for v in image_list]
    if watermark is not None:
        body["watermark_info"] = {"enabled": bool(watermark)}
    if fields.get("duration") is not None:
        fields["duration"] = str(fields["duration"])
    body.update({name: v for name, v in fields.items() if v is not None})
    return body


def list_params(**filters: Any) -> dict[str, Any]:
    return {name: value for name, value in filters.items() if value is not None}


def task_id(task: Task | str) -> str:
    return task.id if isinstance(task, Task) else task


def callbacks_path(task: Task | str) -> str:
    return f"{GENERATION}/{task_id(task)}/callbacks"


def parse(response: httpx.Response) -> Any:
    """The JSON answer, or a ``KirinAPIError`` with the server's code and message."""
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        code, message = (
            str(response.status_code),
            f"HTTP {response.status_code}: {response.text[:200]}",
        )
    raise KirinAPIError(code, message, status_code=response.status_code)


def transport_error(exc: httpx.TransportError) -> KirinAPIError:
    return KirinAPIError(TRANSPORT_ERROR, f"could not reach the server: {exc!r}")


def parse_page(body: dict[str, Any]) -> Page:
    return Page([Task.from_json(item) for item in body.get("data", [])], body.get("next_cursor"))


def finished_or_raise(task: Task) -> bool:
    """True once completed; a failed or cancelled task raises with its own code."""
    if task.status == "completed":
        return True
    if task.is_finished:
        error = task.error or {}
        raise KirinAPIError(
            str(error.get("code", "")), str(error.get("message", f"task {task.status}"))
        )
    return False


def delays(initial: float, *, factor: float = 1.5, cap: float = 5.0) -> Iterator[float]:
    """Polling backoff: start quickly, slow down to ``cap``."""
    delay = initial
    while True:
        yield delay
        delay = min(cap, delay * factor)


def wait_timeout(task: Task, timeout: float) -> KirinAPIError:
    return KirinAPIError(WAIT_TIMEOUT, f"task {task.id} still {task.status} after {timeout:g}s")


def file_request(
    http: httpx.Client | httpx.AsyncClient, task: Task, *, watermarked: bool
) -> httpx.Request:
    """A GET of the output URL without the API key: signed URLs need none, CDNs must see none."""
    request = http.build_request("GET", output_url(task, watermarked=watermarked))
    request.headers.pop("Authorization", None)
    return request


def output_url(task: Task, *, watermarked: bool) -> str:
    url = task.watermarked_url if watermarked else task.video_url
    if url is None:
        kind = "a watermarked video" if watermarked else "a video"
        raise KirinAPIError(
            "no_output", f"task {task.id} ({task.status}) has no {kind} to download"
        )
    return url
