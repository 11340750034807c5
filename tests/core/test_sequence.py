"""IdFloor: rows in id order, a missing id waited for."""

from __future__ import annotations

from app.core.sequence import IdFloor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rows_pass_in_order_and_a_late_commit_is_waited_for() -> None:
    clock = Clock()
    floor: IdFloor[str] = IdFloor(0, hole_seconds=2.0, clock=clock)
    assert floor.add({1: "a", 3: "c"}) == ["a"]  # 2 not committed yet: 3 waits
    clock.now = 1.0
    assert floor.add({2: "b"}) == ["b", "c"]
    assert floor.floor == 3


def test_a_hole_for_good_is_passed_after_one_wait() -> None:
    clock = Clock()
    floor: IdFloor[str] = IdFloor(0, hole_seconds=2.0, clock=clock)
    assert floor.add({2: "b"}) == []
    clock.now = 1.9
    assert floor.add({}) == []
    assert floor.waiting
    clock.now = 2.0
    assert floor.add({}) == ["b"]
    assert floor.floor == 2
    assert not floor.waiting


def test_a_gap_of_any_length_costs_one_wait_not_one_per_id() -> None:
    """Rows deleted by retention or a sequence that ran on leave 100,000 ids missing."""
    clock = Clock()
    floor: IdFloor[str] = IdFloor(10, hole_seconds=2.0, clock=clock)
    assert floor.add({100_011: "x", 100_013: "z"}) == []
    clock.now = 1.9
    assert floor.add({}) == []
    clock.now = 2.0
    # The whole gap below 100,011 at once, and 100,012 too: it was missing since 0.0 as well.
    assert floor.add({}) == ["x", "z"]
    assert floor.floor == 100_013


def test_a_row_read_late_below_a_gap_is_not_skipped() -> None:
    clock = Clock()
    floor: IdFloor[str] = IdFloor(0, hole_seconds=2.0, clock=clock)
    assert floor.add({5: "e"}) == []
    clock.now = 1.5
    assert floor.add({3: "c"}) == []  # 1, 2 and 4 still missing; the wait started at 0.0
    clock.now = 2.0
    assert floor.add({}) == ["c", "e"]
    assert floor.add({4: "d"}) == []  # the floor passed 4 for good
