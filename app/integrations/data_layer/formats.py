"""Reading table files: format sniffing, raw headers, parsing and fingerprints.

Shared by every source (local files, https, s3): a source hands over a path or an in-memory
buffer, and the same checks and readers apply.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import pandas as pd
import xxhash

from app.core.exceptions import DataAccessError

Source = Path | io.BytesIO
FINGERPRINT_ALGORITHM = "xxh3_128"
HEADER_PREFIX_BYTES = 1 << 20
_CHUNK = 4 << 20

# Leading bytes of file kinds that are often given the wrong extension.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a parquet file"),
    (b"ARROW1", "a feather (Arrow IPC) file"),
    (b"FEA1", "a feather (v1) file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Fingerprinter:
    """xxh3-128 of the bytes read: about 3.5 GB/s, ten times sha256 on this kind of machine.

    It identifies what was read (lineage), it is not a defence against a forger.
    """

    def __init__(self) -> None:
        self._hash = xxhash.xxh3_128()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return f"{FINGERPRINT_ALGORITHM}:{self._hash.hexdigest()}"


class HashingReader(io.RawIOBase):
    """A file that hashes its bytes as the parser reads them: one pass, no second read.

    For text formats, which a parser reads front to back to the end.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._raw = path.open("rb", buffering=0)
        self._digest = Fingerprinter()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self._raw.readinto(buffer) or 0
        if n:
            self._digest.update(memoryview(buffer)[:n])
        return n

    def hexdigest(self) -> str:
        """The fingerprint of the whole file (whatever the parser left unread is read here)."""
        buffer = bytearray(_CHUNK)
        while self.readinto(buffer):
            pass
        return self._digest.hexdigest()

    def close(self) -> None:
        self._raw.close()
        super().close()


def fingerprint_file(path: Path) -> str:
    digest = Fingerprinter()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def fingerprint_parquet_columns(path: Path, columns: Sequence[str]) -> str:
    """xxh3-128 of the bytes a column-projected parquet read decodes: the chunks of
    ``columns`` in every row group (and their names and row counts), so the cost follows what
    is read, not the file size. Its prefix says so: it changes when a used column changes,
    not when another one does."""
    import mmap

    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    wanted = set(columns)
    selected = [
        i
        for i in range(metadata.num_columns)
        if metadata.schema.column(i).path.split(".")[0] in wanted
    ]
    digest = xxhash.xxh3_128()
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        view = memoryview(m)
        try:
            layout = [[metadata.schema.column(i).path for i in selected]]
            layout.append(
                [str(metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)]
            )
            digest.update(json.dumps(layout).encode())
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                for i in selected:
                    chunk = row_group.column(i)
                    start = chunk.data_page_offset
                    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                        start = min(start, chunk.dictionary_page_offset)
                    digest.update(view[start : start + chunk.total_compressed_size])
        finally:
            view.release()
    return f"{FINGERPRINT_ALGORITHM}-columns:{digest.hexdigest()}"


def fingerprint_frame(frame: pd.DataFrame) -> str:
    digest = Fingerprinter()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_capped(handle: Readable, max_bytes: int, name: str) -> tuple[io.BytesIO, str, int]:
    """Read a stream into memory, hashing as it goes; refuse past ``max_bytes``."""
    buffer = io.BytesIO()
    digest = Fingerprinter()
    size = 0
    while chunk := handle.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise DataAccessError(
                f"{name} is over the limit of {max_bytes} bytes (TRAINYARD_MAX_BYTES)"
            )
        digest.update(chunk)
        buffer.write(chunk)
    buffer.seek(0)
    return buffer, digest.hexdigest(), size


def prefix_of(source: Source, size: int = HEADER_PREFIX_BYTES) -> bytes:
    if isinstance(source, io.BytesIO):
        return bytes(source.getbuffer()[:size])
    with source.open("rb") as handle:
        return handle.read(size)


def _looks_like(prefix: bytes) -> str | None:
    for magic, kind in MAGIC:
        if prefix.startswith(magic):
            return kind
    return None


def check_content(prefix: bytes, fmt: str, name: str) -> None:
    """Refuse a file that is not what its type says, naming what it looks like instead."""
    kind = _looks_like(prefix)
    if fmt == "parquet":
        if not prefix.startswith(b"PAR1"):
            raise DataAccessError(
                f"{name} is not a parquet file" + (f": it looks like {kind}" if kind else "")
            )
        return
    if fmt == "feather":
        if not prefix.startswith((b"ARROW1", b"FEA1")):
            raise DataAccessError(
                f"{name} is not a feather file" + (f": it looks like {kind}" if kind else "")
            )
        return
    if kind is not None:
        raise DataAccessError(f"{name} is not a {fmt} file: it looks like {kind}")
    if b"\x00" in prefix and not prefix.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataAccessError(f"{name} is not a {fmt} file: it holds binary data (NUL bytes)")
    if fmt in ("json", "jsonl"):
        text = prefix.lstrip(b"\xef\xbb\xbf \t\r\n")
        allowed = (b"[", b"{") if fmt == "json" else (b"{",)
        if text and text[:1] not in allowed:
            what = "a JSON document ('[' or '{')" if fmt == "json" else "JSON objects, one a line"
            raise DataAccessError(f"{name} is not a {fmt} file: it should start with {what}")


