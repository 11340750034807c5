"""Dependencies shared by the routers: the service, and the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.auth import KeyRing
from app.service import MLModelTrainingService

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key, as an alternative header"
)


def get_service(request: Request) -> MLModelTrainingService:
    service: MLModelTrainingService = request.app.state.service
    return service


def get_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> str:
    """The tenant of the caller's API key (``""`` when no keys are configured)."""
    keyring: KeyRing = request.app.state.keyring
    return keyring.tenant_for(credentials.credentials if credentials else api_key)


ServiceDep = Annotated[MLModelTrainingService, Depends(get_service)]
TenantDep = Annotated[str, Depends(get_tenant)]
