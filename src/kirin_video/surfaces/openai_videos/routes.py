"""The /v1/videos routes as the openai SDK calls them: create, list, retrieve, delete, content."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from kirin_video.contract import catalog as c
from kirin_video.contract.catalog import Status
from kirin_video.contract.errors import InvalidRequest, TaskNotFound
from kirin_video.contract.params import shown
from kirin_video.storage.local import LocalStorage
from kirin_video.surfaces.base import surface_route
from kirin_video.surfaces.deps import BackendDep, CallerDep
from kirin_video.surfaces.intake import create_task, public_base
from kirin_video.surfaces.kling.wire import Route
from kirin_video.surfaces.openai_videos.body import read_fields
from kirin_video.surfaces.openai_videos.errors import answer
from kirin_video.surfaces.openai_videos.models import (
    CREATE_BODY,
    Video,
    VideoDeleted,
    VideoList,
    error_responses,
)
from kirin_video.surfaces.openai_videos.render import video_object, video_page
from kirin_video.surfaces.openai_videos.wire import STATUS, ModelNames, parse_video_request
from kirin_video.tasks.snapshot import OutputFile, OutputKind, TaskSnapshot

NAME = "openai"
#: The header OpenAI's poller sleeps by between reads of a video.
POLL_AFTER = b"openai-poll-after-ms"
#: What each ``variant`` downloads, best first: a watermarked video where one was asked for.
VARIANTS: dict[str, tuple[OutputKind, ...]] = {
    "video": (OutputKind.VIDEO_WATERMARKED, OutputKind.VIDEO),
    "thumbnail": (OutputKind.COVER,),
}
MEDIA_TYPES = {"video": "video/mp4", "thumbnail": "image/jpeg"}


class VideoRoute(surface_route(answer)):  # type: ignore[misc]  # a class made per surface
    """Every answer, refusals included, tells the SDK's poller how long to wait."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = str(scope["app"].state.services.settings.openai_poll_after_ms).encode()

        async def hinted(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (POLL_AFTER, wait)]}
            await send(message)

        await super().handle(scope, receive, hinted)


class VideoId(Convertor[str]):
    """A video id: any path segment but the names of the Kling routes, which share /v1/videos."""

    regex = f"(?!(?:{'|'.join(re.escape(r.value) for r in Route)})(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("video_id", VideoId())
router = APIRouter(prefix="/v1/videos", tags=["openai"], route_class=VideoRoute)


@router.post(
    "",
    summary="Create a video (OpenAI's Videos API): multipart as the SDK sends it, or JSON",
    openapi_extra=CREATE_BODY,
    response_model=Video,
    responses=error_responses(400, 401, 409, 413, 429),
)
async def create_video(request: Request, caller: CallerDep, backend: BackendDep) -> Video:
    fields = await read_fields(request)
    params = parse_video_request(fields, names=ModelNames.of(backend.settings))
    task = await create_task(params, request=request, caller=caller, surface=NAME)
    return video_object(task)


@router.get(
    "",
    summary="The caller's videos, newest first (order=asc: oldest), after a video's id",
    response_model=VideoList,
    responses=error_responses(400, 401, 429),
)
def list_videos(
    caller: CallerDep,
    backend: BackendDep,
    after: Annotated[str | None, Query(description="the last_id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=c.MAX_LIST_LIMIT)] = c.DEFAULT_LIST_LIMIT,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> VideoList:
    page = backend.tasks.list_tasks(
        owner=caller, limit=limit, after=after or None, ascending=order == "asc"
    )
    return video_page(page)


@router.get(
    "/{video_id:video_id}",
    summary="A video by id (or external_task_id)",
    response_model=Video,
    responses=error_responses(401, 404, 429),
)
def retrieve_video(video_id: str, caller: CallerDep, backend: BackendDep) -> Video:
    return video_object(backend.tasks.get(owner=caller, ref=video_id))


@router.delete(
    "/{video_id:video_id}",
    summary="Delete a video and its files; one still queued or running is stopped",
    response_model=VideoDeleted,
    responses=error_responses(401, 404, 429),
)
async def delete_video(video_id: str, caller: CallerDep, backend: BackendDep) -> VideoDeleted:
    task = await run_in_threadpool(backend.tasks.delete, owner=caller, ref=video_id)
    await run_in_threadpool(backend.storage.delete_prefix, task.id)
    return VideoDeleted(id=task.id)


@router.get(
    "/{video_id:video_id}/content",
    summary="The video (MP4) or its thumbnail (JPEG)",
    response_class=Response,
    responses={
        200: {
            "description": "the file, streamed",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in MEDIA_TYPES.values()
            },
        },
        307: {"description": "outputs in a bucket: the file's signed URL"},
        **error_responses(400, 401, 404, 429),
    },
)
def download_content(
    video_id: str,
    request: Request,
    caller: CallerDep,
    backend: BackendDep,
    variant: Annotated[str, Query(description="video or thumbnail")] = "video",
) -> Response:
    snap = TaskSnapshot.of(backend.tasks.get(owner=caller, ref=video_id))
    output = _content(snap, variant)
    storage = backend.storage
    if isinstance(storage, LocalStorage):
        return FileResponse(storage.path(output.key), media_type=MEDIA_TYPES[variant])
    return RedirectResponse(
        storage.url(output.key, base_url=public_base(request, backend)), status_code=307
    )


def _content(snap: TaskSnapshot, variant: str) -> OutputFile:
    """The stored file a variant names, or why there is none."""
    if variant == "spritesheet":
        raise TaskNotFound(
            "variant: this server makes no spritesheet; ask for variant=video or thumbnail"
        )
    kinds = VARIANTS.get(variant)
    if kinds is None:
        raise InvalidRequest(f"variant: must be one of {', '.join(VARIANTS)}; got {shown(variant)}")
    if snap.status is not Status.COMPLETED:
        raise TaskNotFound(
            f"video: {snap.id} is {STATUS[snap.status]}; its content is there once completed"
        )
    found = next((f for kind in kinds if (f := snap.output(kind)) is not None), None)
    if found is None:
        raise TaskNotFound(f"variant: video {snap.id} has no {variant}")
    return found
