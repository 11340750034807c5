"""Attempt processes forked before they are needed.

A claim used to wait for the fork, the settings, a database connection and the first
compilation of every fenced write. A spare does all of that while no job waits: it is
forked from the forkserver, makes itself a process-group leader, prepares (``attempt.run_spare``)
and blocks on its end of a pipe. The supervisor that claims a job takes a spare and sends it
the job id and attempt; the spare then runs that one attempt and exits, so every attempt still
has a fresh process and a group of its own. A spare taken is replaced at once, in the
background. The same pipe carries the attempt's word that its outcome is recorded.
"""

from __future__ import annotations

import logging
import pickle
import threading
from typing import Any

from app.execution.attempt import run_spare
from app.execution.forkserver import process_context
from app.execution.payload import AttemptPayload

logger = logging.getLogger(__name__)


class Spare:
    """A started attempt process waiting to be told its job."""

    def __init__(self, payload: AttemptPayload) -> None:
        context = process_context()
        ours, theirs = context.Pipe()
        self.process: Any = context.Process(  # type: ignore[attr-defined]
            target=run_spare, args=(theirs, payload), name="trainyard-spare-attempt"
        )
        self.process.start()
        theirs.close()
        self.handoff = ours

    def hand(self, job_id: str, attempt: int) -> bool:
        """Tell the spare its job; False when it is gone (it died waiting). The pipe stays
        open: the attempt says on it when its outcome is recorded (``Supervisor``)."""
        try:
            self.handoff.send((job_id, attempt))
        except OSError:
            self.handoff.close()
            return False
        return True

    def discard(self) -> None:
        try:
            self.handoff.send(None)
        except OSError:
            pass
        self.handoff.close()
        self.process.join(5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()


class SparePool:
    """Up to ``size`` spares for one payload (the executor's settings and clients)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._ready: list[Spare] = []
        self._key: bytes | None = None
        self._payload: AttemptPayload | None = None
        self._filling = False
        self._closed = False

    def prime(self, payload: AttemptPayload) -> None:
        """Start the first spares for ``payload`` before any job is claimed."""
        if self.size == 0:
            return
        with self._lock:
            self._key, self._payload = pickle.dumps(payload), payload
        self.fill()

    def take(self, payload: AttemptPayload) -> Spare | None:
        """A ready spare made for ``payload``, or None (the caller starts a process itself)."""
        if self.size == 0:
            return None
        key = pickle.dumps(payload)
        with self._lock:
            if self._closed:
                return None
            stale: list[Spare] = []
            if key != self._key:
                stale, self._ready = self._ready, []
                self._key, self._payload = key, payload
            spare = None
            while self._ready and spare is None:
                candidate = self._ready.pop()
                if candidate.process.is_alive():
                    spare = candidate
                else:
                    stale.append(candidate)
        for old in stale:
            old.discard()
        self.fill()
        return spare

    def fill(self) -> None:
        """Start spares up to ``size`` in a background thread (one filler at a time)."""
        with self._lock:
            if self._closed or self._filling or self._payload is None:
                return
            self._filling = True
        threading.Thread(target=self._fill, name="trainyard-spares", daemon=True).start()

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    payload = self._payload
                    if self._closed or payload is None or len(self._ready) >= self.size:
                        return
                spare = Spare(payload)
                with self._lock:
                    if self._closed or pickle.dumps(payload) != self._key:
                        leftover: Spare | None = spare
                    else:
                        self._ready.append(spare)
                        leftover = None
                if leftover is not None:
                    leftover.discard()
        except Exception:
            logger.exception("could not start a spare attempt process")
        finally:
            with self._lock:
                self._filling = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, []
        for spare in ready:
            spare.discard()
