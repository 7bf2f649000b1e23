"""Output files of the local storage backend, by expiring signed URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from kirin_video.api.deps import ServicesDep
from kirin_video.contract.errors import AuthenticationFailed, TaskNotFound
from kirin_video.storage.local import LocalStorage
from kirin_video.surfaces.kirin.models import error_responses

router = APIRouter(tags=["files"])

_MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}


@router.get(
    "/files/{key:path}",
    summary="An output file (signed URL)",
    response_class=FileResponse,
    responses=error_responses(401, 404),
)
def get_file(
    key: str,
    services: ServicesDep,
    expires: Annotated[int, Query()],
    sig: Annotated[str, Query()],
) -> FileResponse:
    storage = services.storage
    if not isinstance(storage, LocalStorage):  # a bucket's URLs point at the bucket
        raise TaskNotFound(f"file: outputs are not served here; no such output {key!r}")
    if not storage.verify(key, expires=expires, sig=sig):
        raise AuthenticationFailed("sig: the file URL is expired or its signature is invalid")
    try:
        path = storage.path(key)
    except ValueError as exc:
        raise TaskNotFound(f"file: no such output {key!r}") from exc
    if not path.is_file():
        raise TaskNotFound(f"file: no such output {key!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"))
