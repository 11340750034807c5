"""A reader's position in a table whose integer ids grow: ``job_event``, ``trial``.

Readers poll ``id > floor``. On PostgreSQL an id is taken when the row is inserted, not when
its transaction commits, so a reader may see id 8 before the transaction holding id 7 commits;
a reader that moved past 8 would never see 7. ``IdFloor`` therefore hands rows out in id order
and stops below a missing id until it shows up, or until it has been missing for
``hole_seconds`` (a rolled-back insert leaves a hole for good). On SQLite writers are serial,
so ids commit in order and holes only come from rollbacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

Row = TypeVar("Row")


class IdFloor(Generic[Row]):
    def __init__(
        self,
        floor: int,
        *,
        hole_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.floor = floor
        self.hole_seconds = hole_seconds
        self.clock = clock
        self._ahead: dict[int, Row] = {}
        self._missing_since: dict[int, float] = {}

    def add(self, rows: Mapping[int, Row]) -> list[Row]:
        """Take rows read past the floor; return, in id order, those the floor now passes."""
        for row_id, row in rows.items():
            if row_id > self.floor:
                self._ahead.setdefault(row_id, row)
        passed: list[Row] = []
        now = self.clock()
        while self._ahead:
            following = self.floor + 1
            if following in self._ahead:
                passed.append(self._ahead.pop(following))
            elif now - self._missing_since.setdefault(following, now) < self.hole_seconds:
                break
            self._missing_since.pop(following, None)
            self.floor = following
        return passed

    @property
    def waiting(self) -> bool:
        """Rows are held back behind a missing id."""
        return bool(self._ahead)
