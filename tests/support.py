"""Helpers shared by the cross-component tests: a platform on real services, documents."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mongomock
from pydantic import SecretStr
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.backends.ledger import COLLECTIONS, Ledger, ensure_indexes
from spatial_etl.backends.mongo_schema import mongo_json_schema
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.metadata import layout
from spatial_etl.models import Manifest
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.run.executor import Platform, RunReport, execute_run
from spatial_etl.settings import PluginSettings, PostgisSettings, StorageSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.testing import mongo_schema_errors

UTM_SQUARE = (
    "POLYGON((500000 5500000, 501000 5500000, 501000 5501000, 500000 5501000, 500000 5500000))"
)
UTM_BOWTIE = (
    "POLYGON((502000 5500000, 503000 5501000, 503000 5500000, 502000 5501000, 502000 5500000))"
)
UTM_CURVE = (
    "CURVEPOLYGON(CIRCULARSTRING(504000 5500000, 504500 5500500, 505000 5500000, "
    "504500 5499500, 504000 5500000))"
)


def is_metadata_key(key: str) -> bool:
    """Whether a lake key holds metadata (STAC tree, ISO record, quicklook), not data."""
    return key.startswith(layout.STAC_PREFIX + "/") or key.endswith(
        (layout.ISO_SUFFIX, layout.QUICKLOOK_SUFFIX)
    )


class World:
    """One test's platform: fresh buckets, a fresh ledger, the shared PostGIS."""

    def __init__(
        self, store: ObjectStore, ledger: Ledger, compute: PostgisCompute, tmp: Path
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.compute = compute
        self.tmp = tmp
        self.platform = Platform(
            store=store,
            ledger=ledger,
            runner=SubprocessGdalRunner(timeout_s=120),
            catalog=load_plugins(PluginSettings(plugins=None, block_plugins=frozenset())),
            compute=compute,
            workdir=tmp,
        )

    def upload(self, batch: str, path: Path, name: str | None = None) -> str:
        key = f"{batch}/{name or path.name}"
        self.store.put_file(self.store.settings.landing_bucket, key, path, metadata={})
        return f"s3://landing-zone/{key}"

    def run(self, manifest: dict[str, Any], run_id: str | None = None) -> RunReport:
        parsed = Manifest.model_validate(
            manifest, context={"manifest_name": manifest["batch_id"] + ".json"}
        )
        return execute_run(run_id or f"run-{uuid.uuid4()}", parsed, self.platform)

    def lake_keys(self) -> list[str]:
        """Every object in the lake: data, sidecars and STAC aggregates."""
        return [o.key for o in self.store.iter_objects(self.store.settings.lake_bucket)]

    def data_keys(self) -> list[str]:
        """The lake's data objects, without the metadata describing them."""
        return [key for key in self.lake_keys() if not is_metadata_key(key)]

    def download(self, key: str) -> Path:
        dest = self.tmp / "downloads" / key
        self.store.download(self.store.settings.lake_bucket, key, dest)
        return dest

    def run_schemas(self) -> list[str]:
        return [name for name, _ in self.compute.run_schemas()]


def manifest(
    batch: str, intent: str, files: list[dict[str, str]], **metadata: Any
) -> dict[str, Any]:
    return {
        "batch_id": batch,
        "uploader": "tests",
        "intent": intent,
        "files": files,
        "metadata": {"project": "TESTS", "description": f"{batch} for tests", **metadata},
    }


def raster_file(path: str, crs: str = "EPSG:32633") -> dict[str, str]:
    return {"path": path, "type": "raster", "format": "GTiff", "crs": crs}


def vector_file(path: str, fmt: str, crs: str = "EPSG:32633") -> dict[str, str]:
    return {"path": path, "type": "vector", "format": fmt, "crs": crs}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_ledger_valid(world: World) -> None:
    """Every document the run wrote passes the validator MongoDB would enforce."""
    for name, spec in COLLECTIONS.items():
        schema = mongo_json_schema(spec.model)
        for document in world.ledger.db[name].find():
            assert mongo_schema_errors(schema, document) == [], (name, document)


@contextmanager
def make_world(postgis_dsn: str, tmp_path: Path, ledger: Ledger | None = None) -> Iterator[World]:
    """Fresh buckets on moto's server, the shared PostGIS, and ``ledger`` (else a fresh
    mongomock ledger in this process)."""
    suffix = uuid.uuid4().hex[:10]
    settings = StorageSettings(
        s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
        s3_access_key_id="testing",
        s3_secret_access_key=SecretStr("testing"),
        landing_bucket=f"landing-{suffix}",
        lake_bucket=f"lake-{suffix}",
    )
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket(settings.landing_bucket)
    store.ensure_bucket(settings.lake_bucket)
    if ledger is None:
        db = mongomock.MongoClient(tz_aware=True)["ledger"]
        ensure_indexes(db)
        ledger = Ledger(db)
    compute = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(postgis_dsn)))
    try:
        yield World(store, ledger, compute, tmp_path)
    finally:
        compute.close()
