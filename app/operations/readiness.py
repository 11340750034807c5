"""What ``/readyz`` checks besides the database: the folders the service writes to.

A job would only fail later (in ``storing_artifacts`` or ``registering``) on a folder it cannot
write, so readiness says so now, naming it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.config import Settings
from app.integrations.registry.interface import ModelRegistryClientInterface
from app.integrations.registry.mlflow import MlflowRegistryClient
from app.integrations.registry.store import is_remote


def writable(folder: Path) -> str:
    """Whether a file can be created in ``folder`` (made if missing): "ok", or the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-"):
            pass
    except FileExistsError:
        return f"error: {folder.resolve()} is not a folder"
    except OSError as exc:
        return f"error: {folder.resolve()} is not writable ({exc.strerror or type(exc).__name__})"
    return "ok"


def storage_checks(
    settings: Settings, registry: ModelRegistryClientInterface | None
) -> dict[str, str]:
    """The artifact root, and a local MLflow store and its artifacts: each "ok" or the
    problem."""
    checks = {"artifacts": writable(Path(settings.artifact_root))}
    if isinstance(registry, MlflowRegistryClient) and not is_remote(registry.tracking_uri):
        folders = [registry.artifact_root] if registry.artifact_root else []
        if registry.tracking_uri.startswith("sqlite:"):
            database = registry.tracking_uri.removeprefix("sqlite:///")
            if database and database != ":memory:":
                folders.insert(0, Path(database).parent)
        problems = [p for p in map(writable, folders) if p != "ok"]
        checks["registry"] = problems[0] if problems else "ok"
    return checks
