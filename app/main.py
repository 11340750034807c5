"""The ASGI application: routers, error handlers and the service's lifespan. Wiring only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import health, models, training_jobs
from app.config import Settings, get_settings
from app.errors import install_error_handlers
from app.service import MLModelTrainingService


def create_app(
    settings: Settings | None = None, service: MLModelTrainingService | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        svc = service or MLModelTrainingService(settings=settings or get_settings())
        app.state.service = svc
        svc.start()
        try:
            yield
        finally:
            if owned:
                svc.close()

    app = FastAPI(
        title="Trainyard",
        version=__version__,
        summary="Run real scikit-learn training jobs over HTTP.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(training_jobs.router)
    app.include_router(health.router)
    app.include_router(models.router)
    return app


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
