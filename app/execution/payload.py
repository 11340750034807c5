"""What a training process is handed: plain data, pickled to the forkserver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.integrations.data_layer import DataLayerClientInterface
from app.integrations.registry.interface import ModelRegistryClientInterface


@dataclass
class AttemptPayload:
    """Settings as JSON, and the clients the service was given (which must pickle)."""

    settings: dict[str, Any]
    supervisor_pid: int = 0
    data_layer_client: DataLayerClientInterface | None = None
    model_registry_client: ModelRegistryClientInterface | None = None
