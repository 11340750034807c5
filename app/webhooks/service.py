"""Webhooks on behalf of a caller: subscribe (URL checked like a data source's), list,
delete, and the deliveries with each try."""

from __future__ import annotations

import secrets
import uuid

from app.config import Settings
from app.core.exceptions import ConfigurationError, ResourceNotFoundError
from app.integrations.data_layer.url_policy import CheckedURL, check_url, parse_rules
from app.webhooks.models import Webhook
from app.webhooks.repository import PENDING, WebhookRepository
from app.webhooks.schemas import (
    DeliveryList,
    DeliveryResponse,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookResponse,
)

SETTING = "TRAINYARD_WEBHOOK_ALLOWED_HOSTS"


def check_webhook_url(url: str, settings: Settings) -> CheckedURL:
    """The rules of https data sources, with the webhooks' own allow-list."""
    try:
        return check_url(
            url, parse_rules(settings.webhook_allowed_hosts), field="url", setting=SETTING
        )
    except ValueError as exc:  # urlsplit on a malformed URL (an unclosed "[", a bad port)
        raise ConfigurationError.for_field("url", f"not a valid URL: {exc}") from None


class WebhookService:
    def __init__(self, *, repository: WebhookRepository, settings: Settings) -> None:
        self.repository = repository
        self.settings = settings

    def create(self, request: WebhookCreate, *, tenant: str) -> WebhookCreated:
        check_webhook_url(request.url, self.settings)
        webhook = self.repository.create(
            {
                "id": uuid.uuid4(),
                "tenant": tenant,
                "url": request.url,
                "events": list(request.events),
                "model_name": request.model_name,
                "experiment_name": request.experiment_name,
                "secret": "whsec_" + secrets.token_urlsafe(32),
            }
        )
        return WebhookCreated(**_response(webhook).model_dump(), secret=webhook.secret)

    def list(self, *, tenant: str) -> WebhookList:
        return WebhookList(items=[_response(w) for w in self.repository.list_for(tenant)])

    def get(self, webhook_id: uuid.UUID, *, tenant: str) -> WebhookResponse:
        return _response(self._owned(webhook_id, tenant))

    def delete(self, webhook_id: uuid.UUID, *, tenant: str) -> None:
        if not self.repository.delete(webhook_id, tenant):
            raise ResourceNotFoundError(f"webhook {webhook_id} not found")

    def deliveries(self, webhook_id: uuid.UUID, *, tenant: str, limit: int) -> DeliveryList:
        self._owned(webhook_id, tenant)
        items = []
        for delivery in self.repository.deliveries(webhook_id, limit=limit):
            response = DeliveryResponse.model_validate(delivery, from_attributes=True)
            if delivery.status != PENDING:
                response.next_try_at = None
            items.append(response)
        return DeliveryList(items=items)

    def _owned(self, webhook_id: uuid.UUID, tenant: str) -> Webhook:
        webhook = self.repository.get(webhook_id, tenant)
        if webhook is None:
            raise ResourceNotFoundError(f"webhook {webhook_id} not found")
        return webhook


def _response(webhook: Webhook) -> WebhookResponse:
    return WebhookResponse.model_validate(webhook, from_attributes=True)
