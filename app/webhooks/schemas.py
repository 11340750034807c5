"""Webhook requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.core.schemas import StrictModel

WebhookEvent = Literal[
    "job.started", "job.completed", "job.failed", "job.cancelled", "trial.completed"
]


class WebhookCreate(StrictModel):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where to POST: https://, on a host in TRAINYARD_WEBHOOK_ALLOWED_HOSTS.",
        examples=["https://hooks.example.com/trainyard"],
    )
    events: list[WebhookEvent] = Field(min_length=1, examples=[["job.completed", "job.failed"]])
    model_name: str | None = Field(default=None, max_length=128, description="Only this model.")
    experiment_name: str | None = Field(
        default=None, max_length=256, description="Only this experiment."
    )

    @field_validator("events")
    @classmethod
    def _distinct(cls, value: list[WebhookEvent]) -> list[WebhookEvent]:
        return sorted(set(value))


class WebhookResponse(BaseModel):
    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    model_name: str | None = None
    experiment_name: str | None = None
    created_at: datetime


class WebhookCreated(WebhookResponse):
    secret: str = Field(
        description="Signs every delivery (HMAC-SHA256); shown only in this response."
    )


class WebhookList(BaseModel):
    items: list[WebhookResponse]


class DeliveryTry(BaseModel):
    at: datetime
    status_code: int | None = Field(default=None, description="None: no answer (see `error`).")
    error: str | None = None
    duration_ms: float


class DeliveryResponse(BaseModel):
    id: uuid.UUID
    event_type: WebhookEvent
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    tries: list[DeliveryTry]
    next_try_at: datetime | None = Field(default=None, description="While pending.")
    created_at: datetime
    delivered_at: datetime | None = None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    items: list[DeliveryResponse]
