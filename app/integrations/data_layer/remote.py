"""Reading https and s3 sources: whole into memory, capped, fingerprinted as they arrive."""

from __future__ import annotations

from typing import Any

from app.core.exceptions import DataAccessError
from app.integrations.data_layer import formats
from app.integrations.data_layer.interface import short_error
from app.integrations.data_layer.url_policy import CheckedURL


def download_http(
    checked: CheckedURL, *, timeout_seconds: float, max_bytes: int
) -> tuple[Any, str, int]:
    import httpx

    last_error: Exception | None = None
    # Connect to the addresses that were checked, never to a second DNS answer.
    for target, headers, extensions in checked.targets():
        try:
            with (
                httpx.Client(
                    trust_env=False, follow_redirects=False, timeout=timeout_seconds
                ) as client,
                client.stream("GET", target, headers=headers, extensions=extensions) as response,
            ):
                if response.status_code != 200:
                    where = response.headers.get("location")
                    raise DataAccessError(
                        f"GET {checked.url} answered {response.status_code}"
                        + (f" (a redirect to {where}, which is not followed)" if where else "")
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit():
                    if int(declared) > max_bytes:
                        raise DataAccessError(
                            f"{checked.url} is {declared} bytes, over the limit of "
                            f"{max_bytes} (TRAINYARD_MAX_BYTES)"
                        )
                return formats.read_capped(
                    _IterReader(response.iter_bytes(1 << 20)), max_bytes, checked.url
                )
        except httpx.TransportError as exc:
            last_error = exc
    raise DataAccessError(
        f"{checked.url} cannot be fetched: {short_error(last_error or Exception())}"
    )


def download_s3(
    fs: Any, bucket: str, key: str, url: str, *, max_bytes: int
) -> tuple[Any, str, int]:
    try:
        size = int(fs.info(f"{bucket}/{key}").get("size") or 0)
        if size > max_bytes:
            raise DataAccessError(
                f"{url} is {size} bytes, over the limit of {max_bytes} (TRAINYARD_MAX_BYTES)"
            )
        with fs.open(f"{bucket}/{key}", "rb", block_size=8 << 20) as handle:
            return formats.read_capped(handle, max_bytes, url)
    except DataAccessError:
        raise
    except FileNotFoundError:
        raise DataAccessError(f"no such object: {url}") from None
    except Exception as exc:
        raise DataAccessError(f"{url} cannot be read: {short_error(exc)}") from None


class _IterReader:
    """A ``read()`` over an iterator of byte chunks."""

    def __init__(self, chunks: Any) -> None:
        self._chunks = iter(chunks)

    def read(self, size: int = -1, /) -> bytes:
        return next(self._chunks, b"")
