"""Tasks and pages as the SDK returns them; unknown fields are kept in ``raw``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINISHED = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class Task:
    """A task object; parses this server's answers and the hosted service's alike."""

    id: str
    status: str
    model: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    external_task_id: str | None = None
    progress: float | None = None
    error: dict[str, Any] | None = None
    output: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Task:
        return cls(
            id=str(body.get("id", "")),
            status=str(body.get("status", "")),
            model=body.get("model"),
            created_at=body.get("created_at"),
            updated_at=body.get("updated_at"),
            external_task_id=body.get("external_task_id"),
            progress=body.get("progress"),
            error=body.get("error"),
            output=body.get("output"),
            usage=body.get("usage"),
            metadata=body.get("metadata") or {},
            raw=body,
        )

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def _content(self) -> list[dict[str, Any]]:
        return [item for out in self.output or [] for item in out.get("content", [])]

    def _url(self, *, kind: str, watermarked: bool) -> str | None:
        for item in self._content():
            if item.get("type") == kind and bool(item.get("watermarked")) == watermarked:
                return item.get("url")
        return None

    @property
    def video_url(self) -> str | None:
        return self._url(kind="video", watermarked=False)

    @property
    def watermarked_url(self) -> str | None:
        return self._url(kind="video", watermarked=True)

    @property
    def cover_url(self) -> str | None:
        return self._url(kind="image", watermarked=False)


@dataclass(frozen=True)
class Page:
    """One page of ``list``; pass ``next_cursor`` back for the next."""

    data: list[Task]
    next_cursor: str | None
