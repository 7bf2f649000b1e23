"""The model catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kirin_video.contract.parameters import describe_models
from kirin_video.contract.schema import ModelList
from kirin_video.surfaces.deps import CallerDep
from kirin_video.surfaces.kirin.models import error_responses

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models",
    summary="Models, their parameters, defaults and output formats",
    response_model=None,
    responses={200: {"model": ModelList}, **error_responses(401)},
)
def list_models(_caller: CallerDep) -> dict[str, Any]:
    return {"data": describe_models()}
