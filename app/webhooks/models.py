"""The webhook tables: subscriptions, the outbox of deliveries, and the outbox's cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.jobs.models import UTCDateTime, utcnow


class Webhook(Base):
    __tablename__ = "webhook"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    model_name: Mapped[str | None] = mapped_column(String(128))
    experiment_name: Mapped[str | None] = mapped_column(String(256))
    # Kept to sign every delivery; shown once, when the webhook is created.
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook, and every try to deliver it (``tries``)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # The same source row is enqueued once per webhook, whichever process enqueues it.
        UniqueConstraint("webhook_id", "source", name="uq_webhook_delivery_webhook_source"),
        Index("ix_webhook_delivery_status_next_try_at", "status", "next_try_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))  # "e<job_event.id>" or "t<trial.id>"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookCursor(Base):
    """How far the outbox has read a source table (``job_event``, ``trial``)."""

    __tablename__ = "webhook_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
