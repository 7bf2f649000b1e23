"""The app factory: one FastAPI app per settings, its services started in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kirin_video import __version__
from kirin_video.api.errors import install_error_handlers
from kirin_video.api.head import HeadAsGetMiddleware
from kirin_video.api.limits import BodyLimitMiddleware
from kirin_video.api.openapi import install_openapi
from kirin_video.api.request_id import RequestIdMiddleware
from kirin_video.api.routes import files, health, models, playground
from kirin_video.api.services import build_services
from kirin_video.config import Settings
from kirin_video.engines.base import Engine
from kirin_video.surfaces import registry

log = logging.getLogger(__name__)

#: Routes outside the surfaces: the model catalog (also under ``/model``), operations, files,
#: the playground.
ROUTERS = (
    (models.router, ("", "/model")),
    (health.router, ("",)),
    (files.router, ("",)),
    (playground.router, ("",)),
)


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the API: every surface's routes, operations and files over one set of services."""
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
    registry.mount(app)
    for router, prefixes in ROUTERS:
        for index, prefix in enumerate(prefixes):
            app.include_router(router, prefix=prefix, include_in_schema=index == 0)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
