"""Process helpers for the engine tests: who is in a process group, and when it is gone."""

from __future__ import annotations

import os
import re
import time
import uuid

from sqlalchemy import create_engine, text


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def attempt_pgid(database_url: str, job_id: str, attempt: int, timeout: float = 30) -> int:
    """The process group running ``attempt`` of the job, from the lease owner the supervisor
    records once the child has started."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                row = connection.execute(
                    text("SELECT attempt, lease_owner, status FROM training_job WHERE id = :id"),
                    {"id": uuid.UUID(job_id).hex if "sqlite" in database_url else job_id},
                ).first()
            if row is not None and row.attempt == attempt and row.lease_owner:
                match = re.search(r"pgid=(\d+)", row.lease_owner)
                if match:
                    return int(match.group(1))
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"attempt {attempt} of job {job_id} never started")


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
