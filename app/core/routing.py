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

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

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
