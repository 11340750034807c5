"""The one place that maps errors to HTTP: ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.exceptions import (
    AuthenticationError,
    ConfigurationError,
    DataAccessError,
    DatasetExistsError,
    IdempotencyConflictError,
    JobStateConflictError,
    ModelRegistryError,
    ModelVersionConflictError,
    PayloadTooLargeError,
    ResourceNotFoundError,
    TooManyJobsError,
    TrainingJobError,
    TrainyardError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemFieldError(BaseModel):
    field: str
    message: str
    location: str | None = None
    type: str | None = None


class Problem(BaseModel):
    """An error, as ``application/problem+json`` (RFC 9457)."""

    type: str = Field(examples=["urn:trainyard:problem:invalid-configuration"])
    title: str
    status: int
    detail: str
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="For invalid input: each field and what is wrong with it."
    )


# An OpenAPI response entry for a problem, for the routers' ``responses``.
PROBLEM_RESPONSE: dict[str, Any] = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "API keys are configured and none (or a wrong one) was sent",
        **PROBLEM_RESPONSE,
    }
}

# Domain exception -> (HTTP status, problem slug). Subclasses inherit their parent's row.
PROBLEMS: dict[type[TrainyardError], tuple[int, str]] = {
    ResourceNotFoundError: (404, "not-found"),
    ConfigurationError: (422, "invalid-configuration"),
    DataAccessError: (422, "data-access"),
    JobStateConflictError: (409, "job-state-conflict"),
    IdempotencyConflictError: (409, "idempotency-conflict"),
    ModelRegistryError: (502, "model-registry"),
    AuthenticationError: (401, "unauthenticated"),
    TooManyJobsError: (429, "too-many-pending-jobs"),
    PayloadTooLargeError: (413, "payload-too-large"),
    TrainingJobError: (500, "training-job"),
    DatasetExistsError: (409, "dataset-exists"),
    ModelVersionConflictError: (409, "model-version-taken"),
}


def problem(status: int, detail: str, *, slug: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:trainyard:problem:{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _lookup(exc: TrainyardError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return 500, "internal"


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TrainyardError)
    status, slug = _lookup(exc)
    extra: dict[str, Any] = {}
    if exc.errors:
        extra["errors"] = [{"field": e.field, "message": e.message} for e in exc.errors]
    response = problem(status, exc.message, slug=slug, **extra)
    if isinstance(exc, AuthenticationError):
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyJobsError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _field(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "body"
    parts = (
        [str(p) for p in loc[1:]]
        if where in ("body", "query", "path", "header")
        else list(map(str, loc))
    )
    return where, ".".join(parts) or where


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        location, field = _field(tuple(error.get("loc", ())))
        errors.append(
            {
                "field": field,
                "location": location,
                "message": error.get("msg", ""),
                "type": error.get("type"),
            }
        )
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "invalid request"
    return problem(422, detail, slug="validation", errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal server error", slug="internal")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TrainyardError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document what the handlers above really send: every error response
    is ``application/problem+json`` with the ``Problem`` schema (FastAPI documents its own
    422 as ``application/json``)."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if not str(code).startswith(("4", "5")):
                    continue
                response["content"] = {"application/problem+json": {"schema": problem_ref}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in components:
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, definition in components["Problem"].pop("$defs", {}).items():
            components.setdefault(name, definition)
    return schema
