"""The ``id`` of a stream's frames, and what ``Last-Event-ID`` resumes from.

A stream interleaves three ordered sequences: the job's events (``job_event.id``), its trials
(``trial.id``) and its log (attempt number and byte offset in that attempt's file). One id
carries the position in all three, ``e<event id>.t<trial id>.l<attempt>:<offset>`` (a tenant's
stream has no log: ``e<id>.t<id>``), and every frame carries the position after it. Resuming
sends exactly what lies past each position: nothing is lost, nothing repeats. A ``status``
frame is a snapshot of the job, not part of a sequence; it carries the position unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from app.core.exceptions import ConfigurationError

HEADER = "Last-Event-ID"
_PATTERN = re.compile(r"^e(?P<e>\d{1,18})\.t(?P<t>\d{1,18})(?:\.l(?P<a>\d{1,9}):(?P<o>\d{1,18}))?$")


@dataclass(frozen=True)
class Cursor:
    event: int = 0
    trial: int = 0
    attempt: int = 0
    offset: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if text is None or not text.strip():
            return cls()
        match = _PATTERN.match(text.strip())
        if match is None:
            raise ConfigurationError.for_field(
                HEADER, f"{text[:64]!r} is not an id this server sent (e<n>.t<n>[.l<n>:<n>])"
            )
        return cls(int(match["e"]), int(match["t"]), int(match["a"] or 0), int(match["o"] or 0))

    def render(self, *, logs: bool) -> str:
        base = f"e{self.event}.t{self.trial}"
        return f"{base}.l{self.attempt}:{self.offset}" if logs else base

    def past_event(self, event_id: int) -> Cursor:
        return replace(self, event=max(self.event, event_id))

    def past_trial(self, trial_id: int) -> Cursor:
        return replace(self, trial=max(self.trial, trial_id))

    def at_log(self, attempt: int, offset: int) -> Cursor:
        return replace(self, attempt=attempt, offset=offset)
