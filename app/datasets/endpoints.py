"""Datasets: upload a data file into the data root, list the uploaded ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status

from app.config import Settings
from app.core.deps import TenantDep
from app.core.problems import PROBLEM_RESPONSE as PROBLEM
from app.core.problems import UNAUTHENTICATED
from app.datasets.schemas import DatasetInfo, DatasetList
from app.datasets.service import DatasetStore


async def get_settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_of)]

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=UNAUTHENTICATED)

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
    responses={
        409: {"description": "A dataset with this name exists", **PROBLEM},
        413: {"description": "The file is over the upload limit", **PROBLEM},
        422: {"description": "Not multipart, no `file`, or not readable as its type", **PROBLEM},
    },
)
async def upload_dataset(request: Request, settings: SettingsDep, tenant: TenantDep) -> DatasetInfo:
    """Upload a data file (multipart field `file`); use the returned `path` to train on it."""
    return await DatasetStore(settings, tenant).receive(
        content_type=request.headers.get("content-type", ""),
        content_length=request.headers.get("content-length"),
        body=request.stream(),
    )


@router.get("")
def list_datasets(settings: SettingsDep, tenant: TenantDep) -> DatasetList:
    """The uploaded data files, with their format, size, rows and columns."""
    return DatasetList(items=DatasetStore(settings, tenant).list_all())
