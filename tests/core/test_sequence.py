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
