"""neutral facts: typed outputs on tasks, task snapshots in the webhook outbox

Rows used to hold wire shapes: ``tasks.output`` the Kirin ``output`` list, and each delivery's
``payload`` the task object of its surface with storage keys for URLs. Now ``tasks.outputs``
holds typed files (kind, key, seconds) and a payload the surface-neutral task snapshot, which
the dispatcher renders through the task's surface when it sends. Nothing is dropped: every key,
duration, error and time in the old forms has its place in the new ones.

Columns are dropped with a plain ``ALTER TABLE … DROP COLUMN`` (SQLite 3.35 and later), not a
batch copy: copying ``tasks`` drops the old table, and with foreign keys on SQLite then deletes
every row that references it (images, deliveries, attempts) through ``ON DELETE CASCADE``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_tasks = sa.table(
    "tasks",
    sa.column("id", sa.String),
    sa.column("model", sa.String),
    sa.column("surface", sa.String),
    sa.column("error_code", sa.String),
    sa.column("usage", sa.JSON),
    sa.column("metadata", sa.JSON),
    sa.column("output", sa.JSON),
    sa.column("outputs", sa.JSON),
)
_deliveries = sa.table(
    "webhook_deliveries",
    sa.column("id", sa.String),
    sa.column("task_id", sa.String),
    sa.column("event", sa.String),
    sa.column("payload", sa.JSON),
)

#: Kling's ``task_status`` words back to the stored status they were rendered from.
_KLING_STATUS = {"submitted": "pending", "processing": "processing", "succeed": "completed"}
#: The stored status as the old Kling object named it.
_KLING_WORD = {
    **{v: k for k, v in _KLING_STATUS.items()},
    "failed": "failed",
    "cancelled": "failed",
}


def upgrade() -> None:
    op.add_column("tasks", sa.Column("outputs", sa.JSON(), nullable=True))
    bind = op.get_bind()
    for task_id, output in bind.execute(sa.select(_tasks.c.id, _tasks.c.output)).all():
        if output:
            bind.execute(
                _tasks.update().where(_tasks.c.id == task_id).values(outputs=files_of(output))
            )
    op.drop_column("tasks", "output")
    facts = {
        row.id: row
        for row in bind.execute(
            sa.select(
                _tasks.c.id, _tasks.c.model, _tasks.c.error_code, _tasks.c.usage, _tasks.c.metadata
            )
        ).all()
    }
    rows = bind.execute(
        sa.select(
            _deliveries.c.id, _deliveries.c.task_id, _deliveries.c.event, _deliveries.c.payload
        )
    ).all()
    for row in rows:
        task = facts.get(row.task_id)
        snapshot = snapshot_of(row.payload, event=row.event, task=task._asdict() if task else {})
        bind.execute(
            _deliveries.update().where(_deliveries.c.id == row.id).values(payload=snapshot)
        )


def downgrade() -> None:
    """Back to the wire shapes: Kirin output lists; payloads the task object of its surface."""
    op.add_column("tasks", sa.Column("output", sa.JSON(), nullable=True))
    bind = op.get_bind()
    for task_id, outputs in bind.execute(sa.select(_tasks.c.id, _tasks.c.outputs)).all():
        if outputs:
            bind.execute(
                _tasks.update()
                .where(_tasks.c.id == task_id)
                .values(output=[{"content": _content_of(outputs), "jobId": task_id}])
            )
    op.drop_column("tasks", "outputs")
    surfaces = dict(bind.execute(sa.select(_tasks.c.id, _tasks.c.surface)).all())
    for delivery_id, task_id, payload in bind.execute(
        sa.select(_deliveries.c.id, _deliveries.c.task_id, _deliveries.c.payload)
    ).all():
        old = _kling_object(payload) if surfaces.get(task_id) == "kling" else _kirin_object(payload)
        bind.execute(
            _deliveries.update().where(_deliveries.c.id == delivery_id).values(payload=old)
        )


def files_of(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The old Kirin ``output`` list (items with storage keys) as typed output files."""
    files: list[dict[str, Any]] = []
    for item in output:
        for entry in item.get("content", []):
            if entry.get("type") == "image":
                files.append({"kind": "cover", "key": entry["key"], "seconds": None})
                continue
            kind = "video_watermarked" if entry.get("watermarked") else "video"
            seconds = round(float(entry["duration"])) if entry.get("duration") is not None else None
            files.append({"kind": kind, "key": entry["key"], "seconds": seconds})
    return files


