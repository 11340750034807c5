"""What every training child (an attempt or a trial) does first: lead its own process group,
die with its parent and with its supervisor, and let the forkserver die with its owner; its
memory limit; and whether a spare may be kept for another attempt (``Keeper``)."""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# A kept process whose resident memory grew past this much over what it held before its first
# attempt exits instead (what the heap keeps after a large job is given back only by an exit).
KEEP_MAX_GROWTH_BYTES = 256 * 1024 * 1024


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


def enter_child(supervisor_pid: int | None) -> None:
    """The first steps of an attempt's or a trial's process, forked from the forkserver: a
    process group of its own (a kill takes everything it starts), dying with its parent and
    with its supervisor, and the forkserver's descriptors let go."""
    os.setpgrp()
    _die_with_parent(os.getppid())
    _release_forkserver()
    if supervisor_pid:
        _watch_supervisor(supervisor_pid, process_start_time(supervisor_pid))


def close_pipe(pipe: Any) -> None:
    """Close the child's end of its pipe to the supervisor, if it has one and it is open."""
    if pipe is not None:
        try:
            pipe.close()
        except OSError:
            pass


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


def _vm_size() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def limit_memory(megabytes: int) -> None:
    # The address space the runtime already maps (libraries, thread stacks) is not the job's
    # to pay for: the job may allocate ``megabytes`` on top of it.
    limit = _vm_size() + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Keeper:
    """Whether a spare may run one more attempt after the one it ran.

    An attempt starts as it would in a fresh process: the global random states are those the
    process had before its first attempt (what the forkserver gave it), warnings already shown
    once are shown again, and the log goes to the attempt's own file. A process is not kept
    after an attempt that did not record its outcome, that set a memory limit (the limit stays
    with the process), that left a child process or a thread running, after
    ``attempts_per_process`` attempts, or once its resident memory grew by more than
    ``KEEP_MAX_GROWTH_BYTES``.
    """

    def __init__(self, attempts_per_process: int) -> None:
        import random

        import numpy as np

        self.left = attempts_per_process
        self.random_state = random.getstate()
        self.numpy_state = np.random.get_state()
        self.resident = _resident_bytes()
        self.threads = threading.active_count()

    def before(self) -> None:
        import random
        import warnings

        import numpy as np

        random.setstate(self.random_state)
        np.random.set_state(self.numpy_state)
        warnings._filters_mutated()  # type: ignore[attr-defined]  # forget "shown once"

    def after(self, *, recorded: bool, memory_limited: bool) -> bool:
        """Whether the process may run another attempt after the one that just ended."""
        self.left -= 1
        if not recorded or memory_limited or self.left < 1:
            return False
        if _has_children():
            logger.info("not kept for another attempt: a child process still runs")
            return False
        if threading.active_count() > self.threads:
            logger.info("not kept for another attempt: a thread it started still runs")
            return False
        if _resident_bytes() - self.resident > KEEP_MAX_GROWTH_BYTES:
            logger.info("not kept for another attempt: its memory grew")
            return False
        return True


def _resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def _has_children() -> bool:
    """Whether any thread of this process has a child process (Linux's ``children`` file)."""
    tasks = Path("/proc/self/task")
    try:
        return any((task / "children").read_text().strip() for task in tasks.iterdir())
    except OSError:
        return True  # cannot tell: do not keep the process
