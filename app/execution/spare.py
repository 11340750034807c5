"""Attempt processes forked before they are needed.

A claim used to wait for the fork, the settings, a database connection and the first
compilation of every fenced write. A spare does all of that while no job waits: it is
forked from the forkserver, makes itself a process-group leader, prepares (``attempt.run_spare``)
and blocks on its end of a pipe. The supervisor that claims a job takes a spare and sends it
the job id and attempt; the spare runs that attempt in its own process group. The same pipe
carries the attempt's word that its outcome is recorded and, when the process is fit to run
another attempt (``child.Keeper``), that it is READY: the supervisor then gives it back
to the pool instead of killing it, and the next claim takes it, warm (its pages touched, its
connections open) rather than newly forked. A spare that does not come back (killed,
exited, not kept) is replaced in the background.
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
        self.key = pickle.dumps(payload)
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
    """Up to ``size`` spares for one payload (the executor's settings and clients), counting
    those lent to a running attempt: each comes back (``give_back``) or is replaced
    (``release``). With ``size`` equal to the executor's slots, there is a ready spare for
    every free slot; the most recently given back is taken first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._ready: list[Spare] = []
        self._lent: set[Spare] = set()
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
                    self._lent.add(spare)
                else:
                    stale.append(candidate)
        for old in stale:
            old.discard()
        self.fill()
        return spare

    def give_back(self, spare: Spare) -> None:
        """``spare`` ran its attempt and waits for another: ready again (or, when the pool
        is closed, full, or made for another payload, told to exit)."""
        with self._lock:
            self._lent.discard(spare)
            extra: Spare | None = spare
            if not self._closed and self._key == spare.key and spare.process.is_alive():
                self._ready.append(spare)
                extra = self._ready.pop(0) if len(self._ready) > self.size else None
        if extra is not None:
            extra.discard()

    def release(self, spare: Spare) -> None:
        """``spare`` will not come back soon (it exits, is killed, or finishes something
        after its attempt): start another in its place."""
        with self._lock:
            if spare not in self._lent:
                return
            self._lent.discard(spare)
        self.fill()

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
                    held = len(self._ready) + len(self._lent)
                    if self._closed or payload is None or held >= self.size:
                        return
                spare = Spare(payload)
                with self._lock:
                    if self._closed or spare.key != self._key:
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
            self._lent.clear()
        for spare in ready:
            spare.discard()
