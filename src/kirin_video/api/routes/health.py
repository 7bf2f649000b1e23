"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from kirin_video.api.deps import ServicesDep
from kirin_video.contract.errors import ProviderUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers")
async def readyz(services: ServicesDep) -> dict[str, str]:
    """200 when this node can take requests; 503 in the contract's error shape when not."""
    try:
        await run_in_threadpool(services.db.ping)
    except SQLAlchemyError as exc:
        raise ProviderUnavailable(
            f"database: must answer to serve requests; got {type(exc).__name__}"
        ) from exc
    return {"status": "ready", "database": "ok"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    """Counters in Prometheus' text format (callback deliveries by result, …)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
