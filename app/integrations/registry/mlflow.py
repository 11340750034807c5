"""The MLflow implementation of ``ModelRegistryClientInterface``.

It works with ``mlflow-skinny`` alone: its SQL tracking and registry stores need only
SQLAlchemy and Alembic, which Trainyard already has, so the embedded default is a local
``sqlite:///`` store. A ``http(s)://`` URI points at an MLflow server instead.

An instance holds only strings, so it pickles to the training processes; each process
builds its own ``MlflowClient`` on first use. MLflow is imported lazily: the API process
pays for the import only when it talks to the registry.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from app.core.exceptions import ModelRegistryError
from app.integrations.registry.evaluation import EvaluationArtifacts
from app.integrations.registry.interface import ModelRegistryClientInterface, RunStatus
from app.integrations.registry.mlmodel import pip_requirements
from app.integrations.registry.store import (
    create_store,
    fluent_lock,
    global_tracking_uri,
    is_remote,
    is_sql_store,
    open_client,
)

# MLflow 3 reports usage to a remote host from a thread it starts at import time unless told
# not to. A self-hosted service must not call out on its own; an operator who wants the
# telemetry can set the variable to "false".
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

logger = logging.getLogger(__name__)

T = TypeVar("T")

# SQLite answers "database is locked" at once (without waiting) when two processes both read
# and then try to write; MLflow reports it as TEMPORARILY_UNAVAILABLE. Such calls are retried.
RETRY_CODES = frozenset({"TEMPORARILY_UNAVAILABLE"})
RETRY_ATTEMPTS = 8
MAX_PARAM_LENGTH = 6000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000


class MlflowRegistryClient(EvaluationArtifacts, ModelRegistryClientInterface):
    """Experiments, runs, params, metrics, models and versions in MLflow.

    ``artifact_root`` is where experiments created here keep their artifacts when the
    tracking URI is a database (``sqlite:///...``); an MLflow server decides that itself.
    ``alias`` is moved to every newly registered version ("" sets none). ``images``: whether
    a run gets the evaluation report's images beside its JSON.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        artifact_root: str | Path | None = None,
        alias: str = "candidate",
        images: bool = True,
    ) -> None:
        if not tracking_uri:
            raise ValueError("an MLflow tracking URI is required")
        self.tracking_uri = tracking_uri
        self.artifact_root = (
            None
            if artifact_root is None or is_remote(tracking_uri)
            else Path(artifact_root).expanduser().resolve()
        )
        self.alias = alias
        self.images = images
        self._client: Any = None
        self._lock = threading.Lock()
        # The artifact URI of each run this process started: what MLflow's artifact calls
        # would read the whole run back from the store to learn.
        self._artifact_uris: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "artifact_root": self.artifact_root,
            "alias": self.alias,
            "images": self.images,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client = None
        self._lock = threading.Lock()
        self._artifact_uris = {}

    def __repr__(self) -> str:
        return f"MlflowRegistryClient({self.tracking_uri!r})"

    # -- plumbing ---------------------------------------------------------------------------

    def initialize(self) -> None:
        """Create the store (tables, the Default experiment) once, before any job uses it.

        Two training processes opening a new SQLite store at the same time would both try to
        create its tables; the service calls this at start-up so they never have to.
        """
        if is_sql_store(self.tracking_uri):
            root = self.artifact_root
            self._call("create the tracking store", lambda: create_store(self.tracking_uri, root))

    def mlflow(self) -> Any:
        """The ``MlflowClient`` of this process (made on first use, with both of its stores).
        Making it opens the stores, which fails like any other registry call: as a
        ``ModelRegistryError``."""
        with self._lock:
            if self._client is None:
                self._client = self._call(
                    "open the tracking store", lambda: open_client(self.tracking_uri)
                )
            return self._client

    def warm_up(self) -> None:
        """Run once each kind of read a job's calls make, on names and ids no job has (a
        spare attempt process does it before it is given a job): SQLAlchemy compiles and
        caches each statement, and sets up the ORM's loaders, at its first use in a process.
        Nothing is written: on SQLite a write would take the store's one write lock, which
        the running attempts' calls wait for."""
        from mlflow.exceptions import MlflowException

        client = self.mlflow()
        missing = f"trainyard-warm-up-{uuid.uuid4().hex}"
        reads: list[Callable[[], Any]] = [
            lambda: client.get_experiment_by_name(missing),
            lambda: client.get_run(uuid.uuid4().hex),
            lambda: client.get_logged_model(f"m-{uuid.uuid4().hex}"),
            lambda: client.get_registered_model(missing),
        ]
        for read in reads:
            try:
                read()
            except MlflowException:
                pass  # not found: what was asked

    def _artifacts(self, location: str) -> Any:
        """The artifact repository of ``location`` (a run's or a logged model's), as MLflow's
        client makes it once it has read the location from the store."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        return get_artifact_repository(location, tracking_uri=self.tracking_uri)

    def _known_artifacts(self, run_id: str) -> Any:
        """The run's artifact repository when this process started the run (None otherwise,
        or for Databricks, whose client adds profile details to the location)."""
        location = self._artifact_uris.get(run_id)
        if location is None or self.tracking_uri.startswith("databricks"):
            return None
        return self._artifacts(location)

    def _call(self, what: str, action: Callable[[], T]) -> T:
        from mlflow.exceptions import MlflowException

        delay = 0.05
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return action()
            except MlflowException as exc:
                if exc.error_code in RETRY_CODES and attempt < RETRY_ATTEMPTS:
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                raise ModelRegistryError(
                    f"MLflow ({self.tracking_uri}) could not {what}: {exc.message}"
                ) from exc
            except ModelRegistryError:
                raise
            except Exception as exc:
                raise ModelRegistryError(
                    f"MLflow ({self.tracking_uri}) could not {what}: {type(exc).__name__}: {exc}"
                ) from exc
        raise AssertionError("unreachable")

    # -- the interface ----------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> str:
        """Safe when several processes create the same new experiment at once."""
        from mlflow.exceptions import MlflowException

        client = self.mlflow()

        def get_or_create() -> str:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                location = (
                    (self.artifact_root / "experiments" / name).as_uri()
                    if self.artifact_root is not None
                    else None
                )
                try:
                    return str(client.create_experiment(name, artifact_location=location))
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    experiment = client.get_experiment_by_name(name)
                    if experiment is None:
                        raise
            if experiment.lifecycle_stage != "active":
                raise ModelRegistryError(
                    f"MLflow experiment {name!r} is deleted; restore it in MLflow, "
                    "or delete it permanently so that it can be created again"
                )
            return str(experiment.experiment_id)

        return self._call(f"get or create experiment {name!r}", get_or_create)

    def start_run(self, experiment_id: str, run_name: str, tags: dict[str, str]) -> str:
        client = self.mlflow()
        run = self._call(
            f"start run {run_name!r}",
            lambda: client.create_run(experiment_id, run_name=run_name, tags=dict(tags)),
        )
        run_id = str(run.info.run_id)
        if run.info.artifact_uri:
            self._artifact_uris[run_id] = str(run.info.artifact_uri)
        return run_id

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        client = self.mlflow()
        items = [Param(str(k), _param_value(v)) for k, v in params.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            batch = items[start : start + PARAMS_PER_BATCH]
            self._call("log parameters", lambda b=batch: client.log_batch(run_id, params=b))  # type: ignore[misc]

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        client = self.mlflow()
        now = int(time.time() * 1000)
        items = [
            Metric(str(k), float(v), now, 0) for k, v in metrics.items() if math.isfinite(float(v))
        ]
        for start in range(0, len(items), METRICS_PER_BATCH):
            batch = items[start : start + METRICS_PER_BATCH]
            self._call("log metrics", lambda b=batch: client.log_batch(run_id, metrics=b))  # type: ignore[misc]

    def log_model(
        self,
        run_id: str,
        model: Any,
        *,
        name: str,
        input_example: Any = None,
        trusted_types: list[str] | None = None,
    ) -> str:
        """Log the pipeline with the sklearn flavour, in skops format (no pickle).

        The types it needs beyond skops' defaults are checked against Trainyard's reviewed
        list and recorded with the model, so ``mlflow.sklearn.load_model`` loads it safely.
        A caller that already checked them (from the saved file) passes ``trusted_types``,
        which spares serialising the model once more.
        """
        import mlflow.sklearn

        from app.trainer.artifacts import (
            UntrustedModelError,
            model_requirements,
            model_trusted_types,
        )

        try:
            trusted = trusted_types if trusted_types is not None else model_trusted_types(model)
        except UntrustedModelError as exc:
            raise ModelRegistryError(f"the model cannot be logged safely: {exc}") from exc
        client = self.mlflow()
        run = self._call(f"read run {run_id}", lambda: client.get_run(run_id))

        def log() -> str:
            # The logged model is made here so that it belongs to the run's experiment
            # (``log_model`` alone files it under the process's active experiment).
            logged = client.create_logged_model(
                experiment_id=run.info.experiment_id,
                name=name,
                source_run_id=run_id,
                params=dict(run.data.params),
                tags={k: v for k, v in run.data.tags.items() if k.startswith("trainyard.")},
            )
            with fluent_lock, global_tracking_uri(self.tracking_uri), warnings.catch_warnings():
                # MLflow hints that integer columns cannot hold missing values; the pipeline
                # imputes them, and the hint would be noise in every job's log.
                warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
                info = mlflow.sklearn.log_model(
                    model,
                    name=name,
                    run_id=run_id,
                    model_id=logged.model_id,
                    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                    skops_trusted_types=trusted,
                    pip_requirements=pip_requirements() + model_requirements(model),
                    input_example=input_example,
                )
            return str(info.model_uri)

        return self._call("log the model", log)

    def log_batch(self, run_id: str, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Parameters and metrics in one call (one transaction of the store), batch limits
        permitting."""
        from mlflow.entities import Metric, Param

        client = self.mlflow()
        now = int(time.time() * 1000)
        items = [Param(str(k), _param_value(v)) for k, v in params.items()]
        values = [
            Metric(str(k), float(v), now, 0) for k, v in metrics.items() if math.isfinite(float(v))
        ]
        if len(items) > PARAMS_PER_BATCH or len(values) > METRICS_PER_BATCH:
            self.log_params(run_id, params)
            self.log_metrics(run_id, metrics)
            return
        self._call(
            "log parameters and metrics",
            lambda: client.log_batch(run_id, params=items, metrics=values),
        )

    def log_model_file(
        self,
        run_id: str,
        model_file: Path,
        *,
        name: str,
        trusted_types: list[str],
        requirements: list[str],
        signature: Any = None,
        experiment_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Log a pipeline already saved with skops as an MLflow model of the sklearn flavour,
        the file as it is: no second serialisation, no load to check it (the caller checked
        its types), no inference of requirements, no serving-input validation. Loads with
        ``mlflow.sklearn.load_model`` and ``mlflow.pyfunc.load_model`` like ``log_model``'s."""
        import tempfile

        from mlflow.entities import LoggedModelOutput

        from app.integrations.registry.mlmodel import write_model_folder

        client = self.mlflow()
        if experiment_id is None or params is None or tags is None:
            run = self._call(f"read run {run_id}", lambda: client.get_run(run_id))
            experiment_id = str(run.info.experiment_id)
            params = dict(run.data.params)
            tags = {k: v for k, v in run.data.tags.items() if k.startswith("trainyard.")}

        def log() -> str:
            logged = client.create_logged_model(
                experiment_id=experiment_id,
                name=name,
                source_run_id=run_id,
                params={k: _param_value(v) for k, v in (params or {}).items()},
                tags=tags,
            )
            client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
            with tempfile.TemporaryDirectory(prefix="trainyard-model-") as folder:
                local = Path(folder)
                write_model_folder(
                    local,
                    model_file,
                    model_id=logged.model_id,
                    artifact_path=logged.artifact_location,
                    run_id=run_id,
                    signature=signature,
                    trusted_types=trusted_types,
                    requirements=requirements,
                )
                if self.tracking_uri.startswith("databricks"):
                    client.log_model_artifacts(logged.model_id, str(local))
                else:
                    # The location is the one just created: MLflow's ``log_model_artifacts``
                    # would read the logged model back to learn it.
                    self._artifacts(logged.artifact_location).log_artifacts(str(local))
            return f"models:/{logged.model_id}"

        return self._call("log the model", log)

    def register_model(
        self, model_uri: str, name: str, *, run_id: str, tags: dict[str, str] | None = None
    ) -> str:
        """A new version of registered model ``name``; ``alias`` moves to it. The version
        carries the run's ``trainyard.`` tags (read from the run unless given)."""
        from mlflow.exceptions import MlflowException

        client = self.mlflow()
        if tags is None:
            run = self._call(f"read run {run_id}", lambda: client.get_run(run_id))
            tags = {k: v for k, v in run.data.tags.items() if k.startswith("trainyard.")}
        model_id = (
            model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        )

        def ensure_registered_model() -> None:
            try:
                client.create_registered_model(name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise

        def create_version() -> Any:
            # MLflow resolves a ``models:/`` source through the process's tracking URI.
            with fluent_lock, global_tracking_uri(self.tracking_uri):
                return client.create_model_version(
                    name, source=model_uri, run_id=run_id, tags=tags, model_id=model_id
                )

        def create_version_and_model() -> Any:
            # Usually the registered model exists: try the version first, one call.
            try:
                return create_version()
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
            ensure_registered_model()
            return create_version()

        version = self._call(f"register a version of {name!r}", create_version_and_model)
        if self.alias:
            # Through the registry client: ``MlflowClient.set_registered_model_alias`` first
            # reads the whole registered model (its versions, tags and aliases) to refuse a
            # prompt, and the version was just created under this name.
            registry = client._get_registry_client()

            def set_alias() -> None:
                try:
                    registry.set_registered_model_alias(name, self.alias, version.version)
                except MlflowException:
                    # Two versions of one model registered at once: both inserted the alias
                    # row and the other commit won (a UNIQUE constraint). Once more moves it.
                    registry.set_registered_model_alias(name, self.alias, version.version)

            self._call(f"set alias {self.alias!r} of {name!r}", set_alias)
        return str(version.version)

    def end_run(self, run_id: str, status: RunStatus) -> None:
        client = self.mlflow()
        self._call(f"end run {run_id}", lambda: client.set_terminated(run_id, status=status))

    def delete_run(self, run_id: str) -> None:
        """MLflow's soft delete: the run moves to the deleted lifecycle stage (``mlflow gc``
        purges it for good); a run already gone is fine."""
        from mlflow.exceptions import MlflowException

        client = self.mlflow()

        def delete() -> None:
            try:
                client.delete_run(run_id)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise

        self._call(f"delete run {run_id}", delete)

    # -- beyond the interface ---------------------------------------------------------------

    def run_status(self, run_id: str) -> str:
        client = self.mlflow()
        run = self._call(f"read run {run_id}", lambda: client.get_run(run_id))
        return str(run.info.status)


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict | list | tuple):
        import json

        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."
