"""The data layer: where training data may come from, and how it is read.

``DataLayerClientInterface`` is what the service and the worker call. The default
``LocalDataLayerClient`` reads files under the configured data roots (never outside them,
symlinks included) and the datasets bundled with scikit-learn (``sklearn://iris``).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from app.exceptions import ConfigurationError, DataAccessError
from app.schemas import DataSourceConfig

PATH_FIELD = "data_source_config.path"
BUNDLED_SCHEME = "sklearn://"
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


class DataLayerClientInterface(ABC):
    """Fetches a DataFrame for a ``DataSourceConfig``."""

    @abstractmethod
    def check_source(self, config: DataSourceConfig) -> SourceCheck:
        """Cheap checks at submit time; raise ``ConfigurationError`` naming the problem."""

    @abstractmethod
    def fetch(self, config: DataSourceConfig, columns: Sequence[str] | None = None) -> Dataset:
        """Read the data (only ``columns`` when given); raise ``DataAccessError`` on failure."""


def _bundled_loaders() -> dict[str, Any]:
    from sklearn import datasets

    return {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
        "digits": datasets.load_digits,
    }


BUNDLED_DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "digits")


@lru_cache(maxsize=len(BUNDLED_DATASETS))
def _bundled_frame(name: str) -> pd.DataFrame:
    frame: pd.DataFrame = _bundled_loaders()[name](as_frame=True).frame
    return frame


def _frame_fingerprint(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def _file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class LocalDataLayerClient(DataLayerClientInterface):
    """Files under the data roots and scikit-learn's bundled datasets."""

    def __init__(
        self,
        data_roots: Sequence[Path | str],
        *,
        max_rows: int = 10_000_000,
        max_bytes: int = 2 * 1024**3,
    ) -> None:
        if not data_roots:
            raise ValueError("at least one data root is needed")
        self.data_roots = [Path(r).expanduser().resolve() for r in data_roots]
        self.max_rows = max_rows
        self.max_bytes = max_bytes

    # -- locating ---------------------------------------------------------------------------

    def resolve_path(self, raw: str) -> Path:
        """The file ``raw`` names, checked to lie inside a data root."""
        if "::" in raw:
            raise ConfigurationError.for_field(PATH_FIELD, "chained URLs ('::') are not allowed")
        if "://" in raw or raw.startswith("file:"):
            scheme = raw.split(":", 1)[0]
            raise ConfigurationError.for_field(
                PATH_FIELD,
                f"the scheme {scheme!r} is not allowed; use a path inside a data root "
                f"or {BUNDLED_SCHEME}<name>",
            )
        if "\x00" in raw:
            raise ConfigurationError.for_field(PATH_FIELD, "the path contains a NUL byte")
        given = Path(raw).expanduser()
        candidates = [given] if given.is_absolute() else [root / given for root in self.data_roots]
        inside: list[Path] = []
        for candidate in candidates:
            resolved = candidate.resolve()
            if any(resolved.is_relative_to(root) for root in self.data_roots):
                inside.append(resolved)
        if not inside:
            raise ConfigurationError.for_field(
                PATH_FIELD,
                f"{raw!r} resolves outside the data roots; only files under "
                f"{', '.join(map(str, self.data_roots))} can be read",
            )
        for path in inside:
            if path.is_file():
                return path
        raise ConfigurationError.for_field(PATH_FIELD, f"no such file: {raw!r}")

    def _format(self, config: DataSourceConfig, path: Path) -> str:
        if config.type is not None:
            return config.type
        found = EXTENSIONS.get(path.suffix.lower())
        if found is None:
            raise ConfigurationError.for_field(
                "data_source_config.type",
                f"cannot tell the format of {path.name!r} from its extension; set type to one "
                f"of {', '.join(sorted(set(EXTENSIONS.values())))}",
            )
        return found

    # -- submit-time checks -----------------------------------------------------------------

    def check_source(self, config: DataSourceConfig) -> SourceCheck:
        if config.path.startswith(BUNDLED_SCHEME):
            name = config.path.removeprefix(BUNDLED_SCHEME)
            if name not in BUNDLED_DATASETS:
                raise ConfigurationError.for_field(
                    PATH_FIELD,
                    f"unknown bundled dataset {name!r}; "
                    f"choose one of {', '.join(BUNDLED_DATASETS)}",
                )
            frame = self._load_bundled(name)
            return SourceCheck(config.path, "bundled", [str(c) for c in frame.columns])
        path = self.resolve_path(config.path)
        fmt = self._format(config, path)
        size = path.stat().st_size
        if size > self.max_bytes:
            raise ConfigurationError.for_field(
                PATH_FIELD,
                f"{path.name} is {size} bytes, over the limit of {self.max_bytes} "
                "(TRAINYARD_MAX_BYTES)",
            )
        if size == 0:
            raise ConfigurationError.for_field(PATH_FIELD, f"{path.name} is empty")
        try:
            columns = self._header(path, fmt, config)
        except Exception as exc:
            raise ConfigurationError.for_field(
                PATH_FIELD, f"{path.name} cannot be read as {fmt}: {_short(exc)}"
            ) from None
        return SourceCheck(str(path), fmt, columns, size)

    def _header(self, path: Path, fmt: str, config: DataSourceConfig) -> list[str] | None:
        if fmt in ("csv", "tsv"):
            frame = pd.read_csv(path, nrows=0, **self._csv_options(fmt, config))
            return [str(c) for c in frame.columns]
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if fmt == "feather":
            import pyarrow.ipc as ipc

            with ipc.open_file(path) as reader:
                return list(reader.schema.names)
        if fmt == "jsonl":
            with path.open("rb") as handle:
                first = handle.readline()
            record = json.loads(first)
            if not isinstance(record, dict):
                raise ValueError("the first line is not a JSON object")
            return [str(k) for k in record]
        return None  # a JSON document must be read whole to know its columns

    @staticmethod
    def _csv_options(fmt: str, config: DataSourceConfig) -> dict[str, Any]:
        options: dict[str, Any] = {"sep": "\t" if fmt == "tsv" else ","}
        if config.read_options is not None:
            if config.read_options.delimiter is not None:
                options["sep"] = config.read_options.delimiter
            if config.read_options.encoding is not None:
                options["encoding"] = config.read_options.encoding
        return options

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    def _load_bundled(name: str) -> pd.DataFrame:
        return _bundled_frame(name).copy()

    def fetch(self, config: DataSourceConfig, columns: Sequence[str] | None = None) -> Dataset:
        if config.path.startswith(BUNDLED_SCHEME):
            check = self.check_source(config)
            frame = self._load_bundled(config.path.removeprefix(BUNDLED_SCHEME))
            if columns is not None:
                frame = frame[list(columns)]
            return Dataset(frame, check.location, "bundled", _frame_fingerprint(frame), 0)
        try:
            path = self.resolve_path(config.path)
            fmt = self._format(config, path)
        except ConfigurationError as exc:
            raise DataAccessError(exc.message) from None
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataAccessError(f"{path.name} cannot be read: {exc.strerror}") from None
        if size > self.max_bytes:
            raise DataAccessError(
                f"{path.name} is {size} bytes, over the limit of {self.max_bytes} "
                "(TRAINYARD_MAX_BYTES)"
            )
        try:
            frame = self._read(path, fmt, config, columns)
        except DataAccessError:
            raise
        except MemoryError:
            raise
        except Exception as exc:
            raise DataAccessError(f"{path.name} cannot be read as {fmt}: {_short(exc)}") from None
        if len(frame) > self.max_rows:
            raise DataAccessError(
                f"{path.name} has more than {self.max_rows} rows (TRAINYARD_MAX_ROWS)"
            )
        if frame.empty:
            raise DataAccessError(f"{path.name} holds no rows")
        return Dataset(frame, str(path), fmt, _file_fingerprint(path), size)

    def _read(
        self,
        path: Path,
        fmt: str,
        config: DataSourceConfig,
        columns: Sequence[str] | None,
    ) -> pd.DataFrame:
        wanted = list(columns) if columns is not None else None
        if fmt in ("csv", "tsv"):
            options = self._csv_options(fmt, config)
            header = pd.read_csv(path, nrows=0, **options).columns
            self._require(path, header, wanted)
            csv: pd.DataFrame = pd.read_csv(
                path, usecols=wanted, nrows=self.max_rows + 1, **options
            )
            return csv
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._require(path, pq.read_schema(path).names, wanted)
            return pd.read_parquet(path, columns=wanted)
        if fmt == "feather":
            import pyarrow.ipc as ipc

            with ipc.open_file(path) as reader:
                names = reader.schema.names
            self._require(path, names, wanted)
            return pd.read_feather(path, columns=wanted)
        if fmt == "jsonl":
            frame = pd.read_json(path, lines=True, nrows=self.max_rows + 1)
        else:
            frame = pd.read_json(path)
        self._require(path, frame.columns, wanted)
        return frame[wanted] if wanted is not None else frame

    @staticmethod
    def _require(path: Path, available: Any, wanted: list[str] | None) -> None:
        names = [str(c) for c in available]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise DataAccessError(
                f"{path.name} has duplicate column names: {', '.join(duplicated)}"
            )
        if wanted is not None:
            missing = [c for c in wanted if c not in names]
            if missing:
                raise DataAccessError(
                    f"{path.name} has no column {', '.join(map(repr, missing))} "
                    f"(it has: {', '.join(names[:50])})"
                )


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= limit else first[:limit] + "..."
