"""The object store: the platform's only access to S3 (MinIO on premise, moto's server in tests).

Every object the store writes carries the SHA-256 of its bytes in the user metadata key
``content_hash``, so the ledger and the lake can name content without downloading it again,
and a download can prove that what arrived is what was stored. Every failure surfaces as a
:class:`~spatial_etl.errors.StorageError` naming the object and S3's error code.

GDAL reads and writes the same store through ``/vsis3/``; :meth:`ObjectStore.gdal_env` gives
it the configuration that points it at this endpoint.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from spatial_etl.errors import (
    InvalidMetadataError,
    ObjectIntegrityError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    StorageError,
    StorageUnavailableError,
)
from spatial_etl.settings import StorageSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import (
        GetObjectOutputTypeDef,
        HeadObjectOutputTypeDef,
        ListObjectsV2RequestPaginateTypeDef,
        ObjectTypeDef,
        PutObjectRequestTypeDef,
    )

MIB: Final = 1024 * 1024
CHUNK_SIZE: Final = MIB
"""Bytes read from a response body at a time (1 MiB: 8 MiB chunks measured slower)."""
READ_AHEAD: Final = 8
"""Chunks a download may read ahead of its hashing and writing: bounded memory per transfer."""

CONTENT_HASH_KEY: Final = "content_hash"
"""User-metadata key holding the SHA-256 (hex) of an object's bytes; reserved for the store."""

PRESIGNED_MAX_S: Final = 7 * 24 * 3600
"""The longest lifetime of a presigned URL that SigV4 allows."""

METADATA_LIMIT_BYTES: Final = 2048
"""S3's limit on user metadata: the UTF-8 bytes of every key and value together."""

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP token (RFC 9110)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NO_SUCH_KEY: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_S3_FAILURES: Final = (ClientError, BotoCoreError, S3UploadFailedError)
TRANSIENT_S3_CODES: Final = frozenset(
    {
        "500",
        "502",
        "503",
        "504",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "XMinioServerNotInitialized",
    }
)
"""S3 error codes that mean the service is failing for now, not that the request is wrong."""

logger = logging.getLogger(__name__)


class StoredObject(BaseModel):
    """What the store knows about one object."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    size: int = Field(ge=0, description="Bytes.")
    etag: str = Field(
        description="S3's ETag without quotes; '<md5>-<parts>' for a multipart upload."
    )
    last_modified: datetime | None = None
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="S3 user metadata with lower-case keys (S3 returns them so); empty when "
        "the object comes from a listing, which does not carry metadata.",
    )
    sha256: str | None = Field(
        default=None,
        description="SHA-256 (hex) of the bytes, set only when the store computed it itself.",
    )

    @field_validator("metadata", mode="after")
    @classmethod
    def _lower_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return {name.lower(): text for name, text in value.items()}

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def content_hash(self) -> str | None:
        """The SHA-256 recorded in the metadata when the object was written by the store."""
        return self.metadata.get(CONTENT_HASH_KEY)


class FileDigest(BaseModel):
    """A local file's SHA-256 and the state (size, modification time) it was computed on."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    size: int = Field(ge=0)
    mtime_ns: int

    @property
    def state(self) -> tuple[int, int]:
        """Size and modification time (ns), as :func:`_file_state` gives them."""
        return self.size, self.mtime_ns


