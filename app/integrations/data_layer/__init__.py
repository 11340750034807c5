"""Outbound: where training data comes from (local roots, bundled sets, https, s3)."""

from app.integrations.data_layer.bundled import BUNDLED_DATASETS, BUNDLED_SCHEME, bundled_frame
from app.integrations.data_layer.interface import (
    EXTENSIONS,
    PATH_FIELD,
    DataLayerClientInterface,
    Dataset,
    SourceCheck,
    format_of,
)
from app.integrations.data_layer.local import LocalDataLayerClient, build_data_client

__all__ = [
    "BUNDLED_DATASETS",
    "BUNDLED_SCHEME",
    "EXTENSIONS",
    "PATH_FIELD",
    "DataLayerClientInterface",
    "Dataset",
    "LocalDataLayerClient",
    "SourceCheck",
    "build_data_client",
    "bundled_frame",
    "format_of",
]
