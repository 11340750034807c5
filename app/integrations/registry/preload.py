"""Imported by the forkserver when a registry is on, so a training process starts with MLflow
(and its SQL stores) already imported instead of spending seconds importing them per job."""

from importlib import import_module

# First: it sets MLflow's telemetry opt-out before MLflow is imported.
import_module("app.integrations.registry.mlflow")
for _name in (
    "mlflow",
    "mlflow.sklearn",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    # What logging a model folder uses (its MLmodel, signature and environment files), imported
    # lazily by MLflow: tens of milliseconds in every job otherwise.
    "mlflow.pyfunc",
    "mlflow.models",
    "mlflow.models.signature",
    "mlflow.utils.environment",
    # Imported (OpenTelemetry's metrics SDK with it) each time the tracking URI is set around
    # a model version's creation (``mlflow.set_tracking_uri`` resets the tracer provider).
    "mlflow.tracing.processor.base_mlflow",
    # Imported by ``mlflow.get_tracking_uri`` when no URI is set globally (the version's
    # creation makes a client of its own, which asks): a first job in each process paid it.
    "mlflow.store.tracking.file_store",
    "app.integrations.registry.mlmodel",
    "app.integrations.registry.store",
    # The evaluation report's images.
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "app.integrations.registry.plots",
):
    import_module(_name)
