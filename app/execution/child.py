"""What every training child (an attempt or a trial) does first: lead its own process group,
die with its parent and with its supervisor, and let the forkserver die with its owner."""

from __future__ import annotations

import os
import signal
import threading
import time


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a process from a later one with its pid)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _watch_supervisor(pid: int, started: str | None) -> None:
    """Die with the supervisor: an attempt nobody watches must not train on alone.

    The forkserver is no help here: it stays alive as long as any process it started does.
    """

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if process_start_time(pid) != started:
                os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def _die_with_parent(parent: int) -> None:
    """On Linux, have the kernel SIGKILL this process the moment its parent (the forkserver)
    exits: no need for the watch thread to be scheduled on a busy machine."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.killpg(0, signal.SIGKILL)


def _release_forkserver() -> None:
    """Let the forkserver die with the process that started it.

    Every process the forkserver starts holds a copy of the pipe whose end-of-file tells the
    forkserver that its owner is gone. While an attempt held it, a supervisor killed with
    SIGKILL (a Celery worker, the API) left its forkserver running; now the forkserver exits
    with its owner, and ``_die_with_parent`` has the kernel kill the attempt at that moment.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if server is not None and fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None
        server._forkserver_address = None


def kill_process_group(pid: int) -> None:
    """SIGKILL the child and every process in its group (joblib/loky workers)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the training process did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the training process was killed by {name}"
    return f"the training process exited with code {code} without recording a result"
