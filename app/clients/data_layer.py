"""``DataLayerClientInterface`` and its default implementation, by their public path."""

from app.integrations.data_layer import (
    DataLayerClientInterface,
    Dataset,
    LocalDataLayerClient,
    SourceCheck,
    build_data_client,
)

__all__ = [
    "DataLayerClientInterface",
    "Dataset",
    "LocalDataLayerClient",
    "SourceCheck",
    "build_data_client",
]