class ObjectStore:
    """Reads and writes objects in an S3-compatible store; the platform's only S3 client.

    The boto3 client is thread-safe, so one store may serve many threads.
    """

    def __init__(self, client: S3Client, settings: StorageSettings) -> None:
        """Wrap a boto3 S3 client.

        Args:
            client: The S3 client every call goes through (see :meth:`from_settings`).
            settings: Endpoint, credentials and multipart threshold (read by :meth:`gdal_env` too).
        """
        self.client = client
        self.settings = settings
        self._signers: dict[str, S3Client] = {}  # presigned_url's clients of other endpoints

    @classmethod
    def from_settings(cls, settings: StorageSettings | None = None) -> ObjectStore:
        """Build a store and its client from ``SPATIAL_ETL_S3_*`` settings.

        Credentials come from the settings when given, else from boto3's own lookup
        (environment, profiles, instance roles).

        Raises:
            StorageError: The endpoint is not an http(s) URL, or only one of the access key id
                and the secret is configured.
        """
        settings = settings if settings is not None else StorageSettings()
        if settings.s3_endpoint_url is not None:
            _gdal_endpoint(settings.s3_endpoint_url)  # refuse a malformed URL with our error
        return cls(_new_client(settings, settings.s3_endpoint_url), settings)

    def close(self) -> None:
        """Close the client's pooled HTTP connections (the platform ends with its process)."""
        self.client.close()

    # ------------------------------------------------------------------------- writing

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        metadata: Mapping[str, str],
        content_type: str | None = None,
        progress: Callable[[int], None] | None = None,
        digest: FileDigest | None = None,
    ) -> StoredObject:
        """Upload a local file with its SHA-256 in the user metadata as ``content_hash``.

        S3 user metadata travels in the headers of the request that starts an upload
        (PutObject or CreateMultipartUpload) and cannot be changed afterwards short of
        copying the whole object onto itself. The hash must therefore be known before the
        first byte is sent, so the file is read twice: once to hash, once to upload. A caller
        that already hashed the file (publishing needs the digest to claim its version) passes
        that :class:`FileDigest` and the file is read once more only to be sent. Files larger
        than the multipart threshold go up in parts of the configured size, in parallel.

        A file that changed between the hash and the end of the upload would be stored under
        a false hash; its size and modification time are compared (with ``digest``: those it
        had when it was hashed), and if they moved the upload is refused (the object deleted
        when it was already sent).

        Args:
            bucket: Target bucket (must exist).
            key: Target key.
            path: The local file.
            metadata: User metadata to store with the object (ASCII header names and values).
            content_type: The object's Content-Type; S3's default when ``None``.
            progress: Called with each chunk's byte count as it is sent (boto3's transfer
                callback, possibly from several threads), for progress within a file.
            digest: The file's SHA-256 with its size and modification time when it was
                hashed (:func:`hash_file`); the file is hashed here when ``None``.

        Returns:
            The uploaded object as S3 reports it, with ``sha256`` set.

        Raises:
            InvalidMetadataError: The metadata cannot be stored; nothing was uploaded.
            StorageError: The upload failed, or the file changed while it was uploaded.
        """
        sent = _user_metadata(bucket, key, metadata)
        hashed = digest if digest is not None else hash_file(path)
        before = hashed.state
        if _file_state(path) != before:
            raise StorageError(
                f"upload to s3://{bucket}/{key} refused: {path} changed since it was hashed",
                bucket=bucket,
                key=key,
            )
        sent[CONTENT_HASH_KEY] = hashed.sha256
        extra: dict[str, object] = {"Metadata": sent}
        if content_type is not None:
            extra["ContentType"] = content_type
        logger.info("uploading %s to s3://%s/%s", path, bucket, key)
        with _s3_errors("upload", bucket, key):
            self.client.upload_file(
                str(path),
                bucket,
                key,
                ExtraArgs=extra,
                Config=self._transfer_config(),
                Callback=progress,
            )
        if _file_state(path) != before:
            self.delete(bucket, key)
            raise StorageError(
                f"upload to s3://{bucket}/{key} refused: {path} changed while it was uploaded",
                bucket=bucket,
                key=key,
            )
        return self._written(bucket, key, hashed.sha256)

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        metadata: Mapping[str, str],
        content_type: str | None = None,
    ) -> StoredObject:
        """Store a small document (a report, a JSON record) in one request.

        Like :meth:`put_file`, the object carries its SHA-256 as ``content_hash``.

        Returns:
            The stored object as S3 reports it, with ``sha256`` set.

        Raises:
            InvalidMetadataError: The metadata cannot be stored; nothing was uploaded.
            StorageError: S3 refused or failed the request.
        """
        sent = _user_metadata(bucket, key, metadata)
        digest = hashlib.sha256(data).hexdigest()
        sent[CONTENT_HASH_KEY] = digest
        request: PutObjectRequestTypeDef = {
            "Bucket": bucket,
            "Key": key,
            "Body": data,
            "Metadata": sent,
        }
        if content_type is not None:
            request["ContentType"] = content_type
        with _s3_errors("put", bucket, key):
            self.client.put_object(**request)
        return self._written(bucket, key, digest)

    def get_bytes(
        self, bucket: str, key: str, *, max_size: int = 1 << 20
    ) -> tuple[bytes, StoredObject]:
        """Read a small object (a manifest) whole, with its ETag, size and sha256.

        Refuses objects larger than ``max_size``: a manifest is a few kilobytes, and a huge
        object in its place must not exhaust memory.
        """
        response = self._get(bucket, key)
        size = response["ContentLength"]
        if size > max_size:
            response["Body"].close()
            raise ObjectTooLargeError(
                f"s3://{bucket}/{key} is {size} bytes, more than the {max_size} allowed",
                bucket=bucket,
                key=key,
                code=None,
            )
        with _s3_errors("read", bucket, key):
            data = response["Body"].read()
        stored = StoredObject(
            bucket=bucket,
            key=key,
            size=len(data),
            etag=response["ETag"].strip('"'),
            last_modified=response.get("LastModified"),
            metadata=response.get("Metadata", {}),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        return data, stored

    def move(self, bucket: str, source: str, target: str, *, etag: str | None = None) -> bool:
        """Move an object within a bucket (server-side copy, then delete of the source).

        With ``etag`` only that version moves: the copy is conditional (``CopySourceIfMatch``)
        and the source is deleted only if a HEAD still shows that ETag, so a manifest re-uploaded
        meanwhile stays where it is. Returns False when the source is missing or is another
        version (nothing moved), True when it moved. S3 has no conditional delete on every
        server, so a re-upload landing between that HEAD and the delete is the one race left
        (moto's server, used in tests, ignores the copy condition: a HEAD before the copy
        checks it as well).
        """
        source_spec: dict[str, str] = {"Bucket": bucket, "Key": source}
        conditions: dict[str, str] = {"CopySourceIfMatch": f'"{etag}"'} if etag else {}
        if etag is not None:  # also checked here: not every S3 server honours the condition
            before = self.head(bucket, source)
            if before is None or before.etag != etag:
                return False
        try:
            with _s3_errors("copy", bucket, source):
                self.client.copy_object(
                    Bucket=bucket,
                    Key=target,
                    CopySource=source_spec,  # type: ignore[arg-type]
                    **conditions,  # type: ignore[arg-type]
                )
        except StorageError as error:
            if error.code in _NO_SUCH_KEY or error.code == "PreconditionFailed":
                return False
            raise
        if etag is not None:
            current = self.head(bucket, source)
            if current is None or current.etag != etag:
                return True  # the source already went, or a new version replaced it
        self.delete(bucket, source)
        return True

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting a missing key is not an error (S3 semantics)."""
        with _s3_errors("delete", bucket, key):
            self.client.delete_object(Bucket=bucket, Key=key)

    def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` unless it exists; safe to call repeatedly and concurrently.

        The existence check comes first so that a deployment whose credentials may not
        create buckets still works once the buckets are there.

        Raises:
            StorageError: The bucket cannot be checked or created (e.g. someone else owns it).
        """
        if self._bucket_exists(bucket):
            return
        region = self.settings.s3_region
        try:
            with _s3_errors("create bucket", bucket):
                if region == "us-east-1":  # the one region S3 refuses as a LocationConstraint
                    self.client.create_bucket(Bucket=bucket)
                else:
                    constraint = cast("BucketLocationConstraintType", region)
                    self.client.create_bucket(
                        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": constraint}
                    )
        except StorageError as error:
            if error.code == "BucketAlreadyOwnedByYou":  # lost a race with ourselves: fine
                return
            raise
        logger.info("created bucket %s", bucket)

    # ------------------------------------------------------------------------- reading

    def head(self, bucket: str, key: str) -> StoredObject | None:
        """What S3 records for an object (size, ETag, metadata), or ``None`` when absent.

        A HEAD response has no body, so S3 cannot say *which* thing is missing: a key in a
        bucket that does not exist also reads as ``None``.

        Raises:
            StorageError: Any failure other than 404 (permissions, connection...).
        """
        try:
            with _s3_errors("head", bucket, key):
                response = self.client.head_object(Bucket=bucket, Key=key)
        except StorageError as error:
            if error.code in _NO_SUCH_KEY:
                return None
            raise
        return _from_head(bucket, key, response)

    def iter_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        start_after: str | None = None,
        recursive: bool = True,
    ) -> Iterator[StoredObject]:
        """Every object under ``prefix``, in key order, one page of up to 1,000 at a time.

        Listings do not carry user metadata: each object's ``metadata`` is empty and its
        ``sha256`` is ``None``; call :meth:`head` for the metadata of the ones that matter.

        Args:
            bucket: The bucket to list.
            prefix: Only keys starting with this.
            start_after: Only keys after this one (exclusive), e.g. to resume a listing.
            recursive: False lists only the keys directly under ``prefix`` (S3's ``/``
                delimiter), so sub-folders such as an archive cost nothing to skip.

        Raises:
            StorageError: The listing failed (raised while iterating).
        """
        request: ListObjectsV2RequestPaginateTypeDef = {"Bucket": bucket, "Prefix": prefix}
        if start_after is not None:
            request["StartAfter"] = start_after
        if not recursive:
            request["Delimiter"] = "/"
        paginator = self.client.get_paginator("list_objects_v2")
        with _s3_errors("list", bucket, prefix or None):
            for page in paginator.paginate(**request):
                for entry in page.get("Contents", []):
                    yield _from_listing(bucket, entry)

    def download(self, bucket: str, key: str, dest: Path, *, durable: bool = False) -> StoredObject:
        """Stream an object to ``dest``, hashing it in the same pass.

        The bytes go to a temporary file beside ``dest`` (same file system, so the final
        rename is atomic) that is renamed only once every byte has arrived and matched the
        object's length and, when present, its ``content_hash``. A failed download leaves
        neither ``dest`` changed nor a temporary file behind. Missing parent directories are
        created.

        ``durable`` flushes the bytes to the disk (``fsync``) before the rename, so that a
        power loss cannot leave ``dest`` present but empty. Staged inputs do not ask for it:
        a crash discards the run's work directory, and the hash recorded is of the bytes that
        went through this process, which are the bytes GDAL reads from the page cache. The
        sync measured most of a staging's cost beyond the transfer (bench/README.md).

        Returns:
            The object with ``sha256`` and ``size`` of the bytes written.

        Raises:
            ObjectNotFoundError: The key does not exist.
            ObjectIntegrityError: The bytes do not match the object's length or content_hash.
            StorageError: Any other failure, including a connection lost mid-stream.
        """
        response = self._get(bucket, key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            with partial.open("xb") as sink:
                digest, size = _drain(bucket, key, response, sink.write)
                if durable:
                    sink.flush()
                    os.fsync(sink.fileno())
            stored = _checked(bucket, key, response, digest, size)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
        return stored

    def sha256(self, bucket: str, key: str) -> str:
        """SHA-256 (hex) of an object's bytes, streamed and hashed without touching disk.

        This measures what is stored; it does not compare with ``content_hash`` (that is
        the caller's question to ask).

        Raises:
            ObjectNotFoundError: The key does not exist.
            StorageError: Any other failure.
        """
        response = self._get(bucket, key)
        digest, _ = _drain(bucket, key, response, None)
        return digest

    def presigned_url(
        self, bucket: str, key: str, *, expires_s: int, endpoint_url: str | None = None
    ) -> str:
        """A URL anyone holding it may GET the object with, for ``expires_s`` seconds.

        Signed locally with the store's credentials (no request is sent, so a missing object
        is not detected here: check with :meth:`head` first). SigV4 signs the host, so the URL
        names the host its holder must reach: the store's endpoint, or ``endpoint_url`` when
        the holder reaches the same store by another name (a browser outside the network
        where the store is ``http://minio:9000``). SigV4 limits the lifetime to seven days.

        Raises:
            ValueError: ``expires_s`` is not between 1 and 604800.
            StorageError: ``endpoint_url`` is not an http(s) URL, or the URL cannot be signed.
        """
        if not 1 <= expires_s <= PRESIGNED_MAX_S:
            raise ValueError(f"expires_s must be between 1 and {PRESIGNED_MAX_S}, not {expires_s}")
        client = self.client
        if endpoint_url is not None and endpoint_url != self.settings.s3_endpoint_url:
            _gdal_endpoint(endpoint_url)  # refuse a malformed URL with our error
            client = self._signer(endpoint_url)
        with _s3_errors("presign", bucket, key):
            return client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
            )

    def _signer(self, endpoint_url: str) -> S3Client:
        """A client of ``endpoint_url`` with this store's credentials, made once, to sign."""
        signers = self._signers
        if endpoint_url not in signers:
            signers[endpoint_url] = _new_client(self.settings, endpoint_url)
        return signers[endpoint_url]

    # ------------------------------------------------------------------------- GDAL

    @staticmethod
    def vsis3_path(bucket: str, key: str) -> str:
        """The path GDAL opens an object by: ``/vsis3/bucket/key``."""
        return f"/vsis3/{bucket}/{key}"

    def gdal_env(self) -> dict[str, str]:
        """GDAL configuration for ``/vsis3/`` against this store, for the runner's ``env``.

        With an endpoint (MinIO) GDAL is pointed at it with path-style addressing; without
        one (AWS) GDAL's defaults apply and only region and credentials are set. Credentials
        are included only when the settings hold them; otherwise GDAL finds them as boto3
        does (environment, profiles). ``CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE`` lets GDAL
        write a COG straight to ``/vsis3/`` (the driver seeks back while writing), and
        ``GDAL_DISABLE_READDIR_ON_OPEN`` stops a LIST of the prefix on every open.

        Raises:
            StorageError: The endpoint URL is not an http(s) URL with a host.
        """
        env = {
            "AWS_REGION": self.settings.s3_region,
            "CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE": "YES",
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        }
        if self.settings.s3_endpoint_url is not None:
            env.update(_gdal_endpoint(self.settings.s3_endpoint_url))
        key_id, secret = _credentials(self.settings)
        if key_id is not None and secret is not None:
            env["AWS_ACCESS_KEY_ID"] = key_id
            env["AWS_SECRET_ACCESS_KEY"] = secret
        return env

    # ------------------------------------------------------------------------- internals

    def _transfer_config(self) -> TransferConfig:
        # Parts smaller than the threshold: more of them go up at once (64 MiB parts of a
        # 150 MiB COG took 1.8 s against 1.45 s in 16 MiB parts on the same endpoint).
        return TransferConfig(
            multipart_threshold=self.settings.s3_multipart_threshold_mb * MIB,
            multipart_chunksize=self.settings.s3_multipart_part_mb * MIB,
        )

    def _get(self, bucket: str, key: str) -> GetObjectOutputTypeDef:
        try:
            with _s3_errors("read", bucket, key):
                return self.client.get_object(Bucket=bucket, Key=key)
        except StorageError as error:
            if error.code in _NO_SUCH_KEY:
                raise ObjectNotFoundError(
                    f"s3://{bucket}/{key} does not exist ({error.code})",
                    bucket=bucket,
                    key=key,
                    code=error.code,
                ) from error
            raise

    def _written(self, bucket: str, key: str, digest: str) -> StoredObject:
        stored = self.head(bucket, key)
        if stored is None:
            raise StorageError(
                f"s3://{bucket}/{key} is missing right after its upload", bucket=bucket, key=key
            )
        return stored.model_copy(update={"sha256": digest})

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            with _s3_errors("check bucket", bucket):
                self.client.head_bucket(Bucket=bucket)
        except StorageError as error:
            if error.code in {"404", "NoSuchBucket", "NotFound"}:
                return False
            raise
        return True