def snapshot_of(payload: dict[str, Any], *, event: str, task: dict[str, Any]) -> dict[str, Any]:
    """An old stored payload (Kirin object or Kling object, keys unsigned) as a task snapshot."""
    if "task_id" in payload:
        return _from_kling(payload, event=event, task=task)
    created_s = float(payload.get("created_at", 0))
    error = payload.get("error") or {}
    return {
        "id": payload["id"],
        "model": payload.get("model") or task.get("model", ""),
        "status": payload.get("status", event),
        "created_ts": created_s,
        "updated_ts": float(payload.get("updated_at", created_s)),
        "external_task_id": payload.get("external_task_id"),
        "progress": float(payload.get("progress") or 0.0),
        "error_code": error.get("code"),
        "error_message": error.get("message") or error.get("error_message"),
        "outputs": files_of(payload.get("output") or []),
        "usage": payload.get("usage"),
        "meta": payload.get("metadata") or {},
        "queue_position": None,
    }


def _from_kling(payload: dict[str, Any], *, event: str, task: dict[str, Any]) -> dict[str, Any]:
    """A Kling object lacks model, usage and metadata: those come from the task's row."""
    status = event if payload.get("task_status") == "failed" else None
    status = status or _KLING_STATUS.get(payload.get("task_status", ""), event)
    files: list[dict[str, Any]] = []
    for video in payload.get("task_result", {}).get("videos", []):
        seconds = round(float(video["duration"])) if video.get("duration") else None
        files.append({"kind": "video", "key": video["key"], "seconds": seconds})
        if video.get("watermark_key"):
            files.append(
                {"kind": "video_watermarked", "key": video["watermark_key"], "seconds": seconds}
            )
    failed = status in ("failed", "cancelled")
    default_code = "8002005097" if status == "cancelled" else "8002005098"
    return {
        "id": payload["task_id"],
        "model": task.get("model", ""),
        "status": status,
        "created_ts": payload.get("created_at", 0) / 1000,
        "updated_ts": payload.get("updated_at", payload.get("created_at", 0)) / 1000,
        "external_task_id": payload.get("task_info", {}).get("external_task_id"),
        "progress": 1.0 if status == "completed" else 0.0,
        "error_code": (task.get("error_code") or default_code) if failed else None,
        "error_message": payload.get("task_status_msg") or None,
        "outputs": files,
        "usage": task.get("usage") if status == "completed" else None,
        "meta": task.get("metadata") or {},
        "queue_position": None,
    }


def _content_of(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for item in outputs:
        if item["kind"] == "cover":
            content.append({"type": "image", "key": item["key"]})
            continue
        entry: dict[str, Any] = {"type": "video", "key": item["key"], "duration": item["seconds"]}
        if item["kind"] == "video_watermarked":
            entry["watermarked"] = True
        content.append(entry)
    return content


def _kirin_object(snapshot: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": snapshot["id"],
        "model": snapshot["model"],
        "status": snapshot["status"],
        "created_at": int(snapshot["created_ts"]),
        "updated_at": int(snapshot["updated_ts"]),
        "external_task_id": snapshot.get("external_task_id"),
        "metadata": snapshot.get("meta") or {},
    }
    if snapshot["status"] == "processing":
        body["progress"] = snapshot.get("progress", 0.0)
    if snapshot.get("error_code"):
        message = snapshot.get("error_message") or ""
        body["error"] = {
            "code": snapshot["error_code"],
            "message": message,
            "error_message": message,
        }
    if snapshot["status"] == "completed":
        body["progress"] = 1.0
        body["output"] = [{"content": _content_of(snapshot["outputs"]), "jobId": snapshot["id"]}]
        body["usage"] = snapshot.get("usage")
    return body


def _kling_object(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The old stored Kling object: Kling's status words, milliseconds, storage keys."""
    completed = snapshot["status"] == "completed"
    external = snapshot.get("external_task_id")
    return {
        "task_id": snapshot["id"],
        "task_status": _KLING_WORD[snapshot["status"]],
        "task_status_msg": "" if completed else snapshot.get("error_message") or "",
        "task_info": {"external_task_id": external} if external else {},
        "created_at": int(snapshot["created_ts"] * 1000),
        "updated_at": int(snapshot["updated_ts"] * 1000),
        "task_result": {"videos": _kling_videos(snapshot)} if completed else {},
    }


def _kling_videos(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per plain video; the watermarked copy of the same index is its watermark_key."""
    plain = [f for f in snapshot["outputs"] if f["kind"] == "video"]
    marked = [f for f in snapshot["outputs"] if f["kind"] == "video_watermarked"]
    videos: list[dict[str, Any]] = []
    for index, video in enumerate(plain):
        entry = {
            "id": f"{snapshot['id']}-{index}",
            "key": video["key"],
            "duration": str(float(video["seconds"] or 0)),
        }
        if index < len(marked):
            entry["watermark_key"] = marked[index]["key"]
        videos.append(entry)
    return videos
