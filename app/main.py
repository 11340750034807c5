"""The ASGI application: routers, error handlers and the service's lifespan. Wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.algorithms import endpoints as algorithms
from app.config import Settings, get_settings
from app.core.auth import KeyRing
from app.core.logging_setup import configure_logging
from app.core.middleware import BodySizeLimit
from app.core.openapi import install_docs
from app.core.problems import install_error_handlers
from app.core.routing import DirectPaths
from app.datasets import endpoints as datasets
from app.jobs import endpoints as jobs
from app.jobs.retention import RetentionSweeper
from app.operations import endpoints as operations
from app.operations.metrics import HttpMetrics, MetricsMiddleware
from app.predictions import endpoints as predictions
from app.service import MLModelTrainingService
from app.streams import endpoints as streams
from app.streams.hub import StreamHub
from app.streams.service import StreamService
from app.ui.endpoints import install_ui
from app.webhooks import endpoints as webhooks
from app.webhooks.delivery import WebhookSender
from app.webhooks.repository import WebhookRepository
from app.webhooks.service import WebhookService


def create_app(
    settings: Settings | None = None, service: MLModelTrainingService | None = None
) -> FastAPI:
    settings = settings or (service.settings if service is not None else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        svc = service or MLModelTrainingService(settings=settings)
        app.state.service = svc
        app.state.jobs = svc.jobs
        app.state.predictions = svc.predictions
        hub = StreamHub(
            svc.repository,
            poll_seconds=settings.stream_poll_seconds,
            fallback_poll_seconds=settings.stream_fallback_poll_seconds,
            artifact_root=settings.artifact_root,
        )
        app.state.streams = StreamService(
            jobs=svc.jobs,
            repository=svc.repository,
            hub=hub,
            heartbeat=settings.stream_heartbeat_seconds,
        )
        hooks = WebhookRepository(svc.engine)
        app.state.webhooks = WebhookService(repository=hooks, settings=settings)
        sender = WebhookSender(jobs=svc.repository, webhooks=hooks, settings=settings)
        retention = RetentionSweeper(jobs=svc.jobs, settings=settings)
        await svc.jobs.open_async_reads()
        svc.start()
        sender.start()
        retention.start()
        try:
            yield
        finally:
            await svc.jobs.close_async_reads()
            retention.stop()
            sender.stop()
            await hub.close()
            if owned:
                svc.close()

    app = FastAPI(
        title="Trainyard",
        version=__version__,
        summary="Run real scikit-learn training jobs over HTTP.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.keyring = KeyRing.parse(settings.api_keys)
    app.state.metrics_require_key = settings.metrics_require_key
    # Innermost: the polled status read skips the routing, inside the body limit and metrics.
    app.add_middleware(DirectPaths, paths=jobs.DIRECT_PATHS)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_request_bytes, exempt=("/v1/datasets",)
    )
    install_error_handlers(app)
    app.include_router(streams.router)  # before jobs: /stream is not a job id
    app.include_router(jobs.router)
    app.include_router(operations.router)
    app.include_router(algorithms.router)
    install_docs(app)
    app.state.http_metrics = HttpMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.http_metrics)
    app.include_router(datasets.router)
    app.include_router(predictions.router)
    app.include_router(webhooks.router)
    install_ui(app)
    return app


configure_logging(get_settings().log_format, get_settings().log_level)
app = create_app()
