"""A reader's position in a table whose integer ids grow: ``job_event``, ``trial``.

Readers poll ``id > floor``. On PostgreSQL an id is taken when the row is inserted, not when
its transaction commits, so a reader may see id 8 before the transaction holding id 7 commits;
a reader that moved past 8 would never see 7. ``IdFloor`` therefore hands rows out in id order
and stops below a missing id until it shows up, or until it has been missing for
``hole_seconds`` (a rolled-back insert leaves a hole for good). On SQLite writers are serial,
so ids commit in order and holes only come from rollbacks.

An id is missing from the moment a higher id was first read, so every id of a gap has been
missing as long as the earliest row read past it: a gap of any length (rolled-back inserts,
rows deleted by retention, a sequence that ran on) costs one ``hole_seconds`` wait at most,
not one per id.
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
        # Rows read past the floor, in the order they were first read, with when.
        self._ahead: dict[int, tuple[float, Row]] = {}

    def add(self, rows: Mapping[int, Row]) -> list[Row]:
        """Take rows read past the floor; return, in id order, those the floor now passes."""
        now = self.clock()
        for row_id, row in rows.items():
            if row_id > self.floor and row_id not in self._ahead:
                self._ahead[row_id] = (now, row)
        passed: list[Row] = []
        while self._ahead:
            following = self.floor + 1
            if following in self._ahead:
                passed.append(self._ahead.pop(following)[1])
                self.floor = following
                continue
            # Every row ahead lies past the gap; the first one read has waited longest.
            first_read = next(iter(self._ahead.values()))[0]
            if now - first_read < self.hole_seconds:
                break
            self.floor = min(self._ahead) - 1  # the whole gap, at once
        return passed

    @property
    def waiting(self) -> bool:
        """Rows are held back behind a missing id."""
        return bool(self._ahead)
