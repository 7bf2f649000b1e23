"""The model catalog."""

from __future__ import annotations

from fastapi import APIRouter

from kirin_video.contract.parameters import describe_models
from kirin_video.contract.schema import ModelList
from kirin_video.surfaces.deps import CallerDep
from kirin_video.surfaces.kirin.models import error_responses

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models",
    summary="Models, their parameters, defaults and output formats",
    response_model=ModelList,
    responses=error_responses(401),
)
def list_models(_caller: CallerDep) -> ModelList:
    return ModelList(data=describe_models())
