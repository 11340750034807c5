"""The list's page tokens: opaque, url-safe, the sort key and id of the last job of a page, and
a digest of the tenant and filters it was made for, so a token used with other filters (or
edited) is a clear 422 naming ``page_token`` rather than a page of something else."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from datetime import datetime

from app.core.exceptions import ConfigurationError
from app.jobs.filters import JobFilter
from app.jobs.repository import Position

VERSION = 1


def _scope(where: JobFilter) -> str:
    status = where.status.value if where.status is not None else None
    scope = json.dumps([where.tenant, status, where.model_name, where.experiment_name])
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode(position: Position, where: JobFilter) -> str:
    body = [VERSION, position.created_at.isoformat(), position.job_id.hex, _scope(where)]
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, where: JobFilter) -> Position:
    """The position a token names; ``ConfigurationError`` on ``page_token`` when it is not
    one of ours or was made for another tenant or other filters."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        version, created_at, job_id, scope = json.loads(raw)
        position = Position(datetime.fromisoformat(created_at), uuid.UUID(hex=job_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ConfigurationError.for_field(
            "page_token", "not a page token of this list; pass the next_page_token of a page"
        ) from None
    if version != VERSION or scope != _scope(where) or position.created_at.tzinfo is None:
        raise ConfigurationError.for_field(
            "page_token",
            "this token was made for another list (other filters or tenant); "
            "use it with the filters of the page that returned it",
        )
    return position
