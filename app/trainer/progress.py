"""Seconds left in a fit or a search, from the rate measured so far."""

from __future__ import annotations

import time

# Below this share of the work done (or this time spent), a rate says too little to trust.
MIN_FRACTION = 0.02
MIN_SECONDS = 0.5


class EtaMeter:
    """Estimates the time left in one stage from how fast its fraction has moved.

    The rate is measured from the first report of the stage, so set-up work before the fit
    (building the model, the first chunk's thread pool) counts towards the rate, as it
    should: it is work the stage has to do.
    """

    def __init__(self) -> None:
        self.stage: str | None = None
        self.started = 0.0
        self.start_fraction = 0.0

    def update(self, stage: str, fraction: float, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if stage != self.stage:
            self.stage, self.started, self.start_fraction = stage, now, fraction
            return None
        if fraction >= 1.0:
            return 0.0
        done = fraction - self.start_fraction
        elapsed = now - self.started
        if done < MIN_FRACTION or elapsed < MIN_SECONDS:
            return None
        return round(elapsed / done * (1.0 - fraction), 1)
