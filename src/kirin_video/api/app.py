"""The app factory: one FastAPI app per settings, its services started in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kirin_video import __version__
from kirin_video.api.errors import install_error_handlers
from kirin_video.api.limits import BodyLimitMiddleware
from kirin_video.api.openapi import install_openapi
from kirin_video.api.routes import files, generation, health, kling, models
from kirin_video.api.services import build_services
from kirin_video.config import Settings
from kirin_video.engines.base import Engine

log = logging.getLogger(__name__)

ROUTERS = (generation.router, kling.router, models.router, health.router, files.router)


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the API; every route also answers under ``/model`` like the hosted base URL."""
    services = build_services(settings, engine=engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.start()
        runs = "on `kirin worker` processes" if services.queue else f"here, {services.engine.name}"
        log.info("kirin-video %s: tasks run %s; data in %s", __version__, runs, settings.data_dir)
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(title="kirin-video", version=__version__, lifespan=lifespan)
    app.state.services = services
    for router in ROUTERS:
        app.include_router(router)
        app.include_router(router, prefix="/model", include_in_schema=False)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
