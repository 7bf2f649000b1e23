"""The Kirin wire, I/O-free: routes, the create envelope, answers decoded, errors classified.

What the sync and async clients share; they add only the sending. The hosted gateway and this
project's server speak the same wire, so nothing here depends on which one is on the other end.
"""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from kirin_video.client import _exceptions as e
from kirin_video.client._images import encode_image
from kirin_video.client._models import Page, Task, TaskError

GENERATION = "/model/v1/generation"
MODELS = "/v1/models"
REQUEST_ID = "X-Request-Id"


def root_url(base_url: str) -> str:
    """The service root: ``https://cloud.vtrix.ai`` and ``https://cloud.vtrix.ai/model/`` alike."""
    root = base_url.rstrip("/")
    return root.removesuffix("/model") if root.endswith("/model") else root


def task_path(task: Task | str, action: str = "") -> str:
    """``…/task/{id}[/action]``; the id (or external_task_id) escaped whole, slashes included."""
    task_id = task.id if isinstance(task, Task) else task
    if not task_id:
        raise ValueError("task: must be a task id or an external_task_id; got an empty string")
    return f"{GENERATION}/task/{quote(task_id, safe='')}" + (f"/{action}" if action else "")


def create_body(model: str, **fields: Any) -> dict[str, Any]:
    """The hosted envelope ``{"model", "input": [{"params"}]}``: images encoded, None left out."""
    return {"model": model, "input": [{"params": params(**fields)}]}


def params(**fields: Any) -> dict[str, Any]:
    """The parameters as the wire spells them (``duration`` a string, ``watermark_info``)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in ("image", "image_tail"):
            out[name] = encode_image(value)
        elif name == "image_list":
            out[name] = [{"image": encode_image(item)} for item in value]
        elif name == "watermark":
            out["watermark_info"] = {"enabled": bool(value)}
        elif name == "duration":
            out[name] = str(value)
        else:
            out[name] = value
    return out


def list_params(**filters: Any) -> dict[str, Any]:
    return {name: value for name, value in filters.items() if value is not None}


def new_request_id() -> str:
    return uuid.uuid4().hex


def decode(response: httpx.Response, *, not_found: type[e.NotFound] | None = None) -> Any:
    """The JSON of a 2xx answer; any other raises the ``APIError`` subclass it stands for."""
    if response.is_success:
        try:
            return response.json()
        except ValueError as exc:
            raise e.ServerError(
                f"the server answered {response.status_code} with a body that is not JSON: "
                f"{response.text[:200]!r}",
                status_code=response.status_code,
                request_id=_request_id(response, {}),
            ) from exc
    raise api_error(response, not_found=not_found)


def api_error(response: httpx.Response, *, not_found: type[e.NotFound] | None = None) -> e.APIError:
    """The exception for an error answer, whatever shape its body has."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    code, message = _code_and_message(body)
    message = (
        message or f"HTTP {response.status_code}: {response.text[:200] or response.reason_phrase}"
    )
    kind = e.error_class(response.status_code, code, not_found=not_found)
    common: dict[str, Any] = {
        "status_code": response.status_code,
        "code": code,
        "request_id": _request_id(response, body),
    }
    if issubclass(kind, e.RateLimited):
        return kind(message, retry_after=retry_after(response.headers.get("Retry-After")), **common)
    return kind(message, **common)


def _code_and_message(body: dict[str, Any]) -> tuple[str | None, str]:
    """Ours and the hosted shapes: ``error`` an object or a string, or a ``status`` envelope."""
    error = body.get("error")
    envelope = body.get("status")
    status: dict[str, Any] = envelope if isinstance(envelope, dict) else {}
    code: object = None
    text: object = None
    if isinstance(error, dict):
        code = error.get("code")
        text = error.get("message") or error.get("error_message")
    elif isinstance(error, str):
        text = error
    code = code if code is not None else status.get("error_code")
    text = text or body.get("message") or status.get("message") or body.get("detail")
    return (None if code is None else str(code)), ("" if text is None else str(text))


def _request_id(response: httpx.Response, body: dict[str, Any]) -> str | None:
    """The server's id for the request (echoed or its own), else the one we sent."""
    request = _request_of(response)
    sent = request.headers.get(REQUEST_ID) if request is not None else None
    found = response.headers.get(REQUEST_ID) or body.get("request_id") or sent
    return None if found is None else str(found)


