"""The dashboard's pages and files as the service serves them: every page a shell with its
configuration, nothing referenced from another host, the static modules there."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.fixtures.app import make_settings

STATIC = Path(__file__).resolve().parents[2] / "app" / "ui" / "static"
PAGES = ["/ui", f"/ui/jobs/{uuid.uuid4()}", "/ui/new", "/ui/datasets"]


def config_of(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="ui-config">(.*?)</script>', html)
    assert found, html
    loaded: dict[str, object] = json.loads(found.group(1))
    return loaded


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_a_shell_of_this_service_only(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references
    assert all(r.startswith(("/", "#")) and not r.startswith("//") for r in references)
    for reference in references:
        if reference.startswith("/ui/static/"):
            assert client.get(reference).status_code == 200, reference
    config = config_of(html)
    assert config["keys_required"] is False
    assert config["mlflow_ui_url"] is None
    assert config["page"] == {"/ui": "jobs", "/ui/new": "new", "/ui/datasets": "datasets"}.get(
        path, "job"
    )


def test_static_modules_reach_no_other_host() -> None:
    files = sorted(STATIC.iterdir())
    assert {f.name for f in files} >= {"api.js", "charts.js", "jobs.js", "job.js", "style.css"}
    for path in files:
        text = path.read_text()
        # The one absolute URL is the SVG namespace, an identifier that is never fetched.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert urls == set(), path.name
        assert "@import" not in text, path.name
        assert "import(" not in text, path.name


def test_a_malformed_job_id_is_a_422_and_the_slash_redirects(client: TestClient) -> None:
    assert client.get("/ui/jobs/not-a-uuid").status_code == 422
    response = client.get("/ui/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/ui"


def test_keys_and_the_mlflow_link_reach_the_page(
    database_url: str, tmp_path: Path, data_root: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        data_root,
        api_keys=["team:" + "0" * 64],
        mlflow_ui_url="http://127.0.0.1:5000/",
    )
    with TestClient(create_app(settings)) as client:
        page = client.get("/ui")  # the shell needs no key; its data calls do
        assert page.status_code == 200
        assert client.get("/v1/training-jobs").status_code == 401
    config = config_of(page.text)
    assert config["keys_required"] is True
    assert config["mlflow_ui_url"] == "http://127.0.0.1:5000"
    assert "0" * 64 not in page.text
