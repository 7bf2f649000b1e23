"""Tasks as the SDK returns them, decoded leniently: the hosted service varies where we do not.

What is tolerated, because the hosted gateway or its documentation shows it: ``error`` as a
string or an object (text under ``message`` or ``error_message``, ``code`` a string or an
integer); ``duration`` as a string or a number; ``usage`` with ``cost``/``discount`` or
``cost``/``quantity``/``unit_price``; ``output`` items nested under ``content`` or flat; the
status words ``success``/``done`` (completed) and ``cancelled``/``error`` (failed); extra keys
anywhere. The answer as sent is kept in ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from kirin_video.client._codes import ErrorCode

Status: TypeAlias = Literal["in_progress", "completed", "failed"]

#: Status words seen on the hosted service and its siblings, and what each means.
_STATUS_WORDS: dict[str, Status] = {
    "completed": "completed",
    "success": "completed",
    "succeeded": "completed",
    "done": "completed",
    "failed": "failed",
    "error": "failed",
    "cancelled": "failed",
    "canceled": "failed",
}


def status_of(word: object) -> Status:
    """The contract's status for any word a server sends: what is not finished is in progress."""
    return _STATUS_WORDS.get(str(word).lower(), "in_progress")


@dataclass(frozen=True)
class TaskError:
    """Why a task failed: the contract code (None if the server sent none) and the text."""

    code: str | None
    message: str

    @classmethod
    def from_json(cls, value: object) -> TaskError | None:
        if value is None or value == "" or value == {}:
            return None
        if not isinstance(value, dict):
            return cls(code=None, message=str(value))
        code = value.get("code")
        text = value.get("error_message") or value.get("message") or ""
        return cls(code=None if code is None else str(code), message=str(text))


@dataclass(frozen=True)
class Content:
    """One output file: a video (``watermarked`` or not) or an ``image`` (the cover)."""

    type: str
    url: str
    duration: str | None = None
    job_id: str | None = None
    watermarked: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Content:
        job_id = item.get("jobId", item.get("id"))
        return cls(
            type=str(item.get("type", "")),
            url=str(item.get("url", "")),
            duration=_seconds(item.get("duration")),
            job_id=None if job_id is None else str(job_id),
            watermarked=bool(item.get("watermarked")),
            raw=item,
        )


@dataclass(frozen=True)
class Usage:
    """What the task cost: ``cost`` as the decimal string sent (USD), and what came with it."""

    cost: str | None = None
    discount: float | None = None
    quantity: int | None = None
    unit_price: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, value: object) -> Usage | None:
        if not isinstance(value, dict) or not value:
            return None
        discount, quantity = value.get("discount"), value.get("quantity")
        return cls(
            cost=_text(value.get("cost")),
            discount=float(discount) if isinstance(discount, int | float) else None,
            quantity=int(quantity) if isinstance(quantity, int | float) else None,
            unit_price=_text(value.get("unit_price")),
            raw=value,
        )


@dataclass(frozen=True)
class Task:
    """A task: ``in_progress`` (queued or running), then ``completed`` or ``failed``."""

    id: str
    status: Status
    model: str | None = None
    created_at: int | None = None
    """Unix milliseconds, as sent; ``created`` is the same as a datetime."""
    updated_at: int | None = None
    external_task_id: str | None = None
    progress: float | None = None
    """0–1 while running; None while queued or when the server does not say."""
    error: TaskError | None = None
    content: tuple[Content, ...] = ()
    usage: Usage | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Task:
        progress = body.get("progress")
        metadata = body.get("metadata")
        return cls(
            id=str(body.get("id") or body.get("task_id") or ""),
            status=status_of(body.get("status", "")),
            model=_text(body.get("model")),
            created_at=_millis(body.get("created_at")),
            updated_at=_millis(body.get("updated_at")),
            external_task_id=_text(body.get("external_task_id")),
            progress=float(progress) if isinstance(progress, int | float) else None,
            error=TaskError.from_json(body.get("error")),
            content=tuple(Content.from_json(item) for item in _content_items(body.get("output"))),
            usage=Usage.from_json(body.get("usage")),
            metadata=metadata if isinstance(metadata, dict) else {},
            raw=body,
        )

    @property
    def done(self) -> bool:
        """Finished either way: ``completed`` or ``failed`` (cancelled included)."""
        return self.status != "in_progress"

    @property
    def cancelled(self) -> bool:
        return (
            self.status == "failed"
            and self.error is not None
            and (self.error.code == ErrorCode.TASK_CANCELLED)
        )

    @property
    def queue_position(self) -> int | None:
        """1 runs next; None once running (or when the server does not say)."""
        position = self.metadata.get("queue_position")
        return position if isinstance(position, int) and self.status == "in_progress" else None

    @property
    def created(self) -> datetime | None:
        return _datetime(self.created_at)

    @property
    def updated(self) -> datetime | None:
        return _datetime(self.updated_at)

    def _url(self, *, kind: str, watermarked: bool) -> str | None:
        for item in self.content:
            if item.type == kind and item.watermarked == watermarked and item.url:
                return item.url
        return None

    @property
    def video_url(self) -> str | None:
        return self._url(kind="video", watermarked=False)

    @property
    def watermarked_video_url(self) -> str | None:
        return self._url(kind="video", watermarked=True)

    @property
    def cover_url(self) -> str | None:
        return self._url(kind="image", watermarked=False)


@dataclass(frozen=True)
class Page:
    """One page of ``list``; pass ``next_cursor`` back for the next (None: the last page)."""

    data: list[Task]
    next_cursor: str | None


def _content_items(output: object) -> list[dict[str, Any]]:
    """``output[].content[]`` items; a flat ``output[]`` of items counts as one group."""
    items: list[dict[str, Any]] = []
    for group in output if isinstance(output, list) else []:
        if not isinstance(group, dict):
            continue
        inner = group.get("content")
        if isinstance(inner, list):
            items.extend(item for item in inner if isinstance(item, dict))
        elif "url" in group:
            items.append(group)
    return items


def _seconds(value: object) -> str | None:
    """A duration as the contract writes it, whole seconds as a string: 5, 5.0 and "5" → "5"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return str(value)


def _millis(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _datetime(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC)