def csv_options(fmt: str, read_options: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"sep": "\t" if fmt == "tsv" else ","}
    if read_options is not None:
        if read_options.delimiter is not None:
            options["sep"] = read_options.delimiter
        if read_options.encoding is not None:
            options["encoding"] = read_options.encoding
    return options


def raw_header(prefix: bytes, options: dict[str, Any], name: str) -> list[str]:
    """The header line as written: pandas would rename a repeated ``a`` to ``a.1``."""
    encoding = options.get("encoding") or "utf-8-sig"
    # Decode the whole prefix (up to its last full line), so a bad byte in the first rows is
    # named at submit, not only the header's.
    end = prefix.rfind(b"\n") if len(prefix) >= HEADER_PREFIX_BYTES else len(prefix)
    line = prefix[: end + 1] if end > 0 else prefix
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataAccessError(
            f"{name} is not valid {encoding} text (byte {line[exc.start : exc.start + 1]!r} at "
            f"position {exc.start}); set data_source_config.read_options.encoding"
        ) from None
    first = next(csv.reader(io.StringIO(text), delimiter=options["sep"]), [])
    header = [c.strip() for c in first]
    if not header or header == [""]:
        raise DataAccessError(f"{name} has no header line")
    return header


def check_names(names: Sequence[str], name: str, wanted: Sequence[str] | None) -> None:
    """Duplicate column names, then the wanted columns that are missing (all of them)."""
    seen: set[str] = set()
    duplicated = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if duplicated:
        raise DataAccessError(f"{name} has duplicate column names: {', '.join(duplicated)}")
    if wanted is not None:
        missing = [c for c in wanted if c not in set(names)]
        if missing:
            raise DataAccessError(
                f"{name} has no column {', '.join(map(repr, missing))} "
                f"(it has: {', '.join(list(names)[:50])})"
            )


def header_of(source: Source, fmt: str, read_options: Any, name: str) -> list[str] | None:
    """Column names from the header or schema; None when only a full read can tell (json)."""
    prefix = prefix_of(source)
    check_content(prefix, fmt, name)
    if fmt in ("csv", "tsv"):
        return raw_header(prefix, csv_options(fmt, read_options), name)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [str(n) for n in pq.read_schema(_rewound(source)).names]
    if fmt == "feather":
        import pyarrow.ipc as ipc

        with ipc.open_file(_rewound(source)) as reader:
            return [str(n) for n in reader.schema.names]
    if fmt == "jsonl":
        first = prefix.split(b"\n", 1)[0]
        record = json.loads(first)
        if not isinstance(record, dict):
            raise DataAccessError(f"{name}: the first line is not a JSON object")
        return [str(k) for k in record]
    return None


def _rewound(source: Source) -> Any:
    if isinstance(source, io.BytesIO):
        source.seek(0)
    return source


def read_table(
    source: Source,
    fmt: str,
    read_options: Any,
    name: str,
    wanted: Sequence[str] | None,
    *,
    max_rows: int,
    stream: IO[bytes] | None = None,
) -> pd.DataFrame:
    """Parse ``source`` as ``fmt``, reading only ``wanted`` columns where the format allows."""
    names = header_of(source, fmt, read_options, name)
    columns = list(wanted) if wanted is not None else None
    if names is not None:
        check_names(names, name, columns)
    source = _rewound(source)
    frame: pd.DataFrame
    if fmt in ("csv", "tsv"):
        # The pyarrow engine is the fastest pandas has, multi-threaded, and it recognises
        # ISO 8601 timestamps and true/false columns by itself.
        frame = pd.read_csv(
            stream if stream is not None else source,
            usecols=columns,
            engine="pyarrow",
            **csv_options(fmt, read_options),
        )
    elif fmt == "parquet":
        frame = pd.read_parquet(source, columns=columns)
    elif fmt == "feather":
        frame = pd.read_feather(source, columns=columns)
    else:
        if fmt == "jsonl":
            frame = pd.read_json(source, lines=True, nrows=max_rows + 1)
        else:
            frame = pd.read_json(source)
        check_names([str(c) for c in frame.columns], name, columns)
        if columns is not None:
            frame = frame[columns]
    if len(frame) > max_rows:
        raise DataAccessError(f"{name} has more than {max_rows} rows (TRAINYARD_MAX_ROWS)")
    if frame.empty:
        raise DataAccessError(f"{name} holds no rows")
    return frame
