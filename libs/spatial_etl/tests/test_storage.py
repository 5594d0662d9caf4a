"""Object store against a real S3 HTTP endpoint (moto's server), plus GDAL through /vsis3/."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from pydantic import SecretStr
from spatial_etl.backends import storage as storage_module
from spatial_etl.backends.storage import (
    CONTENT_HASH_KEY,
    MIB,
    FileDigest,
    ObjectStore,
    hash_file,
)
from spatial_etl.errors import (
    InvalidMetadataError,
    ObjectIntegrityError,
    ObjectNotFoundError,
    StorageError,
)
from spatial_etl.settings import StorageSettings
from spatial_etl.spatial_utils import SubprocessGdalRunner, read_raster_info

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MD5_HEX = r"[0-9a-f]{32}"


def _settings(**overrides: Any) -> StorageSettings:
    return StorageSettings(
        s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
        s3_access_key_id="testing",
        s3_secret_access_key=SecretStr("testing"),
        **overrides,
    )


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore.from_settings(_settings())


def _empty_bucket(store: ObjectStore, bucket: str) -> None:
    keys: list[ObjectIdentifierTypeDef] = [{"Key": o.key} for o in store.iter_objects(bucket)]
    for start in range(0, len(keys), 1000):
        store.client.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000]})
    store.client.delete_bucket(Bucket=bucket)


@pytest.fixture
def bucket(store: ObjectStore) -> Iterator[str]:
    name = f"t-{uuid4().hex[:12]}"
    store.ensure_bucket(name)
    yield name
    _empty_bucket(store, name)


def _write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ----------------------------------------------------------------------------- writing


@pytest.mark.s3
def test_put_file_records_size_metadata_and_sha256(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "scene.bin"
    data = _write(source, 100_000)
    digest = hashlib.sha256(data).hexdigest()

    put = store.put_file(
        bucket,
        "batch-1/scene.bin",
        source,
        metadata={"Batch_Id": "batch-1", "uploader": "ana"},
        content_type="image/tiff",
    )

    assert put.sha256 == digest
    assert put.size == 100_000
    assert put.uri == f"s3://{bucket}/batch-1/scene.bin"
    head = store.head(bucket, "batch-1/scene.bin")
    assert head is not None
    assert head.size == 100_000
    assert re.fullmatch(MD5_HEX, head.etag)
    assert head.etag == put.etag
    assert head.last_modified is not None
    assert head.metadata == {"batch_id": "batch-1", "uploader": "ana", CONTENT_HASH_KEY: digest}
    assert head.sha256 is None  # head does not hash; the metadata carries the recorded one
    raw = store.client.head_object(Bucket=bucket, Key="batch-1/scene.bin")
    assert raw["ContentType"] == "image/tiff"


@pytest.mark.s3
def test_large_file_goes_up_in_parts_and_round_trips(bucket: str, tmp_path: Path) -> None:
    settings = _settings(s3_multipart_threshold_mb=5, s3_multipart_part_mb=6)
    store = ObjectStore.from_settings(settings)
    source = tmp_path / "big.bin"
    data = _write(source, 12 * MIB)

    put = store.put_file(bucket, "big.bin", source, metadata={})

    assert re.fullmatch(MD5_HEX + "-2", put.etag), put.etag  # 6 + 6 MiB: the part size rules
    assert put.size == 12 * MIB
    assert put.metadata[CONTENT_HASH_KEY] == hashlib.sha256(data).hexdigest()
    got = store.download(bucket, "big.bin", tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == data
    assert got.sha256 == put.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.s3
def test_small_file_goes_up_in_one_request(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "small.bin"
    _write(source, 6 * MIB)  # below the default 64 MiB threshold

    assert re.fullmatch(MD5_HEX, store.put_file(bucket, "small.bin", source, metadata={}).etag)


@pytest.mark.s3
def test_put_bytes_stores_a_document_with_its_hash(store: ObjectStore, bucket: str) -> None:
    body = b'{"run": "r1"}'

    put = store.put_bytes(
        bucket, "reports/r1.json", body, metadata={"run": "r1"}, content_type="application/json"
    )

    digest = hashlib.sha256(body).hexdigest()
    assert put.sha256 == digest
    assert put.size == len(body)
    assert put.metadata == {"run": "r1", CONTENT_HASH_KEY: digest}
    assert store.sha256(bucket, "reports/r1.json") == digest


@pytest.mark.s3
@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"title": "Größe"}, "value of 'title' is not printable ASCII"),
        ({"größe": "x"}, "key 'größe' is not an ASCII header name"),
        ({"bad key": "x"}, "key 'bad key' is not an ASCII header name"),
        ({"note": "two\nlines"}, "value of 'note' is not printable ASCII"),
        ({"Content_Hash": "0" * 64}, "reserved"),
        ({"Run": "a", "run": "b"}, "ignore case"),
        ({"blob": "x" * 2000}, "exceed S3's 2048"),
    ],
)
def test_unstorable_metadata_is_refused_before_any_upload(
    store: ObjectStore, bucket: str, tmp_path: Path, metadata: dict[str, str], fragment: str
) -> None:
    source = tmp_path / "a.bin"
    _write(source, 10)

    with pytest.raises(InvalidMetadataError, match=re.escape(fragment)) as caught:
        store.put_file(bucket, "a.bin", source, metadata=metadata)
    with pytest.raises(InvalidMetadataError):
        store.put_bytes(bucket, "b.bin", b"x", metadata=metadata)

    assert f"s3://{bucket}/a.bin" in str(caught.value)
    assert store.head(bucket, "a.bin") is None
    assert store.head(bucket, "b.bin") is None


@pytest.mark.s3
def test_a_file_changed_during_upload_is_not_kept(
    store: ObjectStore, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "moving.bin"
    _write(source, 1000)
    real_upload = store.client.upload_file

    def upload_while_someone_writes(*args: Any, **kwargs: Any) -> None:
        source.write_bytes(b"rewritten by another process")
        real_upload(*args, **kwargs)

    monkeypatch.setattr(store.client, "upload_file", upload_while_someone_writes)

    with pytest.raises(StorageError, match="changed while it was uploaded"):
        store.put_file(bucket, "moving.bin", source, metadata={})
    assert store.head(bucket, "moving.bin") is None


@pytest.mark.s3
def test_s3_errors_name_the_object_and_the_code(store: ObjectStore, tmp_path: Path) -> None:
    missing = f"t-{uuid4().hex[:12]}"
    source = tmp_path / "a.bin"
    _write(source, 10)

    with pytest.raises(StorageError) as by_put:
        store.put_bytes(missing, "k/doc.json", b"{}", metadata={})
    with pytest.raises(StorageError) as by_upload:
        store.put_file(missing, "k/a.bin", source, metadata={})

    for error, key in ((by_put.value, "k/doc.json"), (by_upload.value, "k/a.bin")):
        assert error.code == "NoSuchBucket"
        assert (error.bucket, error.key) == (missing, key)
        assert f"s3://{missing}/{key}" in str(error)
        assert "(NoSuchBucket)" in str(error)


@pytest.mark.s3
def test_ensure_bucket_creates_once_and_is_idempotent(store: ObjectStore) -> None:
    name = f"t-{uuid4().hex[:12]}"

    store.ensure_bucket(name)
    store.ensure_bucket(name)

    store.put_bytes(name, "x", b"x", metadata={})
    assert [o.key for o in store.iter_objects(name)] == ["x"]
    _empty_bucket(store, name)


@pytest.mark.s3
def test_delete_removes_and_tolerates_a_missing_key(store: ObjectStore, bucket: str) -> None:
    store.put_bytes(bucket, "gone.txt", b"bye", metadata={})

    store.delete(bucket, "gone.txt")
    store.delete(bucket, "gone.txt")

    assert store.head(bucket, "gone.txt") is None


# ----------------------------------------------------------------------------- reading


@pytest.mark.s3
def test_head_of_a_missing_key_is_none(store: ObjectStore, bucket: str) -> None:
    assert store.head(bucket, "nothing/here.tif") is None


@pytest.mark.s3
def test_download_writes_the_bytes_and_leaves_no_temporary_file(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "src.bin"
    data = _write(source, 3 * MIB + 17)
    store.put_file(bucket, "in/src.bin", source, metadata={"batch_id": "b1"})
    target_dir = tmp_path / "work" / "inputs"  # does not exist yet
    dest = target_dir / "src.bin"

    got = store.download(bucket, "in/src.bin", dest)

    assert dest.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.size == len(data)
    assert got.metadata["batch_id"] == "b1"
    assert _leftovers(target_dir) == ["src.bin"]


@pytest.mark.s3
@pytest.mark.parametrize("durable", [False, True])
def test_download_syncs_to_disk_only_when_asked(
    store: ObjectStore,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    durable: bool,
) -> None:
    source = tmp_path / "src.bin"
    data = _write(source, 1000)
    store.put_file(bucket, "in/sync.bin", source, metadata={})
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)

    got = store.download(bucket, "in/sync.bin", tmp_path / "out.bin", durable=durable)

    assert (tmp_path / "out.bin").read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert len(synced) == (1 if durable else 0)  # staged inputs are scratch: no sync


@pytest.mark.s3
def test_put_file_with_a_digest_does_not_hash_again(
    store: ObjectStore, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "product.bin"
    data = _write(source, 2 * MIB + 5)
    digest = hash_file(source)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.size == len(data)

    def no_second_hash(path: Path) -> FileDigest:
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(storage_module, "hash_file", no_second_hash)
    put = store.put_file(bucket, "lake/product.bin", source, metadata={}, digest=digest)

    assert put.sha256 == put.content_hash == digest.sha256
    assert store.sha256(bucket, "lake/product.bin") == digest.sha256


@pytest.mark.s3
def test_put_file_refuses_a_file_changed_since_its_digest(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "product.bin"
    _write(source, 1000)
    digest = hash_file(source)
    source.write_bytes(b"rewritten after it was hashed")

    with pytest.raises(StorageError, match="changed since it was hashed"):
        store.put_file(bucket, "lake/changed.bin", source, metadata={}, digest=digest)
    assert store.head(bucket, "lake/changed.bin") is None


@pytest.mark.s3
def test_download_replaces_an_existing_file(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    store.put_bytes(bucket, "doc.txt", b"new content", metadata={})
    dest = tmp_path / "doc.txt"
    dest.write_bytes(b"old content that is longer")

    store.download(bucket, "doc.txt", dest)

    assert dest.read_bytes() == b"new content"
    assert _leftovers(tmp_path) == ["doc.txt"]


@pytest.mark.s3
def test_download_of_a_missing_key_raises_and_writes_nothing(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    dest = tmp_path / "dl" / "absent.tif"
    dest.parent.mkdir()

    with pytest.raises(ObjectNotFoundError) as caught:
        store.download(bucket, "batch/absent.tif", dest)

    assert f"s3://{bucket}/batch/absent.tif" in str(caught.value)
    assert (caught.value.bucket, caught.value.key) == (bucket, "batch/absent.tif")
    assert caught.value.code == "NoSuchKey"
    assert _leftovers(dest.parent) == []


@pytest.mark.s3
def test_download_refuses_bytes_that_contradict_their_content_hash(
    store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    store.client.put_object(
        Bucket=bucket, Key="tampered", Body=b"data", Metadata={CONTENT_HASH_KEY: "0" * 64}
    )

    with pytest.raises(ObjectIntegrityError, match=f"s3://{bucket}/tampered"):
        store.download(bucket, "tampered", tmp_path / "tampered")

    assert _leftovers(tmp_path) == []


@pytest.mark.s3
def test_sha256_streams_the_object(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "s.bin"
    data = _write(source, 9 * MIB + 3)  # more than one 8 MiB chunk
    store.put_file(bucket, "s.bin", source, metadata={})

    assert store.sha256(bucket, "s.bin") == hashlib.sha256(data).hexdigest()
    with pytest.raises(ObjectNotFoundError, match=f"s3://{bucket}/nope"):
        store.sha256(bucket, "nope")


@pytest.mark.s3
def test_iter_objects_pages_through_more_than_a_thousand_keys(
    store: ObjectStore, bucket: str
) -> None:
    keys = [f"a/{index:04d}.json" for index in range(1050)] + ["b/1.json", "b/2.json"]
    # seeded with bare PUTs (put_bytes adds a HEAD each): the listing is what is under test
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda k: store.client.put_object(Bucket=bucket, Key=k, Body=k), keys))

    everything = list(store.iter_objects(bucket))
    under_a = [o.key for o in store.iter_objects(bucket, "a/")]
    after = [o.key for o in store.iter_objects(bucket, "a/", start_after="a/1039.json")]

    assert [o.key for o in everything] == sorted(keys)
    assert under_a == sorted(keys)[:1050]
    assert after == [f"a/{index:04d}.json" for index in range(1040, 1050)]
    first = everything[0]
    assert (first.bucket, first.size) == (bucket, len(first.key))
    assert re.fullmatch(MD5_HEX, first.etag)
    assert first.last_modified is not None
    assert first.metadata == {}
    assert first.sha256 is None
    assert [o.key for o in store.iter_objects(bucket, "c/")] == []


@pytest.mark.s3
def test_listing_a_missing_bucket_raises_storage_error(store: ObjectStore) -> None:
    missing = f"t-{uuid4().hex[:12]}"

    with pytest.raises(StorageError, match=r"\(NoSuchBucket\)") as caught:
        list(store.iter_objects(missing))
    assert caught.value.bucket == missing


# ----------------------------------------------------------------------------- GDAL


@pytest.mark.s3
def test_gdal_env_points_at_the_moto_endpoint(store: ObjectStore) -> None:
    port = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"]).port

    env = store.gdal_env()

    assert env["AWS_S3_ENDPOINT"] == f"127.0.0.1:{port}"
    assert env["AWS_HTTPS"] == "NO"
    assert env["AWS_VIRTUAL_HOSTING"] == "FALSE"
    assert env["AWS_REGION"] == "us-east-1"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert store.vsis3_path("b", "x/y.tif") == "/vsis3/b/x/y.tif"


@pytest.mark.s3
@pytest.mark.gdal
def test_gdal_reads_an_uploaded_geotiff_through_vsis3(
    store: ObjectStore, bucket: str, make_raster: Callable[..., Path]
) -> None:
    raster = make_raster("dem.tif", size=(64, 48), bands=2, burn=(7, 9))
    store.put_file(bucket, "batch-1/dem.tif", raster, metadata={}, content_type="image/tiff")
    runner = SubprocessGdalRunner(env=store.gdal_env())

    info = read_raster_info(runner, store.vsis3_path(bucket, "batch-1/dem.tif"))

    assert info.driver == "GTiff"
    assert info.size == (64, 48)
    assert info.band_count == 2
    assert info.crs_wkt is not None


@pytest.mark.s3
@pytest.mark.gdal
def test_gdal_writes_a_cog_straight_to_vsis3(
    store: ObjectStore, bucket: str, make_raster: Callable[..., Path]
) -> None:
    raster = make_raster("src.tif", size=(300, 200))
    runner = SubprocessGdalRunner(env=store.gdal_env())
    target = store.vsis3_path(bucket, "lake/out.tif")

    runner.run(["gdal_translate", "-of", "COG", str(raster), target])

    assert store.head(bucket, "lake/out.tif") is not None
    info = read_raster_info(runner, target)
    assert info.image_structure.get("LAYOUT") == "COG"
    assert info.size == (300, 200)


# ----------------------------------------------------------------------------- no server


def _offline(monkeypatch: pytest.MonkeyPatch, **values: Any) -> ObjectStore:
    for name in ("SPATIAL_ETL_S3_ENDPOINT_URL", "SPATIAL_ETL_S3_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SPATIAL_ETL_S3_SECRET_ACCESS_KEY", raising=False)
    return ObjectStore.from_settings(StorageSettings(**values))


def test_gdal_env_for_an_https_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    store = _offline(
        monkeypatch, s3_endpoint_url="https://minio.example.org:9443/", s3_region="eu-central-1"
    )

    assert store.gdal_env() == {
        "AWS_S3_ENDPOINT": "minio.example.org:9443",
        "AWS_HTTPS": "YES",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_REGION": "eu-central-1",
        "CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE": "YES",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }


def test_gdal_env_without_endpoint_leaves_aws_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    store = _offline(monkeypatch, s3_access_key_id="AKIA", s3_secret_access_key=SecretStr("s"))

    env = store.gdal_env()

    assert not {"AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING"} & env.keys()
    assert env["AWS_REGION"] == "us-east-1"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("AKIA", "s")
    assert env["CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE"] == "YES"


def test_an_endpoint_that_is_not_a_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StorageError, match="'minio:9000' is not an http"):
        _offline(monkeypatch, s3_endpoint_url="minio:9000")


def test_client_sends_checksums_only_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    config: Any = _offline(monkeypatch, s3_endpoint_url="http://minio:9000").client.meta.config

    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.s3 == {"addressing_style": "path"}
    # botocore reads max_attempts=5 as five retries: six attempts in all
    assert config.retries == {"total_max_attempts": 6, "mode": "standard"}


def _access_key(store: ObjectStore) -> str:
    credentials: Any = store.client._request_signer._credentials  # what signs
    return str(credentials.access_key)


def test_stores_with_configured_keys_share_botocore_data_but_not_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _offline(monkeypatch, s3_access_key_id="AKIA1", s3_secret_access_key=SecretStr("a"))
    second = _offline(monkeypatch, s3_access_key_id="AKIA2", s3_secret_access_key=SecretStr("b"))

    assert (_access_key(first), _access_key(second)) == ("AKIA1", "AKIA2")
    loaders: Any = (first.client, second.client)
    assert loaders[0]._loader is loaders[1]._loader  # the JSON is loaded once


def test_stores_without_configured_keys_look_them_up_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FROMENV1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    first = _offline(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FROMENV2")
    second = _offline(monkeypatch)

    assert (_access_key(first), _access_key(second)) == ("FROMENV1", "FROMENV2")


def test_half_configured_credentials_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StorageError, match="both"):
        _offline(monkeypatch, s3_access_key_id="AKIA")


def test_importing_reads_no_environment() -> None:
    code = "import spatial_etl.backends.storage"
    env = {**os.environ, "SPATIAL_ETL_S3_MULTIPART_THRESHOLD_MB": "not a number"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.s3
def test_get_bytes_reads_a_small_object_with_its_etag_and_hash(
    store: ObjectStore, bucket: str
) -> None:
    stored = store.put_bytes(bucket, "manifests/b1.json", b'{"a": 1}', metadata={})
    data, read = store.get_bytes(bucket, "manifests/b1.json")
    assert data == b'{"a": 1}'
    assert read.etag == stored.etag
    assert read.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(StorageError, match="more than the 4 allowed"):
        store.get_bytes(bucket, "manifests/b1.json", max_size=4)
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes(bucket, "manifests/none.json")


@pytest.mark.s3
def test_move_copies_then_deletes(store: ObjectStore, bucket: str) -> None:
    store.put_bytes(bucket, "manifests/b2.json", b"{}", metadata={"uploader": "me"})
    store.move(bucket, "manifests/b2.json", "manifests/processed/b2.json")
    assert store.head(bucket, "manifests/b2.json") is None
    moved = store.head(bucket, "manifests/processed/b2.json")
    assert moved is not None
    assert moved.metadata["uploader"] == "me"


@pytest.mark.s3
def test_non_recursive_listing_skips_sub_folders(store: ObjectStore, bucket: str) -> None:
    for key in ("manifests/a.json", "manifests/processed/old.json", "manifests/z.json"):
        store.put_bytes(bucket, key, b"{}", metadata={})
    flat = [o.key for o in store.iter_objects(bucket, "manifests/", recursive=False)]
    assert flat == ["manifests/a.json", "manifests/z.json"]
    after = [
        o.key
        for o in store.iter_objects(
            bucket, "manifests/", start_after="manifests/a.json", recursive=False
        )
    ]
    assert after == ["manifests/z.json"]
