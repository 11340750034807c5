"""The forkserver every attempt is forked from, with scikit-learn, pandas and the trainer
imported once (``app.execution.preload``), so starting an attempt costs a fork."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.context import BaseContext

_context: BaseContext | None = None
_context_lock = threading.Lock()
# What the forkserver imports before its first fork; the service may add to it at start-up
# (MLflow, when a registry is on), which counts until the server has started.
FORKSERVER_PRELOAD = ["app.execution.preload"]


def preload_first(module: str) -> None:
    """Have the forkserver import ``module`` before the engine's preload (whose
    ``gc.freeze`` then covers its objects too)."""
    if module not in FORKSERVER_PRELOAD:
        FORKSERVER_PRELOAD.insert(0, module)


def process_context() -> BaseContext:
    """The forkserver context; its server preloads scikit-learn, pandas and the trainer."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
            _context = context
        return _context


def _noop() -> None:
    return None


def warm_up() -> None:
    """Start the forkserver and let it finish its preload, so the first job starts at once."""
    process = process_context().Process(target=_noop, name="trainyard-warm-up")  # type: ignore[attr-defined]
    process.start()
    process.join()
