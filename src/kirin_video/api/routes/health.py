"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from kirin_video.api.deps import ServicesDep
from kirin_video.contract.errors import ProviderUnavailable
from kirin_video.storage.base import StorageUnavailable
from kirin_video.surfaces.kirin.models import error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database, the storage and the broker answer",
    responses=error_responses(503),
)
async def readyz(services: ServicesDep) -> dict[str, str]:
    """200 when this node can take requests; 503 in the contract's error shape when not."""
    try:
        await run_in_threadpool(services.db.ping)
    except SQLAlchemyError as exc:
        raise ProviderUnavailable(
            f"database: must answer to serve requests; got {type(exc).__name__}"
        ) from exc
    checks = {"status": "ready", "database": "ok"}
    try:
        await run_in_threadpool(services.storage.check)
    except StorageUnavailable as exc:
        raise ProviderUnavailable(f"storage: must accept outputs; {exc}") from exc
    checks["storage"] = "ok"
    if services.queue is not None:
        try:
            await run_in_threadpool(services.queue.ping)
        except Exception as exc:  # kombu raises its own and the transport's errors
            raise ProviderUnavailable(
                f"broker: must answer to queue tasks; got {type(exc).__name__}: {exc}"
            ) from exc
        checks["broker"] = "ok"
    return checks


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """This process's counters, then the cluster's task and worker figures from the database."""
    body = generate_latest(REGISTRY) + generate_latest(services.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
