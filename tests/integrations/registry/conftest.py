"""An MLflow tracking store (SQLite) per test, copied from one created once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.integrations.registry.mlflow import MlflowRegistryClient
from app.main import create_app
from tests.fixtures.app import make_settings


@dataclass(frozen=True)
class MlflowStore:
    tracking_uri: str
    artifact_root: Path

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlflow-template")
    path = folder / "mlflow.db"
    MlflowRegistryClient(f"sqlite:///{path}", artifact_root=folder / "mlruns").initialize()
    return path


@pytest.fixture
def mlflow_store(mlflow_template: Path, tmp_path: Path) -> MlflowStore:
    path = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template, path)
    return MlflowStore(f"sqlite:///{path}", tmp_path / "mlruns")


@pytest.fixture
def registry_settings(
    database_url: str, tmp_path: Path, data_root: Path, mlflow_store: MlflowStore
) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        data_root,
        mlflow_tracking_uri=mlflow_store.tracking_uri,
        mlflow_artifact_root=mlflow_store.artifact_root,
    )


@pytest.fixture
def registry_client(registry_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(registry_settings)) as test_client:
        yield test_client
