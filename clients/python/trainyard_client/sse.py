"""Reading a server-sent event stream (the WHATWG "event stream" format) from httpx lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StreamEvent:
    """One frame: its type (``status``, ``event``, ``trial``, ``log``, ``ready``), its ``id``
    (send it back as ``Last-Event-ID`` to resume after it) and its JSON data."""

    event: str
    id: str | None
    data: Any


def parse(lines: Iterable[str]) -> Iterator[StreamEvent]:
    """Frames from the stream's lines; comments (heartbeats) are skipped."""
    event: str = "message"
    event_id: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield StreamEvent(event, event_id, json.loads("\n".join(data)))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
