"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.service import MLModelTrainingService


def get_service(request: Request) -> MLModelTrainingService:
    service: MLModelTrainingService = request.app.state.service
    return service


ServiceDep = Annotated[MLModelTrainingService, Depends(get_service)]
