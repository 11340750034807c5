"""The data layer client on real files, a real HTTP server on loopback and real parsing."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.config import Settings
from app.core.exceptions import ConfigurationError, DataAccessError
from app.integrations.data_layer import LocalDataLayerClient, build_data_client
from app.integrations.data_layer.formats import fingerprint_file
from app.integrations.data_layer.url_policy import check_url, parse_rules
from app.schemas import DataSourceConfig, ReadOptions


def source(path: str, **extra: object) -> DataSourceConfig:
    return DataSourceConfig(path=path, target_column="y", **extra)  # type: ignore[arg-type]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def client(root: Path) -> LocalDataLayerClient:
    return LocalDataLayerClient([root])


def frame(rows: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 5, size=rows),
            "c": rng.choice(["x", "y", "z"], size=rows),
            "y": rng.integers(0, 2, size=rows),
        }
    )


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("../../etc/passwd", "outside the data roots"),
        ("/etc/passwd", "outside the data roots"),
        ("file:///etc/passwd", "the scheme 'file' is not allowed"),
        ("memory://x", "the scheme 'memory' is not allowed"),
        ("simplecache::s3://bucket/x.csv", "chained URLs"),
        ("ftp://example.com/x.csv", "the scheme 'ftp' is not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "not allowed"),
        ("https://example.com/x.csv", "TRAINYARD_DATA_ALLOWED_HOSTS"),
        ("s3://bucket/x.parquet", "TRAINYARD_S3_ALLOWED_BUCKETS"),
    ],
)
def test_refused_sources_name_the_rule(client: LocalDataLayerClient, path: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        client.check_source(source(path))
    assert words in caught.value.message
    assert caught.value.errors[0].field == "data_source_config.path"
    with pytest.raises(DataAccessError):
        client.fetch(source(path))


def test_a_symlink_out_of_the_root_is_refused(
    client: LocalDataLayerClient, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.csv"
    frame().to_csv(outside, index=False)
    (root / "link.csv").symlink_to(outside)
    with pytest.raises(ConfigurationError, match="resolves outside the data roots"):
        client.check_source(source("link.csv"))
    # A symlink that stays inside the root is fine.
    frame().to_csv(root / "real.csv", index=False)
    (root / "inside.csv").symlink_to(root / "real.csv")
    assert client.check_source(source("inside.csv")).columns == ["a", "b", "c", "y"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "json", "jsonl", "feather"])
def test_every_format_reads_only_the_needed_columns(
    client: LocalDataLayerClient, root: Path, fmt: str
) -> None:
    data = frame()
    path = root / f"data.{fmt}"
    if fmt == "csv":
        data.to_csv(path, index=False)
    elif fmt == "tsv":
        data.to_csv(path, index=False, sep="\t")
    elif fmt == "parquet":
        data.to_parquet(path)
    elif fmt == "json":
        data.to_json(path, orient="records")
    elif fmt == "jsonl":
        data.to_json(path, orient="records", lines=True)
    else:
        data.to_feather(path)
    check = client.check_source(source(path.name))
    assert check.format == fmt
    if fmt != "json":
        assert check.columns == ["a", "b", "c", "y"]
    dataset = client.fetch(source(path.name), columns=["a", "c", "y"])
    assert list(dataset.frame.columns) == ["a", "c", "y"]
    assert len(dataset.frame) == 20
    assert dataset.fingerprint.startswith("xxh3_128")
    assert dataset.size_bytes == path.stat().st_size
    pd.testing.assert_series_equal(
        dataset.frame["a"], data["a"], check_exact=False, check_names=False
    )


def test_read_options_delimiter_and_encoding(client: LocalDataLayerClient, root: Path) -> None:
    (root / "semi.txt").write_bytes("a;ville;y\n1;Orléans;0\n2;Besançon;1\n".encode("latin-1"))
    config = source(
        "semi.txt", read_options=ReadOptions(delimiter=";", encoding="latin-1"), type="csv"
    )
    assert client.check_source(config).columns == ["a", "ville", "y"]
    data = client.fetch(config).frame
    assert list(data["ville"]) == ["Orléans", "Besançon"]
    with pytest.raises(ConfigurationError, match="not valid utf-8-sig text"):
        client.check_source(source("semi.txt", read_options=ReadOptions(delimiter=";")))


def test_duplicate_column_names_are_found_in_the_raw_header(
    client: LocalDataLayerClient, root: Path
) -> None:
    (root / "dup.csv").write_text("a,b,a,y\n1,2,3,0\n")
    with pytest.raises(ConfigurationError, match="duplicate column names: a"):
        client.check_source(source("dup.csv"))
    with pytest.raises(DataAccessError, match="duplicate column names: a"):
        client.fetch(source("dup.csv"))


def test_missing_columns_are_all_listed(client: LocalDataLayerClient, root: Path) -> None:
    frame().to_parquet(root / "d.parquet")
    with pytest.raises(DataAccessError, match="has no column 'nope', 'gone'"):
        client.fetch(source("d.parquet"), columns=["a", "nope", "gone"])


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("fake.csv", b"PAR1\x00\x00binary", "is not a csv file: it looks like a parquet file"),
        ("fake.parquet", b"a,b\n1,2\n", "is not a parquet file"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "it looks like a PNG image"),
        ("book.csv", b"PK\x03\x04xlsx", "it looks like a zip archive"),
        ("blob.csv", b"a,b\n\x00\x01\x02", "it holds binary data"),
        ("list.json", b"a,b\n1,2\n", "should start with a JSON document"),
        ("header.csv", b"a,b,y\n", "holds no rows"),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_a_file_that_is_not_what_its_type_says(
    client: LocalDataLayerClient, root: Path, name: str, content: bytes, words: str
) -> None:
    (root / name).write_bytes(content)

    def check_then_fetch() -> None:
        client.check_source(source(name))
        client.fetch(source(name))

    with pytest.raises((ConfigurationError, DataAccessError)) as caught:
        check_then_fetch()
    assert words in caught.value.message
    assert name in caught.value.message


def test_row_and_byte_caps(root: Path) -> None:
    frame(50).to_csv(root / "d.csv", index=False)
    with pytest.raises(DataAccessError, match="more than 10 rows"):
        LocalDataLayerClient([root], max_rows=10).fetch(source("d.csv"))
    with pytest.raises(ConfigurationError, match="over the limit of 100"):
        LocalDataLayerClient([root], max_bytes=100).check_source(source("d.csv"))


def test_the_fingerprint_is_of_the_bytes(client: LocalDataLayerClient, root: Path) -> None:
    frame().to_csv(root / "one.csv", index=False)
    (root / "two.csv").write_bytes((root / "one.csv").read_bytes())
    first = client.fetch(source("one.csv")).fingerprint
    assert first == fingerprint_file(root / "one.csv")  # every byte, hashed as parsed
    assert client.fetch(source("two.csv")).fingerprint == first
    assert client.fetch(source("one.csv"), columns=["a", "y"]).fingerprint == first
    (root / "two.csv").write_bytes((root / "one.csv").read_bytes() + b"0,0,x,1\n")
    assert client.fetch(source("two.csv")).fingerprint != first


# -- https / http ---------------------------------------------------------------------------


def resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """DNS for hosts that are not on this machine."""
    return lambda host, port: answers[host]


@pytest.mark.parametrize(
    ("url", "allowed", "answers", "words"),
    [
        ("https://data.example.com/x.csv", [], {}, "is not allowed"),
        ("https://data.example.com/x.csv", ["other.com"], {}, "is not allowed"),
        ("http://data.example.com/x.csv", ["data.example.com"], {}, "use https://"),
        (
            "https://data.example.com/x.csv",
            ["*.example.com"],
            {"data.example.com": ["93.184.216.34", "10.0.0.5"]},
            "10.0.0.5, a private address",
        ),
        (
            "https://data.example.com/x.csv",
            ["*.example.com"],
            {"data.example.com": ["127.0.0.1"]},
            "a loopback address",
        ),
        (
            "https://data.example.com/x.csv",
            ["data.example.com"],
            {"data.example.com": ["169.254.169.254"]},
            "a cloud metadata address",
        ),
        (
            "https://meta.example.com/x.csv",
            ["*.example.com"],
            {"meta.example.com": ["::ffff:169.254.169.254"]},
            "a cloud metadata address",
        ),
        ("https://169.254.169.254/latest/meta-data", ["*.example.com"], {}, "is not allowed"),
        ("https://data.example.com:8443/x.csv", ["data.example.com"], {}, "is not allowed"),
        ("https://user:pw@data.example.com/x.csv", ["data.example.com"], {}, "credentials"),
    ],
)
def test_url_rules(url: str, allowed: list[str], answers: dict[str, list[str]], words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_url(url, parse_rules(allowed), resolver(answers))
    assert words in caught.value.message


def test_url_rules_that_pass() -> None:
    public = resolver({"data.example.com": ["93.184.216.34"], "lake.internal": ["10.1.2.3"]})
    ok = check_url("https://data.example.com/x.csv", parse_rules(["*.example.com"]), public)
    assert ok.addresses == ("93.184.216.34",)
    # A private address is fine for a host the operator listed exactly.
    inner = check_url("https://lake.internal/x.csv", parse_rules(["lake.internal"]), public)
    assert inner.addresses == ("10.1.2.3",)
    on_port = check_url(
        "http://127.0.0.1:8080/x.csv", parse_rules(["http://127.0.0.1:8080"]), public
    )
    assert on_port.port == 8080


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A plain HTTP file server on 127.0.0.1 (https needs a certificate authority; the rules
    and the fetch path are the same, only TLS is missing)."""
    directory = tmp_path / "web"
    directory.mkdir()
    handler = functools.partial(_Handler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield directory, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_fetch_from_a_listed_loopback_server(root: Path, web_root: tuple[Path, int]) -> None:
    directory, port = web_root
    frame().to_parquet(directory / "d.parquet")
    frame().to_parquet(root / "d.parquet")
    url = f"http://127.0.0.1:{port}/d.parquet"
    refused = LocalDataLayerClient([root])
    with pytest.raises(ConfigurationError, match="not allowed"):
        refused.check_source(source(url))
    client = LocalDataLayerClient([root], allowed_hosts=[f"http://127.0.0.1:{port}"])
    assert client.check_source(source(url)).format == "parquet"
    dataset = client.fetch(source(url), columns=["a", "y"])
    assert list(dataset.frame.columns) == ["a", "y"]
    assert len(dataset.frame) == 20
    # The same bytes have the same fingerprint wherever they come from.
    assert dataset.fingerprint == client.fetch(source("d.parquet")).fingerprint
    with pytest.raises(DataAccessError, match="answered 404"):
        client.fetch(source(f"http://127.0.0.1:{port}/missing.csv"))
    with pytest.raises(DataAccessError, match="redirect to http://169.254.169.254"):
        client.fetch(source(f"http://127.0.0.1:{port}/redirect.csv"))
    small = LocalDataLayerClient([root], allowed_hosts=[f"http://127.0.0.1:{port}"], max_bytes=100)
    with pytest.raises(DataAccessError, match="over the limit of 100"):
        small.fetch(source(url))


def test_a_client_by_import_path(root: Path) -> None:
    settings = Settings(
        data_roots=[root], data_layer_client="tests.integrations.data_layer.custom_client:build"
    )
    client = build_data_client(settings)
    assert type(client).__name__ == "MoonsClient"
    assert len(client.fetch(source("moons://50")).frame) == 50
    assert isinstance(build_data_client(Settings(data_roots=[root])), LocalDataLayerClient)
    with pytest.raises(ValueError, match="cannot be imported"):
        build_data_client(Settings(data_roots=[root], data_layer_client="tests.nowhere:build"))
    with pytest.raises(ValueError, match="not a DataLayerClientInterface"):
        build_data_client(
            Settings(
                data_roots=[root],
                data_layer_client="tests.integrations.data_layer.custom_client:not_a_client",
            )
        )


def test_a_column_projected_parquet_read_fingerprints_the_columns_it_reads(
    client: LocalDataLayerClient, root: Path
) -> None:
    data = frame(1000)
    data.to_parquet(root / "one.parquet", row_group_size=300)
    changed = data.copy()
    changed["b"] = changed["b"] + 1  # a column the job does not use
    changed.to_parquet(root / "two.parquet", row_group_size=300)
    first = client.fetch(source("one.parquet"), columns=["a", "y"]).fingerprint
    assert first.startswith("xxh3_128-columns:")
    assert client.fetch(source("two.parquet"), columns=["a", "y"]).fingerprint == first
    assert client.fetch(source("one.parquet"), columns=["a", "b", "y"]).fingerprint != (
        client.fetch(source("two.parquet"), columns=["a", "b", "y"]).fingerprint
    )
    whole = client.fetch(source("one.parquet")).fingerprint
    assert whole.startswith("xxh3_128:")
    assert whole != client.fetch(source("two.parquet")).fingerprint


def test_unusable_paths_are_configuration_errors(client: LocalDataLayerClient, root: Path) -> None:
    with pytest.raises(ConfigurationError, match="the path cannot be used: File name too long"):
        client.check_source(source("0" * 1000 + ".csv"))
    (root / "loop.csv").symlink_to(root / "loop.csv")
    with pytest.raises(ConfigurationError, match="data_source_config.path"):
        client.check_source(source("loop.csv"))
