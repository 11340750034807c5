"""Webhooks: subscribe a URL to job events, list, delete, and see each delivery's tries."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.core.deps import TenantDep
from app.core.problems import PROBLEM_RESPONSE as PROBLEM
from app.core.problems import UNAUTHENTICATED
from app.webhooks.schemas import (
    DeliveryList,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookResponse,
)
from app.webhooks.service import WebhookService


async def get_webhooks(request: Request) -> WebhookService:
    webhooks: WebhookService = request.app.state.webhooks
    return webhooks


WebhooksDep = Annotated[WebhookService, Depends(get_webhooks)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No webhook with this id", **PROBLEM}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "The request is invalid; `errors` names each field", **PROBLEM}
}

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=UNAUTHENTICATED)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **INVALID,
        400: {"description": "The body could not be parsed", **PROBLEM},
        413: {"description": "The body is over TRAINYARD_MAX_REQUEST_BYTES", **PROBLEM},
    },
)
def create_webhook(
    request: WebhookCreate, webhooks: WebhooksDep, tenant: TenantDep, response: Response
) -> WebhookCreated:
    """Subscribe a URL to job events. The answer holds the signing secret, shown only once."""
    created = webhooks.create(request, tenant=tenant)
    response.headers["Location"] = f"/v1/webhooks/{created.id}"
    return created


@router.get("")
def list_webhooks(webhooks: WebhooksDep, tenant: TenantDep) -> WebhookList:
    """The tenant's webhooks, oldest first (without their secrets)."""
    return webhooks.list(tenant=tenant)


@router.delete(
    "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **INVALID}
)
def delete_webhook(webhook_id: uuid.UUID, webhooks: WebhooksDep, tenant: TenantDep) -> Response:
    """Unsubscribe; pending deliveries are dropped."""
    webhooks.delete(webhook_id, tenant=tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", responses={**NOT_FOUND, **INVALID})
def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    webhooks: WebhooksDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The webhook's deliveries, newest first, each with every try and its answer."""
    return webhooks.deliveries(webhook_id, tenant=tenant, limit=limit)


@router.get("/{webhook_id}", responses={**NOT_FOUND, **INVALID})
def get_webhook(webhook_id: uuid.UUID, webhooks: WebhooksDep, tenant: TenantDep) -> WebhookResponse:
    """One webhook (without its secret)."""
    return webhooks.get(webhook_id, tenant=tenant)
