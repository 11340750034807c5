"""The sender: fills the outbox from new job events and trials, and POSTs what is due.

A thread of the API process. Every ``WEBHOOK_POLL_SECONDS`` it reads ``job_event`` and
``trial`` past the outbox's cursors (``IdFloor`` keeps PostgreSQL's late commits in order),
turns each row into the deliveries of the webhooks that want it, and moves the cursor in the
same transaction. Then it sends each due delivery: the body is the same bytes on every try,
signed with HMAC-SHA256 over ``<timestamp>.<body>``; a 2xx delivers it, a 5xx, 408, 429, a
timeout or a connection error schedules another try after an exponential backoff with
jitter (up to ``WEBHOOK_MAX_TRIES``), any other answer fails it. Everything is in the
database, so a restart loses nothing: the next process picks up where this one stopped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx

from app.config import Settings
from app.core.exceptions import ConfigurationError
from app.core.sequence import IdFloor
from app.integrations.data_layer.url_policy import CheckedURL
from app.jobs.lifecycle import JobStage, JobStatus
from app.jobs.models import JobEvent, Trial, utcnow
from app.jobs.repository import JobRepository
from app.webhooks.models import Webhook, WebhookDelivery
from app.webhooks.repository import DELIVERED, FAILED, PENDING, WebhookRepository
from app.webhooks.service import check_webhook_url

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Trainyard-Signature"
TIMESTAMP_HEADER = "Trainyard-Timestamp"
RETRIED_STATUSES = frozenset({408, 429})
_TERMINAL_TYPES = {
    JobStatus.COMPLETED.value: "job.completed",
    JobStatus.FAILED.value: "job.failed",
    JobStatus.CANCELLED.value: "job.cancelled",
}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def event_type(table: type[JobEvent] | type[Trial], row: Any) -> str | None:
    if table is Trial:
        return "trial.completed"
    if row.status == JobStatus.RUNNING.value and row.stage == JobStage.FETCHING_DATA.value:
        return "job.started"  # a claim: the only change into running/fetching_data
    return _TERMINAL_TYPES.get(row.status)


def event_data(
    table: type[JobEvent] | type[Trial], row: Any, names: tuple[Any, ...]
) -> dict[str, Any]:
    model_name, experiment_name = names
    base = {"job_id": str(row.job_id), "model_name": model_name, "experiment_name": experiment_name}
    fields: tuple[str, ...]
    if table is Trial:
        fields = ("number", "attempt", "params", "state", "mean_score", "std_score", "error")
    else:
        fields = ("status", "stage", "progress", "attempt", "message")
    return {**base, **{name: getattr(row, name) for name in fields}}


def wants(
    webhook: Webhook, kind: str, tenant: str, model_name: str, experiment: str | None
) -> bool:
    return (
        webhook.tenant == tenant
        and kind in webhook.events
        and webhook.model_name in (None, model_name)
        and webhook.experiment_name in (None, experiment)
    )


def backoff(settings: Settings, tries: int) -> float:
    """Seconds before the next try: doubling from the base, times a jitter of 0.5 to 1.5."""
    delay = settings.webhook_backoff_seconds * 2 ** (tries - 1)
    return float(min(settings.webhook_backoff_max_seconds, delay) * random.uniform(0.5, 1.5))


class WebhookSender:
    def __init__(
        self, *, jobs: JobRepository, webhooks: WebhookRepository, settings: Settings
    ) -> None:
        self.jobs = jobs
        self.webhooks = webhooks
        self.settings = settings
        self.floors: dict[str, IdFloor[Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": "Trainyard-Webhooks/1", "Content-Type": "application/json"},
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.settings.webhook_timeout_seconds + 5)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("the webhook sender failed; trying again")
            self._stop.wait(self.settings.webhook_poll_seconds)

    def run_once(self) -> None:
        starts = self.jobs.last_ids()
        for name, table, start in (("job_event", JobEvent, starts[0]), ("trial", Trial, starts[1])):
            self._fill(name, table, start)
        for delivery, webhook in self.webhooks.claim_due(
            lease_seconds=self.settings.webhook_timeout_seconds * 2 + 5
        ):
            if self._stop.is_set():
                break
            self._send(delivery, webhook)

    # -- the outbox -------------------------------------------------------------------------

    def _fill(self, name: str, table: type[JobEvent] | type[Trial], start: int) -> None:
        """``start``: the newest id committed when this round began."""
        position = self.webhooks.cursor(name, start=start)
        hooks = self.webhooks.list_all()
        if not hooks:
            # Nobody to tell: the cursor passes what was committed without reading it (a
            # webhook gets the events after it was made, and every row read here was made
            # before the read that found none).
            if start > position:  # refused when another process moved it first: no matter
                self.webhooks.enqueue(name, old=position, new=start, deliveries=[])
            self.floors.pop(name, None)
            return
        floor = self.floors.get(name)
        if floor is None or floor.floor != position:
            floor = self.floors[name] = IdFloor(position)
        rows = self.jobs.rows_after(table, position, limit=500)
        passed = floor.add({row[0].id: row for row in rows})
        if floor.floor == position:
            return
        deliveries = []
        for row, tenant, model_name, experiment in passed:
            kind = event_type(table, row)
            if kind is None:
                continue
            for webhook in hooks:
                if wants(webhook, kind, tenant, model_name, experiment):
                    deliveries.append(
                        self._delivery(webhook, kind, table, row, (model_name, experiment))
                    )
        if not self.webhooks.enqueue(name, old=position, new=floor.floor, deliveries=deliveries):
            self.floors.pop(name, None)  # another process moved the cursor: re-read from it

    @staticmethod
    def _delivery(
        webhook: Webhook, kind: str, table: type[JobEvent] | type[Trial], row: Any, names: Any
    ) -> dict[str, Any]:
        delivery_id = uuid.uuid4()
        prefix = "t" if table is Trial else "e"
        return {
            "id": delivery_id,
            "webhook_id": webhook.id,
            "event_type": kind,
            "source": f"{prefix}{row.id}",
            "payload": {
                "id": str(delivery_id),
                "type": kind,
                "created_at": utcnow().isoformat(),
                "data": event_data(table, row, names),
            },
        }

    # -- sending ----------------------------------------------------------------------------

    def _send(self, delivery: WebhookDelivery, webhook: Webhook) -> None:
        body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Trainyard-Webhook-Id": str(delivery.id),
            "Trainyard-Event": delivery.event_type,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
        }
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            # Checked again (DNS may have changed since), then sent to an address just
            # checked, never to a second DNS answer (a rebinding host cannot slip through).
            checked = check_webhook_url(webhook.url, self.settings)
            status_code = self._post(checked, body, headers)
        except ConfigurationError as exc:
            error = exc.message
        except httpx.TimeoutException:
            error = f"no answer within {self.settings.webhook_timeout_seconds}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempt = {
            "at": utcnow().isoformat(),
            "status_code": status_code,
            "error": error,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
        tries = delivery.attempts + 1
        if status_code is not None and 200 <= status_code < 300:
            outcome = DELIVERED
        elif (status_code is None and not error_is_final(error)) or (
            status_code is not None and (status_code >= 500 or status_code in RETRIED_STATUSES)
        ):
            outcome = PENDING if tries < self.settings.webhook_max_tries else FAILED
        else:
            outcome = FAILED
        next_try = utcnow() + timedelta(seconds=backoff(self.settings, tries))
        self.webhooks.record_try(delivery.id, attempt, status=outcome, next_try_at=next_try)
        logger.info(
            "webhook %s delivery %s try %d: %s",
            webhook.id,
            delivery.id,
            tries,
            status_code or error,
        )

    def _post(self, checked: CheckedURL, body: bytes, headers: dict[str, str]) -> int:
        """The status of the first checked address that answers; the last error if none."""
        failure: httpx.TransportError | None = None
        for target, host, extensions in checked.targets():
            try:
                answer = self._http.post(
                    target, content=body, headers={**headers, **host}, extensions=extensions
                )
                return answer.status_code
            except httpx.TimeoutException:
                raise  # an answer may be on its way: no second address gets it too
            except httpx.TransportError as exc:
                failure = exc
        assert failure is not None
        raise failure


def error_is_final(error: str | None) -> bool:
    """A URL the policy now refuses is not retried."""
    return error is not None and error.startswith("url:")
