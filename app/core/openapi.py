"""The OpenAPI docs pages, served with their JavaScript and CSS from this service.

Swagger UI and ReDoc come from the ``fastapi-offline`` package's static files (no CDN), so the
pages work on a machine with no internet access. Every operation's request and response
examples come from ``app.core.openapi_examples``, merged into the generated OpenAPI document.
"""

from __future__ import annotations

from copy import deepcopy
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.core.openapi_examples import OPERATION_EXAMPLES
from app.core.problems import document_problems

STATIC_URL = "/static/docs"


def static_directory() -> str:
    return str(files("fastapi_offline") / "static")


def add_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """Put each operation's request and response examples into the OpenAPI document."""
    for (method, path), examples in OPERATION_EXAMPLES.items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue  # an endpoint this build does not have
        request = examples.get("request")
        if request is not None and "requestBody" in operation:
            for media in operation["requestBody"].get("content", {}).values():
                media["examples"] = deepcopy(request)
        for code, (media_type, example) in examples.get("responses", {}).items():
            response = operation.setdefault("responses", {}).setdefault(
                str(code), {"description": "Example"}
            )
            content = response.setdefault("content", {}).setdefault(media_type, {})
            content["example"] = deepcopy(example)
    return schema


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc``, self-hosted; the app must be made with
    ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC_URL, StaticFiles(directory=static_directory()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = "/docs/oauth2-redirect"

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = add_examples(document_problems(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API docs",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API reference",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