def _request_of(source: httpx.Response | httpx.TransportError) -> httpx.Request | None:
    try:
        return source.request
    except RuntimeError:  # built by hand, without a request
        return None


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def task_body(body: Any) -> dict[str, Any]:
    """The task object, also out of a ``{"data": {…}, "status": {…}}`` envelope."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "id" not in body:
        body = body["data"]
    if not isinstance(body, dict):
        raise e.KirinError(f"expected a task object from the server; got {body!r:.200}")
    if not body.get("id") and body.get("error"):
        # the hosted gateway may refuse a create with HTTP 200 and an error in place of a task
        error = TaskError.from_json(body["error"]) or TaskError(None, "")
        raise e.APIError(error.message or "refused", status_code=200, code=error.code)
    return body


def parse_task(body: Any) -> Task:
    return Task.from_json(task_body(body))


def parse_page(body: Any) -> Page:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise e.KirinError(f"expected {{'data': [task…], 'next_cursor'}}; got {body!r:.200}")
    return Page([parse_task(item) for item in data], body.get("next_cursor") or None)


def parse_list(body: Any, what: str) -> list[dict[str, Any]]:
    """``{"data": [...]}`` answers (models, callbacks)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise e.KirinError(f"expected {{'data': [{what}…]}}; got {body!r:.200}")
    return data


def transport_error(exc: httpx.TransportError) -> e.TransportError:
    request = _request_of(exc)
    where = request.url if request is not None else "the server"
    return e.TransportError(f"no answer from {where}: {type(exc).__name__}: {exc}")


def unsupported(error: e.NotFound, what: str, route: str) -> e.NotSupported:
    """A 404 on a route every Kirin server of ours has: the server at the other end lacks it."""
    return e.NotSupported(
        f"this server does not {what} (GET {route} answered 404: {error.message})",
        status_code=error.status_code,
        code=error.code,
        request_id=error.request_id,
    )


class Waiter:
    """The rules of ``wait``, apart from the polling itself: when to stop, how long to sleep."""

    def __init__(
        self, task: Task | str, *, timeout: float, interval: float, raise_on_failure: bool
    ) -> None:
        self.timeout = timeout
        self.raise_on_failure = raise_on_failure
        self._deadline = time.monotonic() + timeout
        self._delays = delays(interval)
        self._last = task if isinstance(task, Task) else None

    @property
    def deadline(self) -> float:
        """When ``wait`` gives up, on the ``time.monotonic`` clock."""
        return self._deadline

    def settled(self, task: Task) -> bool:
        """Whether ``task`` is done; raises ``TaskFailed`` for a failed one if told to."""
        self._last = task
        if task.status == "failed" and self.raise_on_failure:
            raise e.TaskCancelled(task) if task.cancelled else e.TaskFailed(task)
        return task.done

    def after(self, task: Task) -> float | None:
        """Seconds to sleep before the next poll; None when ``task`` is done (or raise)."""
        if self.settled(task):
            return None
        return self._pause(next(self._delays))

    def after_error(self, error: e.KirinError) -> float:
        """Seconds to sleep after a poll that failed in passing (429, 5xx, no answer); or raise."""
        pause = retry_delay(error, next(self._delays))
        if pause is None or (self._last is None and self._past_deadline(pause)):
            raise error
        return self._pause(pause)

    def _pause(self, seconds: float) -> float:
        if self._past_deadline(seconds):
            assert self._last is not None
            raise e.Timeout(self._last, self.timeout)
        return seconds

    def _past_deadline(self, seconds: float) -> bool:
        return time.monotonic() + seconds > self._deadline


def retry_delay(error: e.KirinError, delay: float) -> float | None:
    """How long ``wait`` sleeps after a passing failure of one poll; None: not passing, raise."""
    if isinstance(error, e.RateLimited):
        return max(delay, error.retry_after or 0.0)
    if isinstance(error, e.ServerError | e.TransportError):
        return delay
    return None


def delays(initial: float, *, factor: float = 1.5, cap: float = 5.0) -> Iterator[float]:
    """Polling backoff: start quickly, slow down to ``cap``."""
    delay = initial
    while True:
        yield delay
        delay = min(cap, delay * factor)


def file_request(
    http: httpx.Client | httpx.AsyncClient, task: Task, *, watermarked: bool
) -> httpx.Request:
    """A GET of the output URL without the API key: signed URLs need none, CDNs must see none."""
    request = http.build_request("GET", output_url(task, watermarked=watermarked))
    request.headers.pop("Authorization", None)
    return request


def output_url(task: Task, *, watermarked: bool) -> str:
    url = task.watermarked_video_url if watermarked else task.video_url
    if url is None:
        kind = "watermarked video" if watermarked else "video"
        raise e.NoOutput(f"task {task.id} ({task.status}) has no {kind} to download")
    return url
