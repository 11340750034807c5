"""A cap on request bodies, enforced while they stream in (Content-Length can be absent)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.exceptions import PayloadTooLargeError
from app.core.problems import problem


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413, except under ``exempt`` path prefixes
    (uploads, which enforce a limit of their own while they write to disk)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    def _message(self) -> str:
        return (
            f"the request body is over the limit of {self.max_bytes} bytes "
            "(TRAINYARD_MAX_REQUEST_BYTES)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await problem(413, self._message(), slug="payload-too-large")(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLargeError(self._message())
            return message

        await self.app(scope, counted, send)
