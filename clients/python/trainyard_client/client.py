"""A small typed Python client for the Trainyard HTTP API (httpx inside).

```python
from trainyard_client import TrainyardClient

with TrainyardClient("http://127.0.0.1:8000") as client:
    job = client.submit({"model_name": "iris", ...})
    done = client.wait(job["job_id"])
    print(done["metrics"])
```

Responses are returned as the JSON the API sends (dicts and lists); errors raise
``TrainyardAPIError`` carrying the problem document.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import httpx

from trainyard_client.sse import StreamEvent, parse

DEFAULT_URL = "http://127.0.0.1:8000"
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
JSONDict = dict[str, Any]


class TrainyardAPIError(Exception):
    """The API answered with an error; ``problem`` is its problem document when it sent one."""

    def __init__(self, status_code: int, problem: JSONDict) -> None:
        self.status_code = status_code
        self.problem = problem
        self.detail = str(problem.get("detail") or problem.get("title") or "error")
        super().__init__(f"HTTP {status_code}: {self.detail}")

    @property
    def field_errors(self) -> list[JSONDict]:
        errors = self.problem.get("errors")
        return list(errors) if isinstance(errors, list) else []


class TrainyardClient:
    """One connection pool to one Trainyard server."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("TRAINYARD_URL") or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("TRAINYARD_API_KEY")
        headers = {"Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> TrainyardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.is_error:
            self._raise_for(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- training jobs ----------------------------------------------------------------------

    def submit(self, request: Mapping[str, Any], *, idempotency_key: str | None = None) -> JSONDict:
        """Submit a job; returns its status (``pending``)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: JSONDict = self._json(
            "POST", "/v1/training-jobs", json=dict(request), headers=headers
        )
        return result

    def status(self, job_id: str | uuid.UUID) -> JSONDict:
        result: JSONDict = self._json("GET", f"/v1/training-jobs/{job_id}")
        return result

    def list_jobs(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        page_token: str | None = None,
        include_total: bool = False,
        status: str | None = None,
        model_name: str | None = None,
        experiment_name: str | None = None,
    ) -> JSONDict:
        """A page of jobs, newest first: ``{"items", "next_page_token", "total", "limit",
        "offset"}``; pass ``next_page_token`` back as ``page_token`` (same filters) for the
        next page. ``total`` is None unless ``include_total``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if page_token is not None:
            params = {"limit": limit, "page_token": page_token}
        if include_total:
            params["include_total"] = "true"
        filters = {"status": status, "model_name": model_name, "experiment_name": experiment_name}
        params.update({k: v for k, v in filters.items() if v is not None})
        result: JSONDict = self._json("GET", "/v1/training-jobs", params=params)
        return result

    def iter_jobs(
        self,
        *,
        page_size: int = 100,
        status: str | None = None,
        model_name: str | None = None,
        experiment_name: str | None = None,
    ) -> Iterator[JSONDict]:
        """Every job that matches, newest first, page by page along the cursor."""
        token: str | None = None
        while True:
            page = self.list_jobs(
                limit=page_size,
                page_token=token,
                status=status,
                model_name=model_name,
                experiment_name=experiment_name,
            )
            yield from page["items"]
            token = page.get("next_page_token")
            if token is None:
                return

    def delete_job(self, job_id: str | uuid.UUID) -> None:
        """Delete a finished job with its events, trials, model and logs. Raises
        ``TrainyardAPIError`` (409) while it is pending or running, (404) when there is none."""
        self._request("DELETE", f"/v1/training-jobs/{job_id}")

    def cancel(self, job_id: str | uuid.UUID) -> JSONDict:
        result: JSONDict = self._json("POST", f"/v1/training-jobs/{job_id}/cancel")
        return result

    def events(self, job_id: str | uuid.UUID) -> list[JSONDict]:
        result: list[JSONDict] = self._json("GET", f"/v1/training-jobs/{job_id}/events")
        return result

    def trials(self, job_id: str | uuid.UUID) -> list[JSONDict]:
        result: list[JSONDict] = self._json("GET", f"/v1/training-jobs/{job_id}/trials")
        return result

    def evaluation(self, job_id: str | uuid.UUID) -> JSONDict:
        """The evaluation report of a completed job (confusion matrix, curves, residuals,
        feature importance); a 409 problem while the job has not completed."""
        result: JSONDict = self._json("GET", f"/v1/training-jobs/{job_id}/evaluation")
        return result

    def logs(self, job_id: str | uuid.UUID, *, attempt: int | None = None) -> str:
        params = {"attempt": attempt} if attempt is not None else {}
        return self._request(
            "GET", f"/v1/training-jobs/{job_id}/logs", params=params, headers={"Accept": "*/*"}
        ).text

    def stream(
        self,
        job_id: str | uuid.UUID | None = None,
        *,
        last_event_id: str | None = None,
        reconnect: bool = True,
        read_timeout: float | None = None,
        **filters: str,
    ) -> Iterator[StreamEvent]:
        """Server-sent events of one job (ending after its terminal status) or, without
        ``job_id``, of all the tenant's jobs (``filters``: status, model_name,
        experiment_name; it never ends). A dropped connection is resumed from the last id
        received, so nothing is lost or repeated. An older server without streams raises
        ``TrainyardAPIError`` (404) before the first frame; ``read_timeout``: ``TimeoutError``
        when nothing (not even a heartbeat) comes for that long."""
        path = f"/v1/training-jobs/{job_id}/stream" if job_id else "/v1/training-jobs/stream"
        params = {k: v for k, v in filters.items() if v is not None}
        received = False
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                with self._http.stream(
                    "GET",
                    path,
                    params=params,
                    headers=headers,
                    timeout=httpx.Timeout(30, read=None),
                ) as response:
                    if response.is_error:
                        response.read()
                        self._raise_for(response)
                    for frame in parse(response.iter_lines()):
                        received = True
                        last_event_id = frame.id or last_event_id
                        yield frame
                return  # the server ended the stream: the job finished
            except httpx.ReadTimeout:
                if read_timeout is None:
                    raise
                raise TimeoutError(f"nothing from the stream for {read_timeout}s") from None
            except httpx.TransportError:
                if not (reconnect and received):
                    raise
                time.sleep(0.5)

    def updates(
        self, job_id: str | uuid.UUID, *, timeout: float | None = None, poll_interval: float = 0.5
    ) -> Iterator[JSONDict]:
        """The job's status each time it changes, until it ends: from its event stream, or
        by polling an older server that has none. ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            if deadline is None:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} did not end within {timeout}s")
            return remaining

        try:
            for frame in self.stream(job_id, read_timeout=left()):
                if frame.event == "status":
                    yield frame.data
                    left()
            return
        except TrainyardAPIError as exc:
            if exc.status_code not in (404, 405) or exc.problem.get("type", "").endswith(
                ":not-found"
            ):
                raise
        except TimeoutError:
            raise TimeoutError(f"job {job_id} did not end within {timeout}s") from None
        while True:
            job = self.status(job_id)
            yield job
            if job["status"] in TERMINAL_STATUSES:
                return
            left()
            time.sleep(poll_interval)

    def wait(
        self,
        job_id: str | uuid.UUID,
        *,
        timeout: float | None = None,
        poll_interval: float = 0.5,
        on_update: Callable[[JSONDict], None] | None = None,
    ) -> JSONDict:
        """Follow the job until it ends and return its last status (``TimeoutError`` after
        ``timeout`` seconds); ``on_update`` sees every status on the way."""
        job: JSONDict | None = None
        for job in self.updates(job_id, timeout=timeout, poll_interval=poll_interval):
            if on_update is not None:
                on_update(job)
        if job is None or job["status"] not in TERMINAL_STATUSES:
            return self.poll(job_id, poll_interval=poll_interval, on_update=on_update)
        return job

    def poll(
        self,
        job_id: str | uuid.UUID,
        *,
        deadline: float | None = None,
        poll_interval: float = 0.5,
        on_update: Callable[[JSONDict], None] | None = None,
    ) -> JSONDict:
        """Poll the status until the job ends (or ``deadline``, a monotonic time, passes)."""
        while True:
            job = self.status(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in TERMINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']}")
            time.sleep(poll_interval)

    def download_model(self, job_id: str | uuid.UUID, destination: Path | BinaryIO) -> int:
        """Stream the trained model (skops file) to a path or an open binary file; returns
        the number of bytes written."""
        written = 0
        with self._http.stream(
            "GET", f"/v1/training-jobs/{job_id}/model", headers={"Accept": "*/*"}
        ) as response:
            if response.is_error:
                response.read()
                self._raise_for(response)
            if isinstance(destination, Path):
                with destination.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        written += handle.write(chunk)
            else:
                for chunk in response.iter_bytes():
                    written += destination.write(chunk)
        return written

    @staticmethod
    def _raise_for(response: httpx.Response) -> NoReturn:
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text.strip() or response.reason_phrase}
        if not isinstance(body, dict):
            body = {"detail": str(body)}
        raise TrainyardAPIError(response.status_code, body)

    def predict(self, job_id: str | uuid.UUID, rows: Sequence[Mapping[str, Any]]) -> JSONDict:
        """Predictions of the job's model for raw feature rows."""
        result: JSONDict = self._json(
            "POST",
            f"/v1/training-jobs/{job_id}/predictions",
            json={"rows": [dict(r) for r in rows]},
        )
        return result

    # -- discovery and operations -----------------------------------------------------------

    def algorithms(self, *, task: str | None = None) -> JSONDict:
        params = {"task": task} if task else {}
        result: JSONDict = self._json("GET", "/v1/algorithms", params=params)
        return result

    def algorithm(self, name: str) -> JSONDict:
        result: JSONDict = self._json("GET", f"/v1/algorithms/{name}")
        return result

    def upload_dataset(self, path: Path) -> JSONDict:
        """Upload a data file into the server's data root (``POST /v1/datasets``)."""
        with path.open("rb") as handle:
            result: JSONDict = self._json(
                "POST", "/v1/datasets", files={"file": (path.name, handle)}
            )
        return result

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False
