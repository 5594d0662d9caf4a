"""Stage a manifest's files for GDAL: download each object, hashing it as it is written.

Every input is downloaded to the run's work directory, so that the bytes a run processes are
exactly the bytes whose sha256 the ledger records: reading in place through /vsis3/ would
hash one read and process another, and an object overwritten in between would be recorded
under the wrong digest. It is also faster in practice: GDAL reads a GeoTIFF or a GeoPackage
through many ranged requests (129 for an 8000x8000 COG conversion, 8x slower for a
GeoPackage), while one streaming download costs a fraction of the conversion
(bench/README.md). Plain shapefiles bring their sidecars (.shx, .dbf, .prj, ...) along;
zipped ones are opened with /vsizip/ on the local copy.

Before each object is downloaded, the work directory's file system must have room for it plus
``SPATIAL_ETL_STAGING_MIN_FREE_MB`` to spare (the object's size comes from the listing or a
HEAD), so a huge upload fails with a clear reason instead of filling the disk the platform and
the other runs share.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Final

from pydantic import BaseModel, ConfigDict

from spatial_etl.backends.storage import ObjectStore, StoredObject
from spatial_etl.errors import InputError, ObjectNotFoundError, StagingSpaceError
from spatial_etl.models.drivers import ARCHIVE_SUFFIXES, SHAPEFILE_REQUIRED
from spatial_etl.models.ledger import InputRecord
from spatial_etl.models.manifest import Manifest, ManifestFile
from spatial_etl.settings import LimitSettings


class StagedInput(BaseModel):
    """One manifest file, ready for GDAL, with the digests of every object it is made of."""

    model_config = ConfigDict(frozen=True)

    index: int
    file: ManifestFile
    gdal_path: str
    records: tuple[InputRecord, ...]


MIB: Final = 1024 * 1024


def stage_inputs(
    store: ObjectStore,
    manifest: Manifest,
    workdir: Path,
    *,
    min_free_mb: int | None = None,
) -> list[StagedInput]:
    """Stage every file of ``manifest``.

    ``min_free_mb`` is the disk that must stay free after each download (default:
    ``SPATIAL_ETL_STAGING_MIN_FREE_MB``). Raises :class:`InputError` for a missing object and
    :class:`StagingSpaceError` when an object would not fit.
    """
    reserve = min_free_mb if min_free_mb is not None else LimitSettings().staging_min_free_mb
    return [
        _stage(store, index, item, workdir, reserve) for index, item in enumerate(manifest.files)
    ]


def ensure_space(directory: Path, needed: int, reserve_mb: int, what: str) -> None:
    """Refuse to write ``needed`` bytes under ``directory`` unless ``reserve_mb`` stays free."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed + reserve_mb * MIB > free:
        raise StagingSpaceError(
            f"{what}: {needed} bytes to download, {free} bytes free in {existing}, and "
            f"{reserve_mb} MiB must stay free (SPATIAL_ETL_STAGING_MIN_FREE_MB); free disk "
            "space in the work directory or lower that setting"
        )


def _stage(
    store: ObjectStore, index: int, item: ManifestFile, workdir: Path, reserve_mb: int
) -> StagedInput:
    bucket = store.settings.landing_bucket
    key = item.landing.key
    suffix = PurePosixPath(key).suffix.lower()
    local_dir = workdir / f"input_{index}"
    if item.format == "ESRI Shapefile" and suffix == ".shp":
        records, path = _download_shapefile(store, bucket, key, local_dir, reserve_mb)
        return StagedInput(index=index, file=item, gdal_path=str(path), records=records)
    name = PurePosixPath(key).name
    found = store.head(bucket, key)
    if found is None:
        raise _missing(bucket, key)
    ensure_space(workdir, found.size, reserve_mb, f"s3://{bucket}/{key}")
    stored = _download(store, bucket, key, local_dir / name)
    gdal_path = str(local_dir / name)
    if suffix in ARCHIVE_SUFFIXES:
        gdal_path = f"/vsizip/{gdal_path}"
    return StagedInput(index=index, file=item, gdal_path=gdal_path, records=(_record(stored),))


def _download_shapefile(
    store: ObjectStore, bucket: str, key: str, local_dir: Path, reserve_mb: int
) -> tuple[tuple[InputRecord, ...], Path]:
    stem = key[: -len(".shp")]
    parts = [
        o for o in store.iter_objects(bucket, prefix=stem + ".") if "/" not in o.key[len(stem) :]
    ]
    suffixes = {PurePosixPath(o.key).suffix.lower() for o in parts}
    if ".shp" not in suffixes:
        raise _missing(bucket, key)
    missing = [s for s in SHAPEFILE_REQUIRED if s not in suffixes]
    if missing:
        raise InputError(
            f"s3://{bucket}/{key}: the shapefile's {', '.join(missing)} sidecar(s) are missing "
            "beside it; upload them, or upload the shapefile zipped"
        )
    ensure_space(local_dir, sum(o.size for o in parts), reserve_mb, f"s3://{bucket}/{key}")
    records = []
    for part in parts:
        name = PurePosixPath(part.key).name
        records.append(_record(_download(store, bucket, part.key, local_dir / name)))
    return tuple(records), local_dir / PurePosixPath(key).name


def _download(store: ObjectStore, bucket: str, key: str, dest: Path) -> StoredObject:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        return store.download(bucket, key, dest)
    except ObjectNotFoundError:
        raise _missing(bucket, key) from None


def _record(stored: StoredObject) -> InputRecord:
    assert stored.sha256 is not None  # noqa: S101 - both staging paths compute it
    return InputRecord(
        path=f"s3://{stored.bucket}/{stored.key}",
        bucket=stored.bucket,
        key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
    )


def _missing(bucket: str, key: str) -> InputError:
    return InputError(f"s3://{bucket}/{key} does not exist in the landing zone (was it uploaded?)")
