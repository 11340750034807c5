"""Every query and write on the webhook tables.

The outbox is filled by reading ``job_event`` and ``trial`` past a stored cursor (through the
jobs repository, which alone reads those tables), so the job tables' writers stay untouched.
Moving the cursor and inserting the deliveries it passed are one transaction, conditional on
the cursor being where this process read it: when two API processes race, one wins and the
other re-reads. A delivery is claimed by moving its ``next_try_at`` past a lease (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL), so two senders never send the same try.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from app.core.db import make_read_session_factory, make_session_factory, transaction
from app.jobs.models import utcnow
from app.webhooks.models import Webhook, WebhookCursor, WebhookDelivery

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.factory = make_session_factory(engine)
        self.reader = make_read_session_factory(engine)

    # -- subscriptions ----------------------------------------------------------------------

    def create(self, values: dict[str, Any]) -> Webhook:
        with transaction(self.factory) as session:
            webhook = Webhook(**values, created_at=utcnow())
            session.add(webhook)
        return webhook

    def list_for(self, tenant: str) -> Sequence[Webhook]:
        with self.reader() as session:
            return session.scalars(
                select(Webhook).where(Webhook.tenant == tenant).order_by(Webhook.created_at)
            ).all()

    def list_all(self) -> Sequence[Webhook]:
        with self.reader() as session:
            return session.scalars(select(Webhook)).all()

    def get(self, webhook_id: uuid.UUID, tenant: str) -> Webhook | None:
        with self.reader() as session:
            webhook = session.get(Webhook, webhook_id)
        return webhook if webhook is not None and webhook.tenant == tenant else None

    def delete(self, webhook_id: uuid.UUID, tenant: str) -> bool:
        with transaction(self.factory) as session:
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
            done = session.execute(
                delete(Webhook).where(Webhook.id == webhook_id, Webhook.tenant == tenant)
            )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def deliveries(self, webhook_id: uuid.UUID, *, limit: int) -> Sequence[WebhookDelivery]:
        with self.reader() as session:
            return session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.created_at.desc())
                .limit(limit)
            ).all()

    # -- the outbox -------------------------------------------------------------------------

    def cursor(self, name: str, *, start: int) -> int:
        """The cursor's position; a new cursor starts at ``start`` (now, not the past)."""
        with transaction(self.factory) as session:
            row = session.get(WebhookCursor, name)
            if row is None:
                row = WebhookCursor(name=name, position=start)
                session.add(row)
            return row.position

    def enqueue(self, name: str, *, old: int, new: int, deliveries: list[dict[str, Any]]) -> bool:
        """Move the cursor from ``old`` to ``new`` and add the deliveries it passed; False
        (nothing written) when another process moved it first."""
        with transaction(self.factory) as session:
            moved = session.execute(
                update(WebhookCursor)
                .where(WebhookCursor.name == name, WebhookCursor.position == old)
                .values(position=new)
            )
            if not moved.rowcount:  # type: ignore[attr-defined]
                session.rollback()
                return False
            now = utcnow()
            for values in deliveries:
                session.add(WebhookDelivery(**values, status=PENDING, next_try_at=now))
        return True

    def claim_due(
        self, *, lease_seconds: float, limit: int = 20
    ) -> list[tuple[WebhookDelivery, Webhook]]:
        """Deliveries whose next try is due, each with its webhook, leased to this sender."""
        now = utcnow()
        with transaction(self.factory) as session:
            rows = session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_try_at <= now)
                .order_by(WebhookDelivery.next_try_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            ).all()
            for delivery, _ in rows:
                delivery.next_try_at = now + timedelta(seconds=lease_seconds)
        return [(delivery, webhook) for delivery, webhook in rows]

    def record_try(
        self, delivery_id: uuid.UUID, attempt: dict[str, Any], *, status: str, next_try_at: datetime
    ) -> None:
        with transaction(self.factory) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:  # its webhook was deleted meanwhile
                return
            delivery.tries = [*delivery.tries, attempt]
            delivery.attempts = len(delivery.tries)
            delivery.status = status
            delivery.next_try_at = next_try_at
            if status == DELIVERED:
                delivery.delivered_at = utcnow()
