"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from kirin_video.api.deps import ServicesDep
from kirin_video.contract.errors import ProviderUnavailable
from kirin_video.contract.incidents import Incident
from kirin_video.storage.base import StorageUnavailable
from kirin_video.surfaces.kirin.models import error_responses

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database, the storage, the broker and the engine answer",
    responses=error_responses(503),
)
async def readyz(services: ServicesDep) -> dict[str, str]:
    """200 when this node can take requests; 503 naming the component that is not ready.

    Unauthenticated, so it tells which component and no more: the reason (paths, errno, the
    library's words) goes to the log under the incident id it answers.
    """
    checks = {"status": "ready"}
    try:
        await run_in_threadpool(services.db.ping)
    except SQLAlchemyError as exc:
        raise _not_ready("database", "must answer to serve requests; it does not", exc) from exc
    checks["database"] = "ok"
    try:
        await run_in_threadpool(services.storage.check)
    except StorageUnavailable as exc:
        raise _not_ready("storage", "must accept outputs; it does not", exc) from exc
    checks["storage"] = "ok"
    if services.queue is not None:
        try:
            await run_in_threadpool(services.queue.ping)
        except Exception as exc:  # kombu raises its own and the transport's errors
            raise _not_ready("broker", "must answer to queue tasks; it does not", exc) from exc
        checks["broker"] = "ok"
    if services.worker is not None and services.settings.workers:
        problem = services.runtime.engine_status.problem
        if problem is not None:  # its reason was logged under this incident already
            raise ProviderUnavailable(
                f"engine: must load to run tasks; it did not (incident {problem.incident.id})"
            )
        checks["engine"] = "ok"
    return checks


def _not_ready(component: str, reason: str, exc: BaseException) -> ProviderUnavailable:
    """The answer names the component; the log gets what went wrong, under an incident id."""
    incident = Incident.new(reason)
    log.warning("not ready: %s %s (incident %s): %r", component, reason, incident.id, exc)
    return ProviderUnavailable(f"{component}: {reason} (incident {incident.id})")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """This process's counters, then the cluster's task and worker figures from the database."""
    body = generate_latest(REGISTRY) + generate_latest(services.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