# ----------------------------------------------------------------------------- helpers


def _client_config() -> Config:
    """Retries, path-style addressing (MinIO) and checksums only where S3 requires them.

    boto3 >= 1.36 computes and sends CRC checksums on every upload by default, and some
    MinIO releases rejected those requests (boto/boto3#4392). "when_required" restores the
    former behaviour; the store's own integrity check is the SHA-256 in ``content_hash``.
    SigV4 is named because presigned URLs otherwise use the legacy SigV2 query form.
    """
    return Config(
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"},
    )


_SESSION_LOCK = threading.Lock()


def _new_client(settings: StorageSettings, endpoint_url: str | None) -> S3Client:
    """An S3 client of ``endpoint_url`` with the configured credentials.

    A boto3 session loads botocore's service model and endpoint data (JSON, about 0.2 s) the
    first time it makes a client and caches them; a fresh session per store paid that for
    every store (four times in a small local run). With configured credentials every client
    comes from one session per process, which never consults its own credential lookup, so
    sharing it shares only those caches; sessions are not thread-safe, hence the lock. With
    none, each client gets a fresh session, so boto3's lookup (environment, profiles) is done
    again for each store, as it always was.
    """
    key_id, secret = _credentials(settings)
    with _SESSION_LOCK:
        session = _shared_session() if key_id is not None else boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=_client_config(),
        )


