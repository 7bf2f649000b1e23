"""OpenAI's Videos API (`/v1/videos`) as the openai SDK and gateways send it, on the same tasks."""

from kirin_video.surfaces.base import Surface
from kirin_video.surfaces.openai_videos.errors import answer
from kirin_video.surfaces.openai_videos.render import event_body
from kirin_video.surfaces.openai_videos.routes import router

SURFACE = Surface(
    name="openai", routers=((router, ("",)),), render_callback=event_body, answer=answer
)
