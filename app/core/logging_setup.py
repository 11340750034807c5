"""Server logging: one JSON object per line, with ``job_id`` on every line about a job.

uvicorn's own loggers keep their handlers (readable access lines); everything else, the
training processes included, goes through the root logger set up here.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The job a piece of code works for, when no argument says so (a training process is one job).
current_job_id: ContextVar[str | None] = ContextVar("trainyard_job_id", default=None)
_process_job_id: str | None = None
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_THREAD_JOB = re.compile(r"trainyard-job-(?P<id>[0-9a-f-]{36})")
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def set_process_job(job_id: str | None) -> None:
    """Mark every later line of this process as about ``job_id`` (a training process)."""
    global _process_job_id
    _process_job_id = job_id


def job_id_of(record: logging.LogRecord) -> str | None:
    """The job a record is about: an explicit ``extra``, a UUID argument, the supervisor
    thread's name, the context or the training process, or a job id in the message."""
    explicit = getattr(record, "job_id", None)
    if explicit:
        return str(explicit)
    args = record.args if isinstance(record.args, tuple) else ()
    for arg in args:
        if isinstance(arg, uuid.UUID):
            return str(arg)
    match = _THREAD_JOB.search(record.threadName or threading.current_thread().name)
    if match:
        return match["id"]
    context = current_job_id.get() or _process_job_id
    if context:
        return context
    # Last resort: a job id written into the message itself ("... /v1/training-jobs/<id>").
    found = _UUID.search(record.getMessage())
    return found.group(0) if found else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        job_id = job_id_of(record)
        if job_id:
            entry["job_id"] = job_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key != "job_id" and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        entry["process"] = record.process
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def make_handler(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    return handler


def configure_logging(log_format: LogFormat = "json", level: str = "INFO") -> None:
    """Replace the root logger's handlers; idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_trainyard", False):
            root.removeHandler(handler)
    handler = make_handler(log_format)
    handler._trainyard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
