"""Routes documented like any other but served without FastAPI's per-request machinery.

A ``DirectRoute`` is an ``APIRoute``: its OpenAPI operation, its validation and its answers
come from its endpoint's signature as usual. Each request first goes to a ``direct`` function
of the request alone, which returns the response, or ``None`` to hand the request to FastAPI's
own handler (which solves the endpoint's dependencies and validates its parameters). For a
route polled thousands of times a second, solving the dependencies (and FastAPI's endpoint
context and body handling) costs more than the work itself; the direct function does the same
work for the common request and leaves every other case (a malformed parameter, dependency
overrides) to the full handler, so answers do not change. Errors it raises go through the
application's one error table like any route's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

Direct = Callable[[Request], Awaitable[Response | None]]


class DirectRoute(APIRoute):
    direct: Direct

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()
        direct = type(self).direct

        async def handler(request: Request) -> Response:
            if not request.app.dependency_overrides:
                response = await direct(request)
                if response is not None:
                    return response
            return await full(request)

        return handler


def direct_route(direct: Direct) -> type[APIRoute]:
    """A route class whose requests go to ``direct`` first (``route_class_override``)."""
    return type("DirectRoute", (DirectRoute,), {"direct": staticmethod(direct)})


@dataclass(frozen=True)
class DirectPath:
    """A direct function for the requests of one method and path template, as
    ``DirectPaths`` takes it; ``path`` is also the route's label in the HTTP metrics."""

    method: str
    path: str
    direct: Direct


class DirectPaths:
    """Pure ASGI, innermost of the application's middlewares: a request whose method and path
    match a ``DirectPath`` goes to its direct function before the application's own routing,
    exception and exit-stack layers, which cost a polled read more than the read itself. The
    metrics, body limit and logging outside it see the request as before (the route's label is
    set as the router would). Everything else goes on to the application unchanged: another
    path, an application with a root path, dependency overrides (tests), a direct function
    that declines (``None``) and one that raises: then the full route serves the request
    again, and its error goes through the application's one error table. A direct function
    must therefore only answer what its own route would be routed (an earlier route's path,
    such as ``/stream`` beside ``/{job_id}``, must be declined)."""

    def __init__(self, app: ASGIApp, *, paths: Sequence[DirectPath]) -> None:
        self.app = app
        self.paths = [(p.method, compile_path(p.path)[0], p) for p in paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for method, pattern, path in self.paths:
                if scope["method"] != method:
                    continue
                match = pattern.match(scope["path"])
                if match is None:
                    continue
                response = await self._direct(path, scope, receive, match.groupdict())
                if response is not None:
                    scope["route"] = path
                    await response(scope, receive, send)
                    return
                break
        await self.app(scope, receive, send)

    @staticmethod
    async def _direct(
        path: DirectPath, scope: Scope, receive: Receive, params: dict[str, str]
    ) -> Response | None:
        request = Request({**scope, "path_params": params}, receive)
        if request.app.dependency_overrides:
            return None
        try:
            return await path.direct(request)
        except Exception:  # served again by the full route, whose error table answers
            return None