@functools.cache
def _shared_session() -> boto3.session.Session:
    """The process's session for clients with explicit credentials (see :func:`_new_client`)."""
    return boto3.session.Session()


def _credentials(settings: StorageSettings) -> tuple[str | None, str | None]:
    """The configured access key id and secret, both or neither."""
    key_id = settings.s3_access_key_id
    secret = settings.s3_secret_access_key
    if (key_id is None) != (secret is None):
        raise StorageError(
            "set both SPATIAL_ETL_S3_ACCESS_KEY_ID and SPATIAL_ETL_S3_SECRET_ACCESS_KEY, "
            "or neither (boto3's own credential lookup then applies)"
        )
    return key_id, secret.get_secret_value() if secret is not None else None


def _gdal_endpoint(url: str) -> dict[str, str]:
    """GDAL's endpoint keys for an endpoint URL: host[:port][/path] and the scheme."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise StorageError(f"S3 endpoint {url!r} is not an http:// or https:// URL with a host")
    return {
        "AWS_S3_ENDPOINT": parts.netloc + parts.path.rstrip("/"),
        "AWS_HTTPS": "YES" if parts.scheme == "https" else "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


@contextmanager
def _s3_errors(action: str, bucket: str, key: str | None = None) -> Iterator[None]:
    """Turn boto3/botocore failures into a StorageError naming the object and the S3 code."""
    try:
        yield
    except _S3_FAILURES as error:
        code, detail = _describe(error)
        where = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"
        kind = (
            StorageUnavailableError if code is None or code in TRANSIENT_S3_CODES else StorageError
        )
        raise kind(
            f"{action} {where} failed ({code or type(error).__name__}): {detail}",
            bucket=bucket,
            key=key,
            code=code,
        ) from error


def _describe(error: BaseException) -> tuple[str | None, str]:
    """S3's error code and message, from the ClientError anywhere in the exception chain."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ClientError):
            details = current.response.get("Error", {})
            return details.get("Code") or None, details.get("Message") or str(current)
        current = current.__cause__ or current.__context__
    return None, str(error)


