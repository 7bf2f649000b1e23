"""The hosted Kirin wire: /model/v1/generation…, its task object, errors and model-spec service."""

from kirin_video.surfaces.base import Surface
from kirin_video.surfaces.kirin import spec
from kirin_video.surfaces.kirin.errors import answer
from kirin_video.surfaces.kirin.render import callback_body
from kirin_video.surfaces.kirin.routes import router

SURFACE = Surface(
    name="kirin",
    routers=((router, ("/model", "")), (spec.router, ("",))),  # the spec service has no /model
    render_callback=callback_body,
    answer=answer,
)
