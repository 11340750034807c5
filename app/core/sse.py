"""Server-sent events on the wire (the WHATWG HTML "event stream" format).

FastAPI has its own ``EventSourceResponse``; the streams write the frames themselves because
each frame's ``id`` is a composite cursor and the heartbeat must go out while a stream waits
on a shared queue, which a plain async generator of bytes does simply.
"""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "text/event-stream"
# A comment line: ignored by EventSource, but it keeps proxies and load balancers from
# closing a quiet connection.
HEARTBEAT = b": heartbeat\n\n"
# Response headers: no caching, and no buffering by nginx-like proxies.
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(event: str, data: Any, *, id: str | None = None, retry_ms: int | None = None) -> bytes:
    """One event; ``data`` is sent as one line of compact JSON."""
    lines = [f"event: {event}"]
    if id is not None:
        lines.append(f"id: {id}")
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n\n").encode()
