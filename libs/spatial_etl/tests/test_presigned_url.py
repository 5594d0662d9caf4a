"""``ObjectStore.presigned_url``: a link that downloads the object's bytes, for a while only."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from pydantic import SecretStr
from spatial_etl.backends.storage import PRESIGNED_MAX_S, ObjectStore
from spatial_etl.errors import StorageError
from spatial_etl.settings import StorageSettings


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore.from_settings(
        StorageSettings(
            s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
            s3_access_key_id="testing",
            s3_secret_access_key=SecretStr("testing"),
        )
    )


@pytest.fixture
def bucket(store: ObjectStore) -> Iterator[str]:
    name = f"t-{uuid4().hex[:12]}"
    store.ensure_bucket(name)
    yield name
    for found in store.iter_objects(name):
        store.delete(name, found.key)
    store.client.delete_bucket(Bucket=name)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - test's own URL
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.s3
def test_the_url_downloads_the_stored_bytes_without_credentials(
    store: ObjectStore, bucket: str
) -> None:
    data = os.urandom(70_000)
    stored = store.put_bytes(bucket, "lake/v1/data bin.tif", data, metadata={})
    url = store.presigned_url(bucket, "lake/v1/data bin.tif", expires_s=120)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"]
    query = parse_qs(parts.query)
    # SigV4's query form, with the lifetime asked for (moto's server does not enforce it,
    # MinIO and S3 do); the credential scope names the key id, never the secret
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Credential"][0].startswith("testing/")
    status, body = _get(url)
    assert status == 200
    assert (
        hashlib.sha256(body).hexdigest() == stored.content_hash == hashlib.sha256(data).hexdigest()
    )


@pytest.mark.s3
def test_a_url_for_the_name_its_holder_reaches_the_store_by(
    store: ObjectStore, bucket: str
) -> None:
    """The store is reached as 127.0.0.1 here, and as localhost by the URL's holder."""
    data = b"bytes seen from elsewhere"
    store.put_bytes(bucket, "k.bin", data, metadata={})
    internal = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    public = f"http://localhost:{internal.port}"
    url = store.presigned_url(bucket, "k.bin", expires_s=60, endpoint_url=public)
    assert url.startswith(f"{public}/{bucket}/k.bin?")
    assert "host" in parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0]
    assert _get(url) == (200, data)
    assert store.presigned_url(bucket, "k.bin", expires_s=60, endpoint_url=public).startswith(
        public
    )
    with pytest.raises(StorageError, match="not an http"):
        store.presigned_url(bucket, "k.bin", expires_s=60, endpoint_url="ftp://elsewhere")


@pytest.mark.parametrize("expires_s", [0, -5, PRESIGNED_MAX_S + 1])
def test_a_lifetime_outside_sigv4_limits_is_refused(expires_s: int) -> None:
    store = ObjectStore.from_settings(
        StorageSettings(
            s3_endpoint_url="http://127.0.0.1:9",
            s3_access_key_id="k",
            s3_secret_access_key=SecretStr("s"),
        )
    )
    with pytest.raises(ValueError, match="expires_s must be between 1 and 604800"):
        store.presigned_url("b", "k", expires_s=expires_s)
