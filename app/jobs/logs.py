"""The log of one attempt, kept with the job: ``ARTIFACT_ROOT/<job_id>/attempt-<n>.log``.

The training process writes it (its own logging, warnings, and the traceback when it fails);
the service reads it back for ``GET /v1/training-jobs/{job_id}/logs``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from app.core.logging_setup import TEXT_FORMAT, LogFormat, make_handler, set_process_job

_ATTEMPT_FILE = re.compile(r"^attempt-(?P<n>\d+)\.log$")


def job_directory(artifact_root: Path | str, job_id: str) -> Path:
    return Path(artifact_root).resolve() / job_id


def attempt_log_path(artifact_root: Path | str, job_id: str, attempt: int) -> Path:
    return job_directory(artifact_root, job_id) / f"attempt-{attempt}.log"


def start_attempt_log(
    artifact_root: Path | str, job_id: str, attempt: int, *, server_format: LogFormat
) -> Path:
    """In the training process: log to the attempt's file, and to stderr like the server."""
    path = attempt_log_path(artifact_root, job_id, attempt)
    path.parent.mkdir(parents=True, exist_ok=True)
    set_process_job(job_id)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if isinstance(handler, logging.FileHandler):
            handler.close()  # a kept process's previous attempt
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.addHandler(to_file)
    root.addHandler(make_handler(server_format))
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return path


def end_attempt_log() -> None:
    """In a training process kept for another attempt: close this attempt's file, so that
    what the supervisor appends comes after everything the attempt wrote."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
            handler.close()
    set_process_job(None)


def attempt_logs(artifact_root: Path | str, job_id: str) -> list[tuple[int, Path]]:
    """The attempt logs of a job, oldest attempt first."""
    directory = job_directory(artifact_root, job_id)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _ATTEMPT_FILE.match(path.name)
        if match and path.is_file():
            found.append((int(match["n"]), path))
    return sorted(found)


def read_logs(artifact_root: Path | str, job_id: str, attempt: int | None = None) -> str:
    """One attempt's log, or all of them with a header line before each."""
    logs = attempt_logs(artifact_root, job_id)
    if attempt is not None:
        logs = [(n, path) for n, path in logs if n == attempt]
        return logs[0][1].read_text(encoding="utf-8", errors="replace") if logs else ""
    parts = []
    for n, path in logs:
        parts.append(f"==> attempt {n} <==\n")
        parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "".join(parts)


_REASONS = {
    "cancel": "cancellation was requested; the supervisor killed the process group",
    "deadline": "max_runtime_seconds passed; the supervisor killed the process group",
    "shutdown": "the server shut down; the supervisor killed the process group",
    "lost": "the attempt lost its claim on the job; the supervisor killed the process group",
    "kept": "the training process ended the attempt and was kept for the next one",
}


def note_attempt_end(
    artifact_root: Path | str | None,
    job_id: str,
    attempt: int,
    *,
    reason: str | None,
    exitcode: int | None,
    outcome: str,
) -> None:
    """In the supervisor: end the attempt's log with how the process ended, which the
    process itself cannot write when it was killed."""
    if artifact_root is None:
        return
    if reason is not None:
        why = _REASONS.get(reason, reason)
    elif exitcode is not None and exitcode < 0:
        why = f"the training process was killed by signal {-exitcode}"
    else:
        why = f"the training process exited with code {exitcode}"
    stamp = logging.Formatter(TEXT_FORMAT).formatTime(
        logging.LogRecord("", logging.INFO, "", 0, "", None, None)
    )
    path = attempt_log_path(artifact_root, job_id, attempt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} INFO supervisor: {why} (outcome: {outcome})\n")
    except OSError:
        logging.getLogger(__name__).warning("could not write to %s", path, exc_info=True)
