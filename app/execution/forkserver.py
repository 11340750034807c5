"""The forkserver every attempt is forked from, with scikit-learn, pandas and the trainer
imported once (``app.execution.preload``), so starting an attempt costs a fork."""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.context
import os
import threading
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import BaseContext, set_spawning_popen
from typing import Any

_context: BaseContext | None = None
_context_lock = threading.Lock()
# What the forkserver imports before its first fork; the service may add to it at start-up
# (MLflow, when a registry is on), which counts until the server has started.
FORKSERVER_PRELOAD = ["app.execution.preload"]


class _Popen(popen_forkserver.Popen):
    """CPython's forkserver ``Popen`` (3.11-3.13 ``_launch``), minus the caller's main module.

    The preparation data a child receives names ``__main__`` (``init_main_from_path`` or
    ``init_main_from_name``), and the child imports it again before running the target. A
    script that calls ``asyncio.run(...)`` at module level, with no ``__name__`` guard, would
    then run itself in every training process and fail in multiprocessing's bootstrapping
    check. An attempt's target lives in ``app.execution``: the child never needs ``__main__``.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        _parent_w = os.dup(w)
        close_fds = util.close_fds  # type: ignore[attr-defined]
        self.finalizer = util.Finalize(self, close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


class _Context(multiprocessing.context.ForkServerContext):
    Process = _Process


def preload_first(module: str) -> None:
    """Have the forkserver import ``module`` before the engine's preload (whose
    ``gc.freeze`` then covers its objects too)."""
    if module not in FORKSERVER_PRELOAD:
        FORKSERVER_PRELOAD.insert(0, module)


def process_context() -> BaseContext:
    """The forkserver context; its server preloads scikit-learn, pandas and the trainer.

    Neither the server (its preload list leaves out ``__main__``) nor a child (``_Popen``)
    imports the caller's main module."""
    global _context
    with _context_lock:
        if _context is None:
            context = _Context()
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
