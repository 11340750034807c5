"""Dependencies every router shares: the caller's tenant, and the metrics guard.

Each domain's endpoints define the dependency on their own service (``request.app.state``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.core.auth import KeyRing

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key, as an alternative header"
)


async def get_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> str:
    """The tenant of the caller's API key (``""`` when no keys are configured).

    Async although it never awaits: a hash and a few compares cost microseconds, far less
    than the hop to the thread pool that FastAPI makes for every sync dependency."""
    keyring: KeyRing = request.app.state.keyring
    return keyring.tenant_for(credentials.credentials if credentials else api_key)


async def request_tenant(request: Request) -> str:
    """``get_tenant`` for a route that does not solve dependencies (``app.core.routing``): the
    same schemes, called here rather than declared, so the OpenAPI document is unchanged."""
    return await get_tenant(request, await bearer(request), await api_key_header(request))


async def guard_metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> None:
    """With TRAINYARD_METRICS_REQUIRE_KEY, /metrics needs a valid key like the API."""
    if request.app.state.metrics_require_key:
        await get_tenant(request, credentials, api_key)


TenantDep = Annotated[str, Depends(get_tenant)]
