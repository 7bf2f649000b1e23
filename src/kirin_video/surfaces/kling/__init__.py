"""Kling's video routes, envelope and codes on the same tasks."""

from kirin_video.surfaces.base import Surface
from kirin_video.surfaces.kling.envelope import answer
from kirin_video.surfaces.kling.render import kling_object
from kirin_video.surfaces.kling.routes import router

SURFACE = Surface(
    name="kling", routers=((router, ("", "/model")),), render_callback=kling_object, answer=answer
)
