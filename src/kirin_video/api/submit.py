"""What both API surfaces do to take a task: read the body, load the images, store the task."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import Request

from kirin_video.api.render import public_base
from kirin_video.api.services import Services
from kirin_video.contract.errors import InvalidRequest
from kirin_video.contract.params import GenerationRequest
from kirin_video.media.intake import load_image
from kirin_video.tasks.service import StoredImage
from kirin_video.tasks.tables import Task


async def read_json(request: Request) -> Any:
    """The request body as JSON, or the contract's error for a body that is not."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"body: must be a JSON object; got invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise InvalidRequest("body: must be a JSON object; got JSON nested too deeply") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InvalidRequest(
            "body: must be a JSON object; got a number with too many digits"
        ) from exc


async def load_images(generation: GenerationRequest, services: Services) -> list[StoredImage]:
    """Decode or fetch every image of the request at once, each checked by the contract."""
    loaded = await asyncio.gather(
        *(load_image(spec, fetcher=services.fetcher) for spec in generation.images)
    )
    return [
        StoredImage(spec.role, image.data)
        for spec, image in zip(generation.images, loaded, strict=True)
    ]


def store(
    generation: GenerationRequest,
    images: list[StoredImage],
    *,
    caller: str,
    request: Request,
    services: Services,
    surface: str,
) -> Task:
    """Insert the task with its images (blocking: call it in a worker thread)."""
    return services.tasks.create(
        owner=caller,
        request=generation,
        images=images,
        public_base=public_base(request, services),
        surface=surface,
    )
