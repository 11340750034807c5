"""The model registry: experiments, runs, parameters, metrics, models and their versions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]


class ModelRegistryClientInterface(ABC):
    """What a job needs from a model registry; MLflow's model in all but name."""

    @abstractmethod
    def get_or_create_experiment(self, name: str) -> str:
        """The id of the experiment called ``name``, created when missing."""

    @abstractmethod
    def start_run(self, experiment_id: str, run_name: str, tags: dict[str, str]) -> str:
        """Start a run and return its id."""

    @abstractmethod
    def log_params(self, run_id: str, params: dict[str, Any]) -> None: ...

    @abstractmethod
    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None: ...

    @abstractmethod
    def log_model(self, run_id: str, model: Any, *, name: str, input_example: Any = None) -> str:
        """Store the fitted model with the run; return its model URI."""

    @abstractmethod
    def register_model(self, model_uri: str, name: str, *, run_id: str) -> str:
        """Register ``model_uri`` as a new version of ``name``; return the version."""

    @abstractmethod
    def end_run(self, run_id: str, status: RunStatus) -> None: ...

    def delete_run(self, run_id: str) -> None:  # noqa: B027 (optional: a no-op by default)
        """Mark the run deleted when its job is deleted. A registry that cannot forget runs
        keeps this default, which leaves them."""
