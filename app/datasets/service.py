"""Uploaded data files: a multipart body streamed to disk under ``<first data root>/uploads``.

The body is parsed as it arrives (python-multipart's push parser), so an upload never sits
whole in memory or in a temporary spool, and one over ``TRAINYARD_MAX_UPLOAD_BYTES`` (or
``TRAINYARD_MAX_BYTES``, whichever is lower) stops at the first byte past the limit. A file is
written under a temporary name, then linked to its final name (an existing file is never
replaced), then read once with the data layer: a file that does not parse as its extension
says is deleted again and refused. Its format, rows, columns and fingerprint are kept in
``uploads/.meta/<name>.json`` for the listing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header

from app.config import Settings
from app.core.exceptions import (
    ConfigurationError,
    DataAccessError,
    DatasetExistsError,
    PayloadTooLargeError,
)
from app.datasets.schemas import DatasetInfo
from app.integrations.data_layer import EXTENSIONS, LocalDataLayerClient

UPLOADS = "uploads"
META = ".meta"
FIELD = "file"
# Room for the multipart boundaries and part headers around the file itself.
ENVELOPE_BYTES = 64 * 1024


def safe_name(filename: str) -> str:
    """A plain file name: no folders, only ``[A-Za-z0-9._-]``, a known extension."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")[:128]
    if not cleaned:
        raise ConfigurationError.for_field(FIELD, f"{filename!r} is not a usable file name")
    if Path(cleaned).suffix.lower() not in EXTENSIONS:
        raise ConfigurationError.for_field(
            FIELD,
            f"{cleaned!r} has no known extension; use one of {', '.join(sorted(EXTENSIONS))}",
        )
    return cleaned


class _Receiver:
    """Callbacks of the push parser: the part named ``file`` goes to a temporary file."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.size = 0
        self.filename: str | None = None
        self.temp: Path | None = None
        self._handle: IO[bytes] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != FIELD.encode() or self._handle is not None:
            return
        if self.filename is not None:
            raise ConfigurationError.for_field(FIELD, "send one file per upload")
        raw = options.get(b"filename")
        if raw is None:
            raise ConfigurationError.for_field(FIELD, "the part 'file' must carry a filename")
        self.filename = safe_name(raw.decode("utf-8", "replace"))
        self.temp = self.directory / f".incoming-{uuid.uuid4().hex}"
        self._handle = self.temp.open("xb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._handle is None:
            return
        self.size += end - start
        if self.size > self.limit:
            raise PayloadTooLargeError(
                f"the upload is over the limit of {self.limit} bytes "
                "(TRAINYARD_MAX_UPLOAD_BYTES / TRAINYARD_MAX_BYTES)"
            )
        self._handle.write(data[start:end])

    def _part_end(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


def tenant_folder(tenant: str) -> str:
    """Each tenant's uploads live in their own folder; the open API's in ``uploads/`` itself."""
    return f"{UPLOADS}/{tenant}" if tenant else UPLOADS


class DatasetStore:
    def __init__(self, settings: Settings, tenant: str = "") -> None:
        self.settings = settings
        self.client = LocalDataLayerClient.from_settings(settings)
        self.root = self.client.data_roots[0]
        self.folder = tenant_folder(tenant)
        self.directory = self.root / self.folder
        self.limit = min(settings.max_upload_bytes, settings.max_bytes)

    async def receive(
        self, *, content_type: str, content_length: str | None, body: AsyncIterator[bytes]
    ) -> DatasetInfo:
        if content_length is not None and content_length.isdigit():
            if int(content_length) > self.limit + ENVELOPE_BYTES:
                raise PayloadTooLargeError(
                    f"the upload ({content_length} bytes) is over the limit of {self.limit} "
                    "bytes (TRAINYARD_MAX_UPLOAD_BYTES / TRAINYARD_MAX_BYTES)"
                )
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise ConfigurationError.for_field(
                FIELD, "send the file as multipart/form-data, in the field 'file'"
            )
        await asyncio.to_thread(self.directory.joinpath(META).mkdir, parents=True, exist_ok=True)
        receiver = _Receiver(self.directory, self.limit)
        parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in body:
                if chunk:
                    await asyncio.to_thread(parser.write, chunk)
            await asyncio.to_thread(parser.finalize)
            if receiver.filename is None or receiver.temp is None:
                raise ConfigurationError.for_field(FIELD, "no file was sent in the field 'file'")
            return await asyncio.to_thread(self._store, receiver.temp, receiver.filename)
        except ValueError as exc:  # python-multipart's malformed-body errors
            raise ConfigurationError.for_field(FIELD, f"malformed multipart body: {exc}") from None
        finally:
            receiver.discard()

    def _store(self, temp: Path, name: str) -> DatasetInfo:
        final = self.directory / name
        try:
            os.link(temp, final)  # fails if the name is taken: nothing is replaced
        except FileExistsError:
            raise DatasetExistsError(
                f"{self.folder}/{name} already exists; upload under another name"
            ) from None
        fmt = EXTENSIONS[final.suffix.lower()]
        try:
            dataset = self.client.read_file(final, fmt)
        except DataAccessError as exc:
            final.unlink(missing_ok=True)
            raise ConfigurationError.for_field(FIELD, exc.message) from None
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        info = DatasetInfo(
            path=f"{self.folder}/{name}",
            name=name,
            format=fmt,
            size_bytes=dataset.size_bytes,
            rows=int(len(dataset.frame)),
            columns=[str(c) for c in dataset.frame.columns],
            fingerprint=dataset.fingerprint,
            uploaded_at=datetime.now(UTC),
        )
        meta = self.directory / META / f"{name}.json"
        meta.write_text(info.model_dump_json())
        return info

    def list_all(self) -> list[DatasetInfo]:
        if not self.directory.is_dir():
            return []
        items = []
        for path in sorted(self.directory.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            fmt = EXTENSIONS.get(path.suffix.lower())
            if fmt is None:
                continue
            meta = self.directory / META / f"{path.name}.json"
            stat = path.stat()
            known: dict[str, Any] = {}
            if meta.is_file():
                known = json.loads(meta.read_text())
            items.append(
                DatasetInfo(
                    path=f"{self.folder}/{path.name}",
                    name=path.name,
                    format=fmt,
                    size_bytes=stat.st_size,
                    rows=known.get("rows"),
                    columns=known.get("columns"),
                    fingerprint=known.get("fingerprint"),
                    uploaded_at=known.get("uploaded_at")
                    or datetime.fromtimestamp(stat.st_mtime, UTC),
                )
            )
        return items