def _user_metadata(bucket: str, key: str, metadata: Mapping[str, str]) -> dict[str, str]:
    """Validated user metadata with lower-case keys; see :class:`InvalidMetadataError`."""
    problems: list[str] = []
    sent: dict[str, str] = {}
    for name, value in metadata.items():
        lowered = name.lower()
        if not name.isascii() or not _HEADER_NAME.match(name):
            problems.append(f"key {name!r} is not an ASCII header name")
        elif lowered == CONTENT_HASH_KEY:
            problems.append(f"key {name!r} is reserved for the store's SHA-256")
        elif lowered in sent:
            problems.append(f"key {name!r} repeats another key (S3 keys ignore case)")
        if not value.isascii() or _CONTROL.search(value):
            problems.append(f"value of {name!r} is not printable ASCII: {value!r}")
        sent[lowered] = value
    size = sum(len(k.encode()) + len(v.encode()) for k, v in sent.items())
    if size + len(CONTENT_HASH_KEY) + 64 > METADATA_LIMIT_BYTES:
        problems.append(f"{size} bytes with content_hash exceed S3's {METADATA_LIMIT_BYTES}")
    if problems:
        raise InvalidMetadataError(
            f"metadata for s3://{bucket}/{key} refused: " + "; ".join(problems),
            bucket=bucket,
            key=key,
        )
    return sent


