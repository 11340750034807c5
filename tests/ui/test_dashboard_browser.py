"""The dashboard in headless Chromium (Debian's, driven by Playwright) with every request to
another host refused: submit from the form and watch the live table reach completed without
a reload, the job page's evaluation and trials plots, cancel, predict, the datasets page, and
an API key asked once per session. The tests save a screenshot of each page for the README."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures import REQUIRE_SERVICES, ROOT
from tests.fixtures.jobs import endless_job, job_request, wait_for_job
from tests.fixtures.servers import LiveServer

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow
# Screenshots of each page go to test-artifacts/ (ignored by git); with
# TRAINYARD_UPDATE_SCREENSHOTS=1 they replace the README's, in docs/screenshots/.
SCREENSHOTS = ROOT / (
    "docs/screenshots" if os.environ.get("TRAINYARD_UPDATE_SCREENSHOTS") else "test-artifacts/ui"
)
TIMEOUT_MS = 60_000


def chromium_path() -> str:
    found = os.environ.get("TRAINYARD_TEST_CHROMIUM") or shutil.which("chromium")
    if found is None:
        if REQUIRE_SERVICES:
            pytest.fail("chromium is not installed, and CI requires it (.ci/run installs it)")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield launched
        launched.close()


class Guard:
    """Every request of the context: those to the test server go on, all others abort."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.outside: list[str] = []
        self.errors: list[str] = []

    def route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin or parts.scheme in ("data", "blob"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@pytest.fixture
def guarded(browser: Any) -> Iterator[Any]:
    """A context factory; after the test: no request left for another host, no page error."""
    made: list[tuple[Any, Guard]] = []

    def make(server: LiveServer) -> Any:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        guard = Guard(server.url)
        context.route("**/*", guard.route)
        context.on("weberror", lambda error: guard.errors.append(str(error.error)))
        made.append((context, guard))
        return context

    yield make
    for context, guard in made:
        context.close()
        assert guard.outside == []
        assert guard.errors == []


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def unlabelled(page: Any) -> list[str]:
    """The page's form controls that have no label (each must have one)."""
    found: list[str] = page.evaluate(
        """[...document.querySelectorAll("input, select, textarea")]
             .filter((c) => c.type !== "hidden" && c.labels.length === 0)
             .map((c) => c.name || c.outerHTML)"""
    )
    return found


def overflows(page: Any) -> bool:
    """Whether the page is wider than the window (a layout that does not fit the screen)."""
    wider: bool = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    return wider


def progress(row: Any) -> int:
    return int(row.get_by_role("progressbar").get_attribute("aria-valuenow"))


def test_submit_from_the_form_the_table_follows_it_to_completed(
    live_server: LiveServer, guarded: Any
) -> None:
    context = guarded(live_server)
    table = context.new_page()
    table.goto(f"{live_server.url}/ui")
    table.wait_for_selector('[data-live="on"]')
    table.evaluate("window.loadedOnce = 'yes'")  # gone if the page reloads

    form = context.new_page()
    form.goto(f"{live_server.url}/ui/new")
    form.get_by_label("Model name").fill("ui-iris")
    form.get_by_label("Dataset").select_option("sklearn://iris")
    form.get_by_label("Target column").fill("target")
    form.get_by_label("Algorithm").select_option("RandomForestClassifier")
    form.get_by_label("n_estimators").fill("15")
    form.get_by_label("Run a hyperparameter search").check()
    form.get_by_label("Max trials").fill("5")
    form.get_by_label("Search space (JSON)").fill(
        '{"n_estimators": [5, 10, 20], "max_depth": [2, 3]}'
    )
    assert unlabelled(form) == []
    form.get_by_role("button", name="Dry run").click()
    form.wait_for_selector(".dry-run table.profile")
    assert "150 rows" in form.locator(".dry-run").inner_text()
    shot(form, "new-job")
    form.get_by_role("button", name="Submit job").click()
    form.wait_for_selector('.submitted [data-status="completed"]')
    assert progress(form.locator(".submitted")) == 100
    job_id = form.locator(".submitted a").get_attribute("href").rsplit("/", 1)[1]

    row = table.locator(f'tr[data-job-id="{job_id}"]')
    row.wait_for()
    table.wait_for_selector(f'tr[data-job-id="{job_id}"][data-status="completed"]')
    assert progress(row) == 100
    assert "Completed" in row.inner_text()
    assert "accuracy" in row.inner_text()
    assert table.evaluate("window.loadedOnce") == "yes"

    job = context.new_page()
    job.goto(f"{live_server.url}/ui/jobs/{job_id}")
    job.wait_for_selector('[data-evaluation="drawn"]')
    report = httpx.get(f"{live_server.url}/v1/training-jobs/{job_id}/evaluation").json()
    cells = job.locator(".series-matrix rect.cell")
    assert cells.count() == 9
    counts = [int(cells.nth(i).get_attribute("data-count")) for i in range(9)]
    assert sum(counts) == report["rows"]
    assert counts == [n for row_ in report["classification"]["confusion_matrix"] for n in row_]
    roc = job.locator(".plot-block", has_text="ROC").locator(".series path")
    assert roc.count() == 3
    assert all(roc.nth(i).get_attribute("d").count("L") > 1 for i in range(3))
    points = job.locator(".trials-plot .series-points .point")
    assert points.count() == 5
    best = job.locator(".trials-plot .series-step path").get_attribute("d")
    assert best.startswith("M")
    assert "H" in best
    assert job.locator(".param-plot").count() == 2
    assert job.locator("table.trials tbody tr").count() == 5
    assert "completed" in job.locator(".slot-log pre").inner_text()
    assert job.locator(".timeline .series-stages rect.stage").count() >= 6
    assert unlabelled(job) == []
    assert unlabelled(table) == []
    shot(job, "job")

    # Predict from the form built from the model's feature columns.
    for name, value in {
        "sepal length (cm)": "6.7",
        "sepal width (cm)": "3.0",
        "petal length (cm)": "5.2",
        "petal width (cm)": "2.3",
    }.items():
        job.get_by_label(name, exact=True).fill(value)
    job.get_by_role("button", name="Predict").click()
    predicted = job.locator("output.predicted")
    predicted.wait_for()
    assert predicted.inner_text() in {"0", "1", "2"}
    assert job.locator(".prediction tbody tr").count() == 3


def test_cancel_a_running_job_from_its_page(live_server: LiveServer, guarded: Any) -> None:
    with live_server.client() as client:
        job_id = client.post("/v1/training-jobs", json=endless_job(model_name="ui-endless")).json()[
            "job_id"
        ]
        wait_for_job(client, job_id, statuses={"running"})
        page = guarded(live_server).new_page()
        page.goto(f"{live_server.url}/ui")
        page.wait_for_selector(f'tr[data-job-id="{job_id}"][data-status="running"]')
        shot(page, "jobs")  # a running job beside the finished ones
        page.goto(f"{live_server.url}/ui/jobs/{job_id}")
        page.wait_for_selector('.job-head [data-status="running"]')
        page.wait_for_selector(".slot-log pre:not(:empty)")
        page.get_by_role("button", name="Cancel job").click()
        page.wait_for_selector('.job-head [data-status="cancelled"]')
        assert wait_for_job(client, job_id)["status"] == "cancelled"
        assert "Cancel job" not in page.locator(".slot-actions").inner_text()


def test_datasets_page_uploads_and_profiles(
    live_server: LiveServer, guarded: Any, tmp_path: Path
) -> None:
    csv = tmp_path / "ui-churn.csv"
    lines = ["tenure,plan,churned"] + [
        f"{i % 40},{'basic' if i % 3 else 'pro'},{'yes' if i % 4 == 0 else 'no'}"
        for i in range(120)
    ]
    csv.write_text("\n".join(lines) + "\n")
    page = guarded(live_server).new_page()
    page.goto(f"{live_server.url}/ui/datasets")
    page.get_by_label("Data file").set_input_files(str(csv))
    page.get_by_role("button", name="Upload").click()
    card = page.locator("article.dataset", has_text="ui-churn.csv")
    card.wait_for()
    assert "120" in card.inner_text()
    card.locator("summary").click()
    card.get_by_label("Target column").select_option("churned")
    card.get_by_role("button", name="Profile").click()
    card.locator("table.profile").wait_for()
    assert "yes: 30" in card.inner_text()
    assert unlabelled(page) == []
    shot(page, "datasets")


def test_a_regression_jobs_page_on_a_laptop_screen(live_server: LiveServer, guarded: Any) -> None:
    with live_server.client() as client:
        job_id = client.post(
            "/v1/training-jobs",
            json=job_request(
                model_name="ui-diabetes",
                data_source_config={"path": "sklearn://diabetes", "target_column": "target"},
                algorithm_config={"name": "Ridge", "parameters": {"alpha": 0.5}},
            ),
        ).json()["job_id"]
        assert wait_for_job(client, job_id)["status"] == "completed"
        report = client.get(f"/v1/training-jobs/{job_id}/evaluation").json()
    context = guarded(live_server)
    page = context.new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{live_server.url}/ui/jobs/{job_id}")
    page.wait_for_selector('[data-evaluation="drawn"]')
    scatter = page.locator(".plot-block", has_text="Predicted against actual")
    assert scatter.locator(".series-points .point").count() == len(
        report["regression"]["sample"]["actual"]
    )
    bins = page.locator(".plot-block", has_text="Residuals").locator("rect.bar")
    assert bins.count() == len(report["regression"]["residuals"]["histogram"]["counts"])
    assert (
        page.locator(".plot-block", has_text="Feature importance").locator("rect.bar").count() == 10
    )
    assert not overflows(page)
    page.goto(f"{live_server.url}/ui")
    page.wait_for_selector(f'tr[data-job-id="{job_id}"]')
    assert not overflows(page)


def test_an_api_key_is_asked_once_and_every_view_is_the_tenants(
    tmp_path: Path, guarded: Any
) -> None:
    from app.core.auth import hash_key
    from tests.fixtures.database import alembic_upgrade

    database = f"sqlite:///{tmp_path / 'keys.db'}"
    alembic_upgrade(database)
    (tmp_path / "data").mkdir()
    env = {
        "TRAINYARD_DATABASE_URL": database,
        "TRAINYARD_DATA_ROOTS": str(tmp_path / "data"),
        "TRAINYARD_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "TRAINYARD_MLFLOW_TRACKING_URI": "",
        "TRAINYARD_MAX_N_JOBS": "1",
        "TRAINYARD_POLL_INTERVAL_SECONDS": "0.1",
        "TRAINYARD_SHUTDOWN_GRACE_SECONDS": "0",
        "TRAINYARD_API_KEYS": f"ours:{hash_key('key-ours')},theirs:{hash_key('key-theirs')}",
    }
    with LiveServer(env, tmp_path / "server.log") as server:
        server.start()
        ours = {"Authorization": "Bearer key-ours"}
        theirs = {"Authorization": "Bearer key-theirs"}
        with server.client() as client:
            hidden = client.post(
                "/v1/training-jobs", json=job_request(model_name="theirs"), headers=theirs
            ).json()["job_id"]
            context = guarded(server)
            page = context.new_page()
            page.goto(f"{server.url}/ui")
            page.get_by_role("textbox", name="API key").fill("wrong")
            page.get_by_role("button", name="Use this key").click()
            page.get_by_text("the API key is not valid").wait_for()
            # By keyboard: the prompt has the focus, Enter sends the key.
            assert page.evaluate("document.activeElement.type") == "password"
            page.keyboard.press("Control+A")
            page.keyboard.type("key-ours")
            page.keyboard.press("Enter")
            page.wait_for_selector('[data-live="on"]')
            mine = client.post(
                "/v1/training-jobs", json=job_request(model_name="ours"), headers=ours
            ).json()["job_id"]
            page.wait_for_selector(f'tr[data-job-id="{mine}"][data-status="completed"]')
            assert page.locator(f'tr[data-job-id="{hidden}"]').count() == 0
            # Once per session: the tab's next pages ask nothing.
            other = page
            other.goto(f"{server.url}/ui/jobs/{mine}")
            other.wait_for_selector('.job-head [data-status="completed"]')
            assert other.locator("dialog").count() == 0
            other.goto(f"{server.url}/ui/jobs/{hidden}")
            other.get_by_text("Job not found").wait_for()
