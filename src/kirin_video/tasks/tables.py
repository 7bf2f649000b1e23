"""SQLAlchemy tables: tasks, their input images, and issued API keys."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    """An issued key: a salted hash of the bearer key and the secret that signs its JWTs."""

    __tablename__ = "api_keys"

    access_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(128))
    jwt_secret: Mapped[str] = mapped_column(String(128))
    webhook_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Task(Base):
    """One generation task; the single source of truth for its state."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("owner", "external_task_id", name="uq_tasks_owner_external_id"),
        Index("ix_tasks_owner_created", "owner", "created_ts"),
        Index("ix_tasks_status_created", "status", "created_ts"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)
    external_task_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_base: Mapped[str | None] = mapped_column(Text, nullable=True)  # for URLs in callbacks
    #: The API the task was created through ("kirin" or "kling"); its callbacks speak that API.
    surface: Mapped[str] = mapped_column(String(16), default="kirin", server_default="kirin")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the lease holder
    heartbeat_ts: Mapped[float | None] = mapped_column(Float, nullable=True)  # lease renewed
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Typed output files (``snapshot.OutputFile``): kind, storage key, seconds.
    outputs: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    created_ts: Mapped[float] = mapped_column(Float)
    updated_ts: Mapped[float] = mapped_column(Float)
    started_ts: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_ts: Mapped[float | None] = mapped_column(Float, nullable=True)


class TaskImage(Base):
    """An input image as the client sent it (validated bytes), kept until the task is done."""

    __tablename__ = "task_images"

    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class WebhookDelivery(Base):
    """One callback owed to a client: a status change of a task, in the outbox until sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("task_id", "seq", name="uq_webhook_deliveries_task_seq"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_ts"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the webhook-id header
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)  # order of the task's status changes
    event: Mapped[str] = mapped_column(String(16))  # the status the task moved to
    url: Mapped[str] = mapped_column(Text)
    #: The task's facts at the change (``TaskSnapshot``), rendered by its surface when sent.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_ts: Mapped[float] = mapped_column(Float)
    created_ts: Mapped[float] = mapped_column(Float)
    finished_ts: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebhookAttempt(Base):
    """One try at sending a delivery, kept so clients can see what happened."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_ts: Mapped[float] = mapped_column(Float)
    duration_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_ts: Mapped[float | None] = mapped_column(Float, nullable=True)


class Worker(Base):
    """A process (or embedded thread) that runs tasks, alive while its heartbeat is fresh."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid[:thread]
    kind: Mapped[str] = mapped_column(String(16))  # embedded or celery
    engine: Mapped[str] = mapped_column(String(32))
    device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_ts: Mapped[float] = mapped_column(Float)
    heartbeat_ts: Mapped[float] = mapped_column(Float)
