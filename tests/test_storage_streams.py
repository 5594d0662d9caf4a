"""Downloads read the body on a helper thread: what happens when either side stops early.

A download hashes and writes in the calling thread while a helper reads the response body
ahead (``storage._BodyReader``). These tests stop each side midway against the real S3
endpoint, the network side through a TCP proxy that resets the connection: the error must
be the store's, nothing may be left on disk, and no reader thread may survive the call.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr
from spatial_etl.backends import storage
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import StorageError
from spatial_etl.settings import StorageSettings
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.s3]

MIB = 1024 * 1024
SIZE = 48 * MIB  # far more than the reader's read-ahead and the sockets' buffers


def _store(endpoint: str) -> ObjectStore:
    settings = StorageSettings(
        s3_endpoint_url=endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key=SecretStr("testing"),
    )
    return ObjectStore.from_settings(settings)


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[ObjectStore, str, bytes]]:
    """A bucket holding ``big.bin`` (SIZE random bytes), and the bytes."""
    store = _store(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    store.ensure_bucket(bucket)
    data = os.urandom(SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    store.put_file(bucket, "big.bin", source, metadata={})
    yield store, bucket, data
    store.delete(bucket, "big.bin")
    store.client.delete_bucket(Bucket=bucket)
    store.close()


def _readers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "s3-body-reader" and t.is_alive()]


def test_a_download_writes_what_it_hashed(
    stored: tuple[ObjectStore, str, bytes], tmp_path: Path
) -> None:
    store, bucket, data = stored

    got = store.download(bucket, "big.bin", tmp_path / "copy.bin")

    assert (tmp_path / "copy.bin").read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.size == SIZE
    assert _readers() == []


def test_a_full_disk_stops_the_reader_midway(
    stored: tuple[ObjectStore, str, bytes],
) -> None:
    store, bucket, _ = stored
    response = store.client.get_object(Bucket=bucket, Key="big.bin")
    written: list[int] = []

    def disk_fills(chunk: bytes) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(len(chunk))

    with pytest.raises(OSError, match="No space left"):
        storage._drain(bucket, "big.bin", response, disk_fills)

    assert _readers() == []  # stopped and joined, though the body had 46 MiB still to send
    assert sum(written) == 2 * storage.CHUNK_SIZE


def test_a_connection_reset_midway_is_a_storage_error_naming_the_object(
    stored: tuple[ObjectStore, str, bytes],
) -> None:
    bucket = stored[1]
    endpoint = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    with TcpProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80) as proxy:
        proxied = _store(proxy.url())
        response = proxied.client.get_object(Bucket=bucket, Key="big.bin")
        received: list[int] = []

        def cut_after_the_first_chunk(chunk: bytes) -> None:
            if not received:
                proxy.refuse()  # resets the open connection mid-body
            received.append(len(chunk))

        try:
            with pytest.raises(StorageError, match=r"big\.bin") as caught:
                storage._drain(bucket, "big.bin", response, cut_after_the_first_chunk)
        finally:
            proxied.close()

    assert sum(received) < SIZE
    assert _readers() == []
    assert caught.value.key == "big.bin"


def test_a_download_cut_midway_leaves_the_destination_untouched(
    stored: tuple[ObjectStore, str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = stored[1]
    endpoint = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    dest = tmp_path / "inputs" / "big.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"the previous version")
    real_drain = storage._drain
    with TcpProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80) as proxy:

        def drain_then_cut(*args: Any) -> tuple[str, int]:
            bucket_, key, response, write = args

            def write_and_cut(chunk: bytes) -> None:
                proxy.refuse()
                write(chunk)

            return real_drain(bucket_, key, response, write_and_cut)

        monkeypatch.setattr(storage, "_drain", drain_then_cut)
        proxied = _store(proxy.url())
        try:
            with pytest.raises(StorageError):
                proxied.download(bucket, "big.bin", dest)
        finally:
            proxied.close()

    assert dest.read_bytes() == b"the previous version"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["big.bin"]  # no .part file
    assert _readers() == []
