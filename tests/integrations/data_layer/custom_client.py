"""A data layer client configured by import path (TRAINYARD_DATA_LAYER_CLIENT) in the tests."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.datasets import make_moons

from app.config import Settings
from app.integrations.data_layer import Dataset, LocalDataLayerClient, SourceCheck
from app.integrations.data_layer.formats import fingerprint_frame
from app.schemas import DataSourceConfig

SCHEME = "moons://"


class MoonsClient(LocalDataLayerClient):
    """Everything the default client reads, plus generated ``moons://<rows>`` datasets."""

    def check_source(self, config: DataSourceConfig) -> SourceCheck:
        if config.path.startswith(SCHEME):
            return SourceCheck(config.path, "generated", ["x0", "x1", "label"])
        return super().check_source(config)

    def fetch(self, config: DataSourceConfig, columns: Sequence[str] | None = None) -> Dataset:
        if config.path.startswith(SCHEME):
            X, y = make_moons(int(config.path.removeprefix(SCHEME)), noise=0.1, random_state=0)
            import pandas as pd

            frame = pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "label": y})
            return Dataset(frame, config.path, "generated", fingerprint_frame(frame), 0)
        return super().fetch(config, columns)


def build(settings: Settings) -> MoonsClient:
    client = MoonsClient(settings.data_roots, max_rows=settings.max_rows)
    return client


def not_a_client(settings: Settings) -> object:
    return object()
