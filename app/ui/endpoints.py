"""The dashboard's pages. Each is one HTML shell with the page's configuration inlined; its
module in ``static/`` reads the JSON API with the browser's API key and draws the page."""

from __future__ import annotations

import json
import uuid
from importlib.resources import files
from string import Template
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from app.config import Settings

STATIC_URL = "/ui/static"
PAGES = {
    "jobs": ("Jobs", "jobs.js"),
    "job": ("Job", "job.js"),
    "new": ("New job", "new.js"),
    "datasets": ("Datasets", "datasets.js"),
}
# The pages are built from the service's own files only: no inline script runs, nothing
# loads from another origin, and connections go back to this service alone.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

router = APIRouter(prefix="/ui", include_in_schema=False)


def _template() -> Template:
    return Template((files("app.ui") / "templates" / "page.html").read_text(encoding="utf-8"))


def page_config(settings: Settings, page: str, job_id: uuid.UUID | None) -> dict[str, Any]:
    """What a page's module needs to know of the server (never a secret)."""
    return {
        "page": page,
        "job_id": str(job_id) if job_id else None,
        "keys_required": bool(settings.api_keys),
        "mlflow_ui_url": settings.mlflow_ui_url.rstrip("/") or None,
    }


def render_page(settings: Settings, page: str, job_id: uuid.UUID | None = None) -> HTMLResponse:
    title, script = PAGES[page]
    # JSON inside <script type="application/json">: "<" escaped so no "</script>" can end it.
    config = json.dumps(page_config(settings, page, job_id)).replace("<", "\\u003c")
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if name == page else ""}>{label}</a>'
        for name, href, label in (
            ("jobs", "/ui", "Jobs"),
            ("new", "/ui/new", "New job"),
            ("datasets", "/ui/datasets", "Datasets"),
        )
    )
    html = _template().substitute(
        title=title, config=config, nav=nav, static=STATIC_URL, script=script, page=page
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    return render_page(_settings(request), "jobs")


@router.get("/", response_class=RedirectResponse)
def jobs_page_slash() -> RedirectResponse:
    return RedirectResponse("/ui")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: uuid.UUID) -> HTMLResponse:
    return render_page(_settings(request), "job", job_id)


@router.get("/new", response_class=HTMLResponse)
def new_job_page(request: Request) -> HTMLResponse:
    return render_page(_settings(request), "new")


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request) -> HTMLResponse:
    return render_page(_settings(request), "datasets")


def install_ui(app: FastAPI) -> None:
    """The pages at ``/ui`` and their static files at ``/ui/static``."""
    static = str(files("app.ui") / "static")
    app.mount(STATIC_URL, StaticFiles(directory=static), name="ui-static")
    app.include_router(router)
