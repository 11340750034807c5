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
    # The evaluation report's images.
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "app.integrations.registry.plots",
):
    import_module(_name)
