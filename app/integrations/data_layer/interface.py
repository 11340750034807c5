"""What the service and the workers ask of a data layer, and the shapes it answers in."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from app.core.exceptions import ConfigurationError
from app.integrations.data_layer.config import DataSourceConfig

PATH_FIELD = "data_source_config.path"
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".feather": "feather",
    ".arrow": "feather",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass
class SourceCheck:
    """What a cheap look at a source tells before any job is created."""

    location: str
    format: str
    columns: list[str] | None
    size_bytes: int | None = None


@dataclass
class Dataset:
    frame: pd.DataFrame
    location: str
    format: str
    fingerprint: str
    size_bytes: int
    details: dict[str, Any] = field(default_factory=dict)

    def lineage(self) -> dict[str, Any]:
        """What was read, as the job records it: where, which format, its fingerprint, size."""
        return {
            "location": self.location,
            "format": self.format,
            "fingerprint": self.fingerprint,
            "size_bytes": self.size_bytes,
            "rows": int(len(self.frame)),
            "columns": int(self.frame.shape[1]),
        }


class DataLayerClientInterface(ABC):
    """Fetches a DataFrame for a ``DataSourceConfig``."""

    @abstractmethod
    def check_source(self, config: DataSourceConfig) -> SourceCheck:
        """Cheap checks at submit time; raise ``ConfigurationError`` naming the problem."""

    @abstractmethod
    def fetch(self, config: DataSourceConfig, columns: Sequence[str] | None = None) -> Dataset:
        """Read the data (only ``columns`` when given); raise ``DataAccessError`` on failure."""


def format_of(name: str, given: str | None, field_name: str = "data_source_config.type") -> str:
    """The declared format, or the one the extension of ``name`` tells."""
    if given is not None:
        return given
    found = EXTENSIONS.get(Path(name).suffix.lower())
    if found is None:
        raise ConfigurationError.for_field(
            field_name,
            f"cannot tell the format of {Path(name).name!r} from its extension; set type to one "
            f"of {', '.join(sorted(set(EXTENSIONS.values())))}",
        )
    return found


def short_error(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= limit else first[:limit] + "..."
