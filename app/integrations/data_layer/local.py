"""The data layer: where training data may come from, and how it is read.

``DataLayerClientInterface`` is what the service and the worker call. The default
``LocalDataLayerClient`` reads:

- files under the configured data roots (never outside them, symlinks included);
- the datasets bundled with scikit-learn (``sklearn://iris``);
- ``https://`` URLs from the hosts listed in ``TRAINYARD_DATA_ALLOWED_HOSTS`` (the rules are in
  ``app.integrations.data_layer.url_policy``);
- ``s3://bucket/key`` from the buckets listed in ``TRAINYARD_S3_ALLOWED_BUCKETS``, with the
  optional ``s3`` extra (s3fs) installed.

Every other scheme, and fsspec's chained URLs (``simplecache::s3://...``), are refused.
A remote file is read whole into memory (at most ``TRAINYARD_MAX_BYTES``) and fingerprinted as it
arrives; a local file is fingerprinted in a thread while pandas parses it.

``TRAINYARD_DATA_LAYER_CLIENT`` (``package.module:factory``) names another implementation: the
factory is called with the settings, in the API process and in every worker process.
"""

from __future__ import annotations

import importlib
import io
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd

from app.core.exceptions import ConfigurationError, DataAccessError
from app.integrations.data_layer import formats
from app.integrations.data_layer.bundled import BUNDLED_DATASETS, BUNDLED_SCHEME, bundled_frame
from app.integrations.data_layer.config import DataSourceConfig
from app.integrations.data_layer.interface import (
    PATH_FIELD,
    DataLayerClientInterface,
    Dataset,
    SourceCheck,
    format_of,
    short_error,
)
from app.integrations.data_layer.remote import download_http, download_s3
from app.integrations.data_layer.url_policy import CheckedURL, HostRule, check_url, parse_rules

if TYPE_CHECKING:
    from app.config import Settings

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@lru_cache(maxsize=64)
def _bundled_fingerprint(name: str, columns: tuple[str, ...] | None) -> str:
    """A bundled dataset's fingerprint (of ``columns`` of it, when given): its frame never
    changes, so a process hashes it once, not once per job."""
    frame = bundled_frame(name)
    return formats.fingerprint_frame(frame if columns is None else frame[list(columns)])


