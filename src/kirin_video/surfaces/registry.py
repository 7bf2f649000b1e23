"""The surfaces this server speaks; adding a client family is one line here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from kirin_video.surfaces import kirin, kling, openai_videos
from kirin_video.surfaces.base import Surface
from kirin_video.tasks.snapshot import SignFn, TaskSnapshot

SURFACES: dict[str, Surface] = {
    s.name: s for s in (kirin.SURFACE, kling.SURFACE, openai_videos.SURFACE)
}

#: The surface whose envelope answers what no route matched (the contract's canonical one).
DEFAULT = kirin.SURFACE


def mount(app: FastAPI) -> None:
    """Every surface's routers, each under each of its prefixes; the first is in the schema."""
    for surface in SURFACES.values():
        for router, prefixes in surface.routers:
            for index, prefix in enumerate(prefixes):
                app.include_router(router, prefix=prefix, include_in_schema=index == 0)


def render_callback(surface: str, snapshot: TaskSnapshot, sign: SignFn) -> dict[str, Any] | None:
    """The callback body in the task's own surface (a surface no longer served: the default).

    None: that surface has no callback for this change.
    """
    return SURFACES.get(surface, DEFAULT).render_callback(snapshot, sign)