def _file_state(path: Path) -> tuple[int, int]:
    """Size and modification time (ns): what changes when a file is rewritten."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def hash_file(path: Path) -> FileDigest:
    """SHA-256 of a local file, with the size and modification time it had when read.

    The state is taken before the read: a file rewritten during the read shows a later
    modification time, which :meth:`ObjectStore.put_file` then refuses.
    """
    size, mtime_ns = _file_state(path)
    with path.open("rb") as source:
        sha256 = hashlib.file_digest(source, "sha256").hexdigest()
    return FileDigest(sha256=sha256, size=size, mtime_ns=mtime_ns)


def _drain(
    bucket: str,
    key: str,
    response: GetObjectOutputTypeDef,
    write: Callable[[bytes], object] | None,
) -> tuple[str, int]:
    """Read a GetObject body to the end, hashing it and passing each chunk to ``write``.

    The body is read on a helper thread (:class:`_BodyReader`) while this one hashes and
    writes: receiving, hashing and writing each release the GIL, so they overlap instead of
    adding up (a 192 MiB object from the test endpoint: 0.45 s instead of 0.65 s).
    """
    hasher = hashlib.sha256()
    size = 0
    body = response["Body"]
    reader = _BodyReader(body)
    try:
        with _s3_errors("read", bucket, key):
            for chunk in reader:
                hasher.update(chunk)
                size += len(chunk)
                if write is not None:
                    write(chunk)
    finally:
        reader.stop()
        body.close()
        reader.join()
    return hasher.hexdigest(), size


class _BodyReader:
    """Reads a response body on a thread of its own, at most ``READ_AHEAD`` chunks ahead.

    Whatever the read raises is raised again by the iteration, in the consumer's thread, so
    the consumer maps it as if it had read the body itself. When the consumer stops early (an
    error, a full disk), :meth:`stop` makes the reader drop what it reads and end; a reader
    stuck on a stalled connection ends at the client's read timeout, as a daemon thread that
    :meth:`join` waits for only briefly.
    """

    _END: Final = object()
    _JOIN_S: Final = 5.0

    def __init__(self, body: Any) -> None:
        self._body = body
        self._items: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, name="s3-body-reader", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[bytes]:
        while (item := self._items.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield cast(bytes, item)

    def stop(self) -> None:
        """Tell the reader to drop what it reads and end."""
        self._stopped.set()

    def join(self) -> None:
        """Wait for the reader to end (briefly: see the class docstring)."""
        self._thread.join(timeout=self._JOIN_S)

    def _read(self) -> None:
        end: object = self._END
        try:
            for chunk in self._body.iter_chunks(CHUNK_SIZE):
                if not self._offer(chunk):
                    return
        except BaseException as error:  # noqa: BLE001 - handed over, raised by the consumer
            end = error
        self._offer(end)

    def _offer(self, item: object) -> bool:
        """Queue ``item`` unless the consumer stopped; False when it did."""
        while not self._stopped.is_set():
            try:
                self._items.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False


def _checked(
    bucket: str, key: str, response: GetObjectOutputTypeDef, digest: str, size: int
) -> StoredObject:
    """The downloaded object, once its bytes match its length and recorded content_hash."""
    stored = StoredObject(
        bucket=bucket,
        key=key,
        size=size,
        etag=response["ETag"].strip('"'),
        last_modified=response.get("LastModified"),
        metadata=response.get("Metadata", {}),
        sha256=digest,
    )
    expected = response["ContentLength"]
    problem = None
    if size != expected:
        problem = f"received {size} bytes of {expected}"
    elif stored.content_hash is not None and stored.content_hash != digest:
        problem = f"sha256 {digest} differs from its content_hash {stored.content_hash}"
    if problem is not None:
        raise ObjectIntegrityError(
            f"download of s3://{bucket}/{key} refused: {problem}", bucket=bucket, key=key
        )
    return stored


def _from_head(bucket: str, key: str, response: HeadObjectOutputTypeDef) -> StoredObject:
    return StoredObject(
        bucket=bucket,
        key=key,
        size=response["ContentLength"],
        etag=response["ETag"].strip('"'),
        last_modified=response.get("LastModified"),
        metadata=response.get("Metadata", {}),
    )


def _from_listing(bucket: str, entry: ObjectTypeDef) -> StoredObject:
    return StoredObject(
        bucket=bucket,
        key=entry["Key"],
        size=entry.get("Size", 0),
        etag=entry.get("ETag", "").strip('"'),
        last_modified=entry.get("LastModified"),
    )