class LocalDataLayerClient(DataLayerClientInterface):
    """Files under the data roots, bundled datasets, and the allowed https and s3 sources."""

    def __init__(
        self,
        data_roots: Sequence[Path | str],
        *,
        max_rows: int = 10_000_000,
        max_bytes: int = 2 * 1024**3,
        allowed_hosts: Sequence[str] = (),
        s3_allowed_buckets: Sequence[str] = (),
        s3_options: dict[str, Any] | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        if not data_roots:
            raise ValueError("at least one data root is needed")
        self.data_roots = [Path(r).expanduser().resolve() for r in data_roots]
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.host_rules: list[HostRule] = parse_rules(allowed_hosts)
        self.s3_allowed_buckets = list(s3_allowed_buckets)
        self.s3_options = dict(s3_options or {})
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalDataLayerClient:
        s3_options: dict[str, Any] = {}
        if settings.s3_endpoint_url:
            s3_options["endpoint_url"] = settings.s3_endpoint_url
        if settings.s3_access_key_id:
            s3_options["key"] = settings.s3_access_key_id
            s3_options["secret"] = settings.s3_secret_access_key
        if settings.s3_region:
            s3_options["client_kwargs"] = {"region_name": settings.s3_region}
        return cls(
            settings.data_roots,
            max_rows=settings.max_rows,
            max_bytes=settings.max_bytes,
            allowed_hosts=settings.data_allowed_hosts,
            s3_allowed_buckets=settings.s3_allowed_buckets,
            s3_options=s3_options,
            timeout_seconds=settings.remote_timeout_seconds,
        )

    # -- locating ---------------------------------------------------------------------------

    def source_kind(self, raw: str) -> str:
        """``bundled``, ``http``, ``s3`` or ``local``; any other scheme is refused here."""
        if raw.startswith(BUNDLED_SCHEME):
            return "bundled"
        if "::" in raw:
            raise ConfigurationError.for_field(
                PATH_FIELD, "chained URLs ('::', as in simplecache::s3://...) are not allowed"
            )
        match = _SCHEME.match(raw)
        if match is None:
            return "local"
        scheme = match.group(1).lower()
        if scheme in ("http", "https"):
            return "http"
        if scheme == "s3":
            return "s3"
        raise ConfigurationError.for_field(
            PATH_FIELD,
            f"the scheme {scheme!r} is not allowed; use a path inside a data root, "
            f"{BUNDLED_SCHEME}<name>, https://<allowed host>/... or s3://<allowed bucket>/...",
        )

    def resolve_path(self, raw: str) -> Path:
        """The file ``raw`` names, checked to lie inside a data root."""
        if self.source_kind(raw) != "local":
            raise ConfigurationError.for_field(PATH_FIELD, f"{raw!r} is not a local path")
        if "\x00" in raw:
            raise ConfigurationError.for_field(PATH_FIELD, "the path contains a NUL byte")
        try:
            return self._resolve_inside(raw)
        except OSError as exc:  # a name too long, a symlink loop, ...
            raise ConfigurationError.for_field(
                PATH_FIELD, f"the path cannot be used: {exc.strerror or exc}"
            ) from None
        except RuntimeError:  # Path.resolve() on a symlink loop (Python < 3.13)
            raise ConfigurationError.for_field(PATH_FIELD, f"{raw!r} is a symlink loop") from None

    def _resolve_inside(self, raw: str) -> Path:
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

    def check_url(self, raw: str) -> CheckedURL:
        return check_url(raw, self.host_rules)

    def _s3_location(self, raw: str) -> tuple[str, str]:
        parts = urlsplit(raw)
        bucket, key = parts.netloc, parts.path.lstrip("/")
        if not bucket or not key or parts.query or parts.fragment:
            raise ConfigurationError.for_field(
                PATH_FIELD, f"{raw!r} is not of the form s3://bucket/key"
            )
        if "*" not in self.s3_allowed_buckets and bucket not in self.s3_allowed_buckets:
            raise ConfigurationError.for_field(
                PATH_FIELD,
                f"the bucket {bucket!r} is not allowed: s3:// sources are read only from buckets "
                "listed in TRAINYARD_S3_ALLOWED_BUCKETS",
            )
        return bucket, key

    def _s3(self) -> Any:
        try:
            import s3fs  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise ConfigurationError.for_field(
                PATH_FIELD, "s3:// needs the optional s3 extra: pip install 'trainyard[s3]'"
            ) from None
        return s3fs.S3FileSystem(skip_instance_cache=True, **self.s3_options)

    # -- submit-time checks -----------------------------------------------------------------

    def check_source(self, config: DataSourceConfig) -> SourceCheck:
        kind = self.source_kind(config.path)
        if kind == "bundled":
            name = config.path.removeprefix(BUNDLED_SCHEME)
            if name not in BUNDLED_DATASETS:
                raise ConfigurationError.for_field(
                    PATH_FIELD,
                    f"unknown bundled dataset {name!r}; "
                    f"choose one of {', '.join(BUNDLED_DATASETS)}",
                )
            columns = bundled_frame(name).columns  # the cached frame, read and not copied
            return SourceCheck(config.path, "bundled", [str(c) for c in columns])
        if kind == "http":
            # No request at submit: a slow server must not hold the API. The worker reads it.
            checked = self.check_url(config.path)
            return SourceCheck(
                checked.url, format_of(urlsplit(config.path).path, config.type), None
            )
        if kind == "s3":
            return self._check_s3(config)
        path = self.resolve_path(config.path)
        fmt = format_of(path.name, config.type)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ConfigurationError.for_field(
                PATH_FIELD, f"{path.name} cannot be read: {exc.strerror}"
            ) from None
        self._check_size(size, path.name)
        return SourceCheck(str(path), fmt, self._header(path, fmt, config, path.name), size)

    def _check_size(self, size: int, name: str) -> None:
        if size > self.max_bytes:
            raise ConfigurationError.for_field(
                PATH_FIELD,
                f"{name} is {size} bytes, over the limit of {self.max_bytes} (TRAINYARD_MAX_BYTES)",
            )
        if size == 0:
            raise ConfigurationError.for_field(PATH_FIELD, f"{name} is empty")

    @staticmethod
    def _header(
        source: formats.Source, fmt: str, config: DataSourceConfig, name: str
    ) -> list[str] | None:
        try:
            columns = formats.header_of(source, fmt, config.read_options, name)
        except DataAccessError as exc:
            raise ConfigurationError.for_field(PATH_FIELD, exc.message) from None
        except Exception as exc:
            raise ConfigurationError.for_field(
                PATH_FIELD, f"{name} cannot be read as {fmt}: {short_error(exc)}"
            ) from None
        if columns is not None:
            try:
                formats.check_names(columns, name, None)
            except DataAccessError as exc:
                raise ConfigurationError.for_field(PATH_FIELD, exc.message) from None
        return columns

    def _check_s3(self, config: DataSourceConfig) -> SourceCheck:
        bucket, key = self._s3_location(config.path)
        fmt = format_of(key, config.type)
        fs = self._s3()
        try:
            info = fs.info(f"{bucket}/{key}")
        except FileNotFoundError:
            raise ConfigurationError.for_field(
                PATH_FIELD, f"no such object: {config.path}"
            ) from None
        except Exception as exc:
            raise ConfigurationError.for_field(
                PATH_FIELD, f"{config.path} cannot be reached: {short_error(exc)}"
            ) from None
        size = int(info.get("size") or 0)
        self._check_size(size, config.path)
        columns: list[str] | None = None
        if fmt in ("csv", "tsv", "parquet"):
            with fs.open(f"{bucket}/{key}", "rb") as handle:
                if fmt == "parquet":
                    # The footer alone: a ranged read, not the whole object.
                    import pyarrow.parquet as pq

                    try:
                        columns = [str(n) for n in pq.read_schema(handle).names]
                    except Exception as exc:
                        raise ConfigurationError.for_field(
                            PATH_FIELD, f"{config.path} is not a parquet file: {short_error(exc)}"
                        ) from None
                    formats.check_names(columns, config.path, None)
                else:
                    prefix = io.BytesIO(handle.read(formats.HEADER_PREFIX_BYTES))
                    columns = self._header(prefix, fmt, config, config.path)
        return SourceCheck(config.path, fmt, columns, size)

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    def _load_bundled(name: str) -> pd.DataFrame:
        return bundled_frame(name).copy()

    def fetch(self, config: DataSourceConfig, columns: Sequence[str] | None = None) -> Dataset:
        try:
            kind = self.source_kind(config.path)
        except ConfigurationError as exc:
            raise DataAccessError(exc.message) from None
        if kind == "bundled":
            check = self.check_source(config)
            name = config.path.removeprefix(BUNDLED_SCHEME)
            frame = self._load_bundled(name)
            if columns is not None:
                formats.check_names([str(c) for c in frame.columns], config.path, columns)
                frame = frame[list(columns)]
            chosen = None if columns is None else tuple(str(c) for c in columns)
            return Dataset(frame, check.location, "bundled", _bundled_fingerprint(name, chosen), 0)
        if kind in ("http", "s3"):
            return self._fetch_remote(kind, config, columns)
        try:
            path = self.resolve_path(config.path)
            fmt = format_of(path.name, config.type)
        except ConfigurationError as exc:
            raise DataAccessError(exc.message) from None
        return self.read_file(path, fmt, config, columns)

    def read_file(
        self,
        path: Path,
        fmt: str,
        config: DataSourceConfig | None = None,
        columns: Sequence[str] | None = None,
    ) -> Dataset:
        """Read a local file (already checked to be inside a root) and fingerprint it."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataAccessError(f"{path.name} cannot be read: {exc.strerror}") from None
        if size > self.max_bytes:
            raise DataAccessError(
                f"{path.name} is {size} bytes, over the limit of {self.max_bytes} "
                "(TRAINYARD_MAX_BYTES)"
            )
        if size == 0:
            raise DataAccessError(f"{path.name} is empty")
        if fmt in ("csv", "tsv"):
            # Hashed as the parser reads it: the bytes pass through memory once.
            with formats.HashingReader(path) as reader:
                stream = io.BufferedReader(reader, 1 << 20)
                frame = self._parse(path, fmt, config, columns, path.name, stream=stream)
                return Dataset(frame, str(path), fmt, reader.hexdigest(), size)
        # Binary formats are read out of order: the hash runs beside the parse (xxhash
        # releases the GIL), over only the column chunks read when parquet is projected.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fingerprint") as pool:
            if fmt == "parquet" and columns is not None:
                digest = pool.submit(formats.fingerprint_parquet_columns, path, list(columns))
            else:
                digest = pool.submit(formats.fingerprint_file, path)
            frame = self._parse(path, fmt, config, columns, path.name)
            fingerprint = digest.result()
        return Dataset(frame, str(path), fmt, fingerprint, size)

    def _parse(
        self,
        source: formats.Source,
        fmt: str,
        config: DataSourceConfig | None,
        columns: Sequence[str] | None,
        name: str,
        stream: IO[bytes] | None = None,
    ) -> pd.DataFrame:
        read_options = config.read_options if config is not None else None
        try:
            return formats.read_table(
                source, fmt, read_options, name, columns, max_rows=self.max_rows, stream=stream
            )
        except (DataAccessError, MemoryError):
            raise
        except Exception as exc:
            raise DataAccessError(f"{name} cannot be read as {fmt}: {short_error(exc)}") from None

    def _fetch_remote(
        self, kind: str, config: DataSourceConfig, columns: Sequence[str] | None
    ) -> Dataset:
        try:
            if kind == "http":
                checked = self.check_url(config.path)
                fmt = format_of(urlsplit(config.path).path, config.type)
            else:
                bucket, key = self._s3_location(config.path)
                fmt = format_of(key, config.type)
        except ConfigurationError as exc:
            raise DataAccessError(exc.message) from None
        if kind == "http":
            buffer, fingerprint, size = download_http(
                checked, timeout_seconds=self.timeout_seconds, max_bytes=self.max_bytes
            )
        else:
            try:
                fs = self._s3()
            except ConfigurationError as exc:
                raise DataAccessError(exc.message) from None
            buffer, fingerprint, size = download_s3(
                fs, bucket, key, config.path, max_bytes=self.max_bytes
            )
        if size == 0:
            raise DataAccessError(f"{config.path} is empty")
        frame = self._parse(buffer, fmt, config, columns, config.path)
        return Dataset(frame, config.path, fmt, fingerprint, size)


def build_data_client(settings: Settings) -> DataLayerClientInterface:
    """The client named by ``TRAINYARD_DATA_LAYER_CLIENT``, or the default one."""
    target = settings.data_layer_client.strip()
    if not target:
        return LocalDataLayerClient.from_settings(settings)
    module_name, _, attribute = target.partition(":")
    if not attribute:
        module_name, _, attribute = target.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"TRAINYARD_DATA_LAYER_CLIENT={target!r} cannot be imported: {exc}"
        ) from exc
    client = factory(settings)
    if not isinstance(client, DataLayerClientInterface):
        raise ValueError(
            f"TRAINYARD_DATA_LAYER_CLIENT={target!r} built a {type(client).__name__}, "
            "not a DataLayerClientInterface"
        )
    return client
