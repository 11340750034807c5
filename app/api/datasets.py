"""Datasets: upload a data file into the data root, list the uploaded ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from app.api.deps import ServiceDep, TenantDep
from app.schemas import DatasetInfo, DatasetList, Problem

PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: {"description": "API keys are configured and none (or a wrong one) was sent", **PROBLEM}
}
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
async def upload_dataset(request: Request, service: ServiceDep, tenant: TenantDep) -> DatasetInfo:
    """Upload a data file (multipart field `file`); use the returned `path` to train on it."""
    return await service.upload_dataset(
        content_type=request.headers.get("content-type", ""),
        content_length=request.headers.get("content-length"),
        body=request.stream(),
        tenant=tenant,
    )


@router.get("")
async def list_datasets(service: ServiceDep, tenant: TenantDep) -> DatasetList:
    """The uploaded data files, with their format, size, rows and columns."""
    return await service.list_datasets(tenant=tenant)
