"""What every surface does to take a task: read the body, load the images, store the task."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from kirin_video.contract.catalog import Geometry, output_geometry
from kirin_video.contract.errors import InvalidRequest
from kirin_video.contract.params import Params
from kirin_video.contract.text import check_tree
from kirin_video.media.intake import InputImage, load_image
from kirin_video.surfaces.deps import Backend
from kirin_video.tasks.service import StoredImage
from kirin_video.tasks.snapshot import SignFn
from kirin_video.tasks.tables import Task


async def read_json(request: Request) -> Any:
    """The request body as JSON, or the contract's error for a body that is not."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"body: must be a JSON object in UTF-8; got a byte that is not UTF-8 at {exc.start}"
        ) from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"body: must be a JSON object; got invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InvalidRequest("body: must be a JSON object; got JSON nested too deeply") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InvalidRequest(
            "body: must be a JSON object; got a number with too many digits"
        ) from exc
    check_tree(body)  # before any rule reads it: no field may carry text no store can hold
    return body


async def create_task(params: Params, *, request: Request, caller: str, surface: str) -> Task:
    """Decode or fetch every image at once, each checked by the contract, then store the task.

    A key at its cap of unfinished tasks is refused first, so a refused create fetches and
    decodes nothing (the rate limit was counted with the caller, before the body was read).
    """
    backend: Backend = request.app.state.services
    await run_in_threadpool(backend.tasks.check_room, caller)
    loaded = await asyncio.gather(
        *(load_image(spec, fetcher=backend.fetcher) for spec in params.images)
    )
    images = [
        StoredImage(spec.role, image.data)
        for spec, image in zip(params.images, loaded, strict=True)
    ]
    geometry = output_size(params, loaded)
    return await run_in_threadpool(
        lambda: backend.tasks.create(
            owner=caller,
            request=params,
            images=images,
            public_base=public_base(request, backend),
            surface=surface,
            size=(geometry.width, geometry.height),
        )
    )


def output_size(params: Params, loaded: Sequence[InputImage]) -> Geometry:
    """The video's geometry as the contract fixes it: by the first given frame, if any."""
    frames = (
        image for spec, image in zip(params.images, loaded, strict=True) if spec.role != "reference"
    )
    given = next(frames, None)  # the first frame, else the last (the order they are sent in)
    return output_geometry(
        model=params.model,
        mode=params.mode,
        duration=params.duration,
        aspect_ratio=params.aspect_ratio,
        first_image_size=None if given is None else (given.width, given.height),
    )


def public_base(request: Request, backend: Backend) -> str:
    """``KIRIN_PUBLIC_URL`` if set, else the address the client reached us on."""
    return backend.settings.public_url or str(request.base_url)


def signer(request: Request, backend: Backend) -> SignFn:
    """Signs storage keys into URLs under the base the client reached us on."""
    base = public_base(request, backend)
    return lambda key: backend.storage.url(key, base_url=base)
