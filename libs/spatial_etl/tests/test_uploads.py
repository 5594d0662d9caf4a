"""Uploading a directory as a batch: the plan (offline), then ``spatial-etl upload`` on S3.

The S3 tests run against moto's server (``@pytest.mark.s3``) with a bucket of their own as
the landing bucket; the command's store is wrapped (``connect.open_store``) to record the
order of the uploads and to make one fail on purpose.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest
from pydantic import SecretStr
from spatial_etl import FileType
from spatial_etl.backends.storage import CONTENT_HASH_KEY, ObjectStore, StoredObject
from spatial_etl.cli import app, connect
from spatial_etl.errors import StorageError, UploadError
from spatial_etl.models import Problem
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import IntentCatalog
from spatial_etl.run.validation import check_manifest
from spatial_etl.settings import PluginSettings, StorageSettings
from spatial_etl.spatial_utils import SubprocessGdalRunner
from spatial_etl.uploads import (
    EXTENSION_FORMATS,
    FormatOverride,
    PlannedUpload,
    UploadPlan,
    UploadRequest,
    crs_code,
    execute_upload,
    parse_assignment,
    plan_upload,
    read_file_crs,
    scan_directory,
    typed_parameters,
)
from typer.testing import CliRunner

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def catalog() -> IntentCatalog:
    return load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))


def _tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def _request(**changes: Any) -> UploadRequest:
    values: dict[str, Any] = {
        "batch_id": "batch_2026_01",
        "intent": "ingest_vector_boundary",
        "uploader": "alice",
        "project": "cadastre",
        "description": "District boundaries",
        "crs": "EPSG:4326",
    }
    return UploadRequest(**{**values, **changes})


def _files(plan: UploadPlan) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", plan.manifest["files"])


def _problems(error: pytest.ExceptionInfo[UploadError]) -> dict[str, str]:
    return {problem.loc: problem.message for problem in cast("list[Problem]", error.value.problems)}


def _codes(error: pytest.ExceptionInfo[UploadError]) -> dict[str, str]:
    return {problem.loc: problem.code for problem in cast("list[Problem]", error.value.problems)}


# ----------------------------------------------------------------------------- planning


@pytest.mark.parametrize(
    ("name", "kind", "driver"),
    [
        ("a.tif", "raster", "GTiff"),
        ("a.TIFF", "raster", "GTiff"),
        ("a.jp2", "raster", "JP2OpenJPEG"),
        ("a.gpkg", "vector", "GPKG"),
        ("a.geojson", "vector", "GeoJSON"),
        ("a.json", "vector", "GeoJSON"),
        ("a.fgb", "vector", "FlatGeobuf"),
        ("a.zip", "vector", "ESRI Shapefile"),
    ],
)
def test_extensions_give_type_and_driver(tmp_path: Path, name: str, kind: str, driver: str) -> None:
    _tree(tmp_path, {name: b"data"})
    plan = plan_upload(tmp_path, _request(), landing_bucket="landing")
    [entry] = _files(plan)
    assert (entry["type"], entry["format"]) == (kind, driver)
    assert EXTENSION_FORMATS[Path(name).suffix.lower()] == (FileType(kind), driver)


def test_plan_lists_data_files_and_carries_shapefile_sidecars_unlisted(
    tmp_path: Path, catalog: IntentCatalog
) -> None:
    _tree(
        tmp_path,
        {
            "districts.gpkg": b"gpkg",
            "roads/roads.shp": b"shp",
            "roads/roads.shx": b"shx",
            "roads/roads.DBF": b"dbf",
            "roads/roads.prj": b"prj",
            "roads/roads.cpg": b"UTF-8",
            "roads/roads.shp.xml": b"<xml/>",
            "parcels.zip": b"zip",
            ".DS_Store": b"junk",
            ".cache/x.tif": b"junk",
        },
    )
    plan = plan_upload(tmp_path, _request(), landing_bucket="physical-landing", catalog=catalog)
    assert plan.bucket == "physical-landing"
    assert plan.manifest_key == "manifests/batch_2026_01.json"
    assert [(u.key, u.listed) for u in plan.uploads] == [
        ("batch_2026_01/districts.gpkg", True),
        ("batch_2026_01/parcels.zip", True),
        ("batch_2026_01/roads/roads.DBF", False),
        ("batch_2026_01/roads/roads.cpg", False),
        ("batch_2026_01/roads/roads.prj", False),
        ("batch_2026_01/roads/roads.shp", True),
        ("batch_2026_01/roads/roads.shp.xml", False),
        ("batch_2026_01/roads/roads.shx", False),
    ]
    assert plan.manifest == {
        "batch_id": "batch_2026_01",
        "uploader": "alice",
        "intent": "ingest_vector_boundary",
        "files": [
            {
                "path": f"s3://landing-zone/batch_2026_01/{name}",  # the contract's bucket name
                "type": "vector",
                "format": driver,
                "crs": "EPSG:4326",
            }
            for name, driver in (
                ("districts.gpkg", "GPKG"),
                ("parcels.zip", "ESRI Shapefile"),
                ("roads/roads.shp", "ESRI Shapefile"),
            )
        ],
        "metadata": {"project": "cadastre", "description": "District boundaries"},
    }
    assert plan.total_size == sum(u.size for u in plan.uploads) == 30
    report = check_manifest(plan.manifest_bytes(), source="batch_2026_01.json", catalog=catalog)
    assert report.valid, report.problems


def test_unknown_files_are_refused_unless_excluded(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "a.gpkg": b"x",
            "README.txt": b"x",
            "Makefile": b"x",
            "scene.tif.aux.xml": b"x",
            "scratch/old.csv": b"x",
        },
    )
    with pytest.raises(UploadError) as refused:
        plan_upload(tmp_path, _request(), landing_bucket="landing")
    problems = _problems(refused)
    assert set(problems) == {"README.txt", "Makefile", "scene.tif.aux.xml", "scratch/old.csv"}
    assert "extension '.txt' is not a known data file" in problems["README.txt"]
    assert "exclude it, or declare its driver" in problems["README.txt"]
    assert "--" not in " ".join(problems.values())  # the core speaks of parameters, not flags
    assert problems["Makefile"].startswith("no extension")
    request = _request(exclude=("*.txt", "Makefile", "*.aux.xml", "scratch"))
    plan = plan_upload(tmp_path, request, landing_bucket="landing")
    assert [u.relative for u in plan.uploads] == ["a.gpkg"]


def test_shapefile_sidecars_need_their_shp_and_the_shp_its_sidecars(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "orphan.dbf": b"x",
            "lonely.shp": b"x",
            "lonely.prj": b"x",
            "half/half.shp": b"x",
            "half/half.shx": b"x",
            "case/Case.shp": b"x",
            "case/case.shx": b"x",  # another stem: staging would not find it
            "case/Case.dbf": b"x",
        },
    )
    with pytest.raises(UploadError) as refused:
        plan_upload(tmp_path, _request(), landing_bucket="landing")
    problems = _problems(refused)
    assert "without orphan.shp beside it" in problems["orphan.dbf"]
    assert "sidecar(s) are missing" in problems["lonely.shp"]
    assert ".shx, .dbf" in problems["lonely.shp"]
    assert ".dbf sidecar(s)" in problems["half/half.shp"]
    assert ".shx sidecar(s)" in problems["case/Case.shp"]
    assert "without case.shp beside it" in problems["case/case.shx"]
    assert "lonely.prj" not in problems


def test_format_overrides(tmp_path: Path, catalog: IntentCatalog) -> None:
    _tree(
        tmp_path,
        {"dem/a.asc": b"x", "dem/b.asc": b"x", "tiles.gpkg": b"x", "scene.tif": b"x"},
    )
    overrides = (
        FormatOverride.parse("*.asc=AAIGrid"),
        FormatOverride.parse("tiles.gpkg=raster:GPKG"),
        FormatOverride.parse("scene.tif=COG"),
    )
    request = _request(intent="ingest_satellite_raster", format_overrides=overrides)
    plan = plan_upload(tmp_path, request, landing_bucket="landing")
    declared = {f["path"].rsplit("/", 1)[-1]: (f["type"], f["format"]) for f in _files(plan)}
    assert declared == {
        "a.asc": ("raster", "AAIGrid"),
        "b.asc": ("raster", "AAIGrid"),
        "tiles.gpkg": ("raster", "GPKG"),
        "scene.tif": ("raster", "COG"),
    }
    # checked against the intent: the raster intent does not read AAIGrid or GPKG
    with pytest.raises(UploadError) as refused:
        plan_upload(tmp_path, request, landing_bucket="landing", catalog=catalog)
    problems = _problems(refused)
    assert "does not read 'AAIGrid'" in problems["dem/a.asc (files[0].format)"]
    assert "does not read 'GPKG'" in problems["tiles.gpkg (files[3].format)"]


def test_format_override_mistakes(tmp_path: Path) -> None:
    _tree(tmp_path, {"x.dat": b"x", "a.gpkg": b"x"})
    with pytest.raises(UploadError) as refused:
        plan_upload(
            tmp_path,
            _request(
                format_overrides=(
                    FormatOverride.parse("*.dat=GPKG"),  # GPKG reads both: which?
                    FormatOverride.parse("*.shp=ESRI Shapefile"),  # matches nothing
                )
            ),
            landing_bucket="landing",
        )
    codes = _codes(refused)
    assert codes == {"x.dat": "type_ambiguous", "format_overrides": "override_unused"}
    assert "'*.dat=raster:GPKG'" in _problems(refused)["x.dat"]
    with pytest.raises(ValueError, match="not PATTERN=DRIVER"):
        FormatOverride.parse("GTiff")
    with pytest.raises(ValueError, match="did you mean 'GTiff'"):
        FormatOverride.parse("*.tif=gtiff")
    with pytest.raises(ValueError, match="does not read raster data"):
        FormatOverride.parse("*.json=raster:GeoJSON")
    assert FormatOverride.parse("*.shp=ESRI Shapefile").format == "ESRI Shapefile"


def test_the_generated_manifest_is_validated_with_problems_located(
    tmp_path: Path, catalog: IntentCatalog
) -> None:
    _tree(tmp_path, {"scene.tif": b"x", "districts.gpkg": b"x"})
    request = _request(project=None, parameters={"colour": "red"})
    with pytest.raises(UploadError) as refused:
        plan_upload(tmp_path, request, landing_bucket="landing", catalog=catalog)
    problems = _problems(refused)
    assert "processes vector files, not raster" in problems["scene.tif (files[1].type)"]
    assert "metadata.project" in problems
    assert problems["metadata.parameters.colour"] == "unknown parameter 'colour'; valid: layer"
    with pytest.raises(UploadError) as unknown:
        plan_upload(
            tmp_path, _request(intent="ingest_lidar"), landing_bucket="landing", catalog=catalog
        )
    message = _problems(unknown)["intent"]
    assert "unknown intent 'ingest_lidar'" in message
    assert "ingest_satellite_raster, ingest_vector_boundary" in message


def test_parameters_are_typed_as_the_intent_wants(catalog: IntentCatalog) -> None:
    vector = catalog.get("ingest_vector_boundary")
    assert typed_parameters({"layer": "2020"}, vector) == {"layer": "2020"}  # a str parameter
    assert typed_parameters({"layer": "districts"}, vector) == {"layer": "districts"}
    untyped = typed_parameters({"n": "3", "f": "0.5", "b": "true", "l": '["a"]', "s": "x"}, None)
    assert untyped == {"n": 3, "f": 0.5, "b": True, "l": ["a"], "s": "x"}
    raster = catalog.get("ingest_satellite_raster")
    assert typed_parameters({"target_crs": "EPSG:3857"}, raster) == {"target_crs": "EPSG:3857"}
    assert parse_assignment("target_crs=EPSG:3857") == ("target_crs", "EPSG:3857")
    assert parse_assignment("expr=a=b") == ("expr", "a=b")
    with pytest.raises(ValueError, match="key=value"):
        parse_assignment("nothing")
    with pytest.raises(ValueError, match="key=value"):
        parse_assignment("=x")


def test_crs_is_required_and_checked_once(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.gpkg": b"x", "b.gpkg": b"x"})
    with pytest.raises(UploadError) as missing:
        plan_upload(tmp_path, _request(crs=None), landing_bucket="landing")
    assert _codes(missing) == {"crs": "crs_required"}
    with pytest.raises(UploadError) as bad:
        plan_upload(tmp_path, _request(crs="+proj=longlat"), landing_bucket="landing")
    assert _codes(bad) == {"crs": "bad_crs"}

    def reader(path: Path, kind: FileType) -> str | None:
        return "EPSG:3035" if path.name == "a.gpkg" else None

    with pytest.raises(UploadError) as partly:
        plan_upload(tmp_path, _request(crs=None), landing_bucket="landing", crs_of=reader)
    assert _codes(partly) == {"b.gpkg": "crs_missing"}


def test_keys_and_batch_ids_the_contract_refuses(tmp_path: Path) -> None:
    _tree(tmp_path, {"back\\slash.gpkg": b"x", "trailing.gpkg ": b"x", "ok.gpkg": b"x"})
    with pytest.raises(UploadError) as refused:
        plan_upload(tmp_path, _request(), landing_bucket="landing")
    assert _codes(refused) == {"back\\slash.gpkg": "bad_key", "trailing.gpkg ": "unknown_file_type"}
    with pytest.raises(UploadError) as bad_id:
        plan_upload(tmp_path, _request(batch_id="../up"), landing_bucket="landing")
    assert _codes(bad_id) == {"batch_id": "batch_id"}
    with pytest.raises(UploadError, match="is not a directory"):
        plan_upload(tmp_path / "ok.gpkg", _request(), landing_bucket="landing")


def test_scan_skips_hidden_and_follows_file_links(tmp_path: Path) -> None:
    root = _tree(tmp_path / "batch", {"a.gpkg": b"x", ".hidden.gpkg": b"x", ".git/b.gpkg": b"x"})
    outside = _tree(tmp_path / "elsewhere", {"c.gpkg": b"x"})
    (root / "link.gpkg").symlink_to(outside / "c.gpkg")
    os.mkfifo(root / "pipe.gpkg")
    assert [relative for relative, _ in scan_directory(root)] == ["a.gpkg", "link.gpkg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UploadError, match="no data file to upload"):
        plan_upload(empty, _request(), landing_bucket="landing")


def test_crs_code_prefers_an_exact_epsg_code() -> None:
    from pyproj import CRS

    assert crs_code(CRS.from_epsg(32633).to_wkt()) == "EPSG:32633"
    assert crs_code("EPSG:4326") == "EPSG:4326"
    custom = 'ENGCRS["local",EDATUM["d"],CS[Cartesian,2],AXIS["x",east],AXIS["y",north],LENGTHUNIT["metre",1]]'
    assert crs_code(custom).startswith("ENGCRS")


@pytest.mark.gdal
def test_the_crs_is_read_from_the_files_with_gdal(
    tmp_path: Path,
    make_raster: Callable[..., Path],
    make_vector: Callable[..., Path],
    catalog: IntentCatalog,
) -> None:
    gdal = SubprocessGdalRunner(timeout_s=60)
    (tmp_path / "batch").mkdir()
    scene = make_raster("batch/scene.tif", crs="EPSG:32633")
    bare = make_raster("bare.tif", crs=None)
    square = {"wkt": "POLYGON((0 0,1 0,1 1,0 1,0 0))", "name": "a"}
    gpkg = make_vector("batch/d.gpkg", [square], crs="EPSG:3035")
    shp = make_vector("roads.shp", [square], driver="ESRI Shapefile", crs="EPSG:2056")
    archive = tmp_path / "batch" / "roads.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        for part in tmp_path.glob("roads.*"):
            packed.write(part, part.name)
    assert read_file_crs(gdal, scene, FileType.RASTER) == "EPSG:32633"
    assert read_file_crs(gdal, bare, FileType.RASTER) is None
    assert read_file_crs(gdal, gpkg, FileType.VECTOR) == "EPSG:3035"
    assert read_file_crs(gdal, shp, FileType.VECTOR) == "EPSG:2056"
    assert read_file_crs(gdal, archive, FileType.VECTOR) == "EPSG:2056"

    def reader(path: Path, kind: FileType) -> str | None:
        return read_file_crs(gdal, path, kind)

    request = _request(crs=None, exclude=("*.tif",))
    plan = plan_upload(
        tmp_path / "batch", request, landing_bucket="landing", catalog=catalog, crs_of=reader
    )
    assert [f["crs"] for f in _files(plan)] == ["EPSG:3035", "EPSG:2056"]
    args = ["upload", str(tmp_path / "batch"), "--intent", "ingest_satellite_raster"]
    args += ["--batch-id", "b1", "--project", "P", "--exclude", "*.gpkg", "--exclude", "*.zip"]
    result = runner.invoke(app, [*args, "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["manifest"]["files"][0]["crs"] == "EPSG:32633"


# ----------------------------------------------------------------------------- the command on S3


class RecordingStore(ObjectStore):
    """The real store, recording what is written in which order; keys in ``fail`` fail."""

    def __init__(self, client: Any, settings: StorageSettings) -> None:
        super().__init__(client, settings)
        self.calls: list[tuple[str, str]] = []
        self.fail: set[str] = set()

    def put_file(self, bucket: str, key: str, path: Path, **options: Any) -> StoredObject:
        self.calls.append(("put_file", key))
        if key in self.fail:
            raise StorageError(
                f"upload to s3://{bucket}/{key} failed (SlowDown): simulated",
                bucket=bucket,
                key=key,
                code="SlowDown",
            )
        return super().put_file(bucket, key, path, **options)

    def put_bytes(self, bucket: str, key: str, data: bytes, **options: Any) -> StoredObject:
        self.calls.append(("put_bytes", key))
        return super().put_bytes(bucket, key, data, **options)


class Landing:
    """A fresh landing bucket on moto, configured for the command through the environment."""

    def __init__(self, store: RecordingStore, bucket: str) -> None:
        self.store = store
        self.bucket = bucket

    def objects(self) -> list[str]:
        return [o.key for o in self.store.iter_objects(self.bucket)]

    def read(self, key: str) -> bytes:
        return self.store.get_bytes(self.bucket, key)[0]


@pytest.fixture
def landing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Landing]:
    bucket = f"landing-{uuid4().hex[:12]}"
    monkeypatch.setenv("SPATIAL_ETL_S3_ENDPOINT_URL", os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    monkeypatch.setenv("SPATIAL_ETL_S3_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("SPATIAL_ETL_S3_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SPATIAL_ETL_LANDING_BUCKET", bucket)
    settings = StorageSettings(
        s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
        s3_access_key_id="testing",
        s3_secret_access_key=SecretStr("testing"),
        landing_bucket=bucket,
    )
    store = RecordingStore.from_settings(settings)
    assert isinstance(store, RecordingStore)
    store.ensure_bucket(bucket)
    opened: list[StorageSettings] = []

    def open_store(storage: StorageSettings) -> ObjectStore:
        opened.append(storage)
        assert storage.landing_bucket == bucket  # the command read the environment
        return store

    monkeypatch.setattr(connect, "open_store", open_store)
    yield Landing(store, bucket)
    for key in [o.key for o in store.iter_objects(bucket)]:
        store.delete(bucket, key)
    store.client.delete_bucket(Bucket=bucket)


def _batch_dir(root: Path) -> Path:
    return _tree(
        root / "upload",
        {
            "districts.gpkg": os.urandom(3000),
            "roads/roads.shp": b"shp",
            "roads/roads.shx": b"shx",
            "roads/roads.dbf": b"dbf",
            "roads/roads.prj": b'GEOGCS["WGS 84"]',
            ".notes": b"private",
        },
    )


def _upload(directory: Path, *extra: str, batch_id: str = "batch_2026_01") -> Any:
    args = ["upload", str(directory), "--intent", "ingest_vector_boundary"]
    args += ["--batch-id", batch_id, "--uploader", "alice", "--project", "cadastre"]
    args += ["--description", "District boundaries", "--crs", "EPSG:4326", *extra]
    return runner.invoke(app, args, env=WIDE)


@pytest.mark.s3
def test_upload_sends_every_file_then_commits_the_manifest_last(
    tmp_path: Path, landing: Landing, catalog: IntentCatalog
) -> None:
    directory = _batch_dir(tmp_path)
    result = _upload(directory, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    written = [key for _, key in landing.store.calls]
    assert landing.store.calls[-1] == ("put_bytes", "manifests/batch_2026_01.json")
    assert sorted(written[:-1]) == [
        "batch_2026_01/districts.gpkg",
        "batch_2026_01/roads/roads.dbf",
        "batch_2026_01/roads/roads.prj",
        "batch_2026_01/roads/roads.shp",
        "batch_2026_01/roads/roads.shx",
    ]
    assert sorted(landing.objects()) == sorted(written)
    assert (
        landing.read("batch_2026_01/districts.gpkg") == (directory / "districts.gpkg").read_bytes()
    )
    manifest = landing.read("manifests/batch_2026_01.json")
    report = check_manifest(manifest, source="batch_2026_01.json", catalog=catalog)
    assert report.valid, report.problems
    document = json.loads(manifest)
    assert [f["path"] for f in document["files"]] == [
        "s3://landing-zone/batch_2026_01/districts.gpkg",
        "s3://landing-zone/batch_2026_01/roads/roads.shp",
    ]
    assert document["uploader"] == "alice"
    assert document["metadata"] == {"project": "cadastre", "description": "District boundaries"}
    head = landing.store.head(landing.bucket, "batch_2026_01/districts.gpkg")
    assert head is not None and head.metadata[CONTENT_HASH_KEY]
    shown = json.loads(result.stdout)
    assert shown["committed"] is True
    assert shown["manifest_key"] == "manifests/batch_2026_01.json"
    assert len(shown["uploaded"]) == 5
    assert shown["failures"] == shown["stale_keys"] == []


@pytest.mark.s3
def test_upload_text_output(tmp_path: Path, landing: Landing) -> None:
    result = _upload(_batch_dir(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "Uploaded 5 of 5 file(s)" in result.stdout
    assert f"Committed s3://{landing.bucket}/manifests/batch_2026_01.json" in result.stdout
    assert "spatial-etl status batch_2026_01" in result.stdout


@pytest.mark.s3
def test_a_failed_upload_leaves_the_batch_uncommitted(tmp_path: Path, landing: Landing) -> None:
    directory = _batch_dir(tmp_path)
    landing.store.fail = {"batch_2026_01/roads/roads.dbf"}
    result = _upload(directory)
    assert result.exit_code == 1
    assert "manifests/batch_2026_01.json" not in landing.objects()
    assert ("put_bytes", "manifests/batch_2026_01.json") not in landing.store.calls
    assert "1 upload(s) failed" in result.stderr
    assert "batch_2026_01/roads/roads.dbf: upload to" in result.stderr
    assert "SlowDown" in result.stderr
    assert "manifest was NOT committed, so nothing will run" in result.stderr
    assert "Uploaded 4 of 5 file(s)" in result.stdout
    assert "batch_2026_01/roads/roads.shp" in landing.objects()  # the others still went up
    # the same command again, once the cause is gone, commits the batch
    landing.store.fail = set()
    again = _upload(directory, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["committed"] is True
    assert "manifests/batch_2026_01.json" in landing.objects()


@pytest.mark.s3
def test_a_failed_upload_in_json(tmp_path: Path, landing: Landing) -> None:
    landing.store.fail = {"batch_2026_01/districts.gpkg"}
    result = _upload(_batch_dir(tmp_path), "--json")
    assert result.exit_code == 1
    shown = json.loads(result.stdout)
    assert shown["committed"] is False
    assert shown["manifest_key"] is None
    assert [f["key"] for f in shown["failures"]] == ["batch_2026_01/districts.gpkg"]


@pytest.mark.s3
def test_an_invalid_manifest_uploads_nothing(tmp_path: Path, landing: Landing) -> None:
    directory = _batch_dir(tmp_path)
    args = ["upload", str(directory), "--intent", "ingest_lidar", "--batch-id", "b1"]
    result = runner.invoke(app, [*args, "--project", "P", "--crs", "EPSG:4326"], env=WIDE)
    assert result.exit_code == 1
    assert "unknown intent 'ingest_lidar'" in result.stderr
    assert "nothing was uploaded" in result.stderr
    assert landing.objects() == []
    assert landing.store.calls == []
    (directory / "notes.txt").write_text("x")
    result = _upload(directory, "--json")
    assert result.exit_code == 1
    assert [p["loc"] for p in json.loads(result.stdout)["problems"]] == ["notes.txt"]
    assert landing.objects() == []


@pytest.mark.s3
def test_dry_run_touches_nothing(
    tmp_path: Path, landing: Landing, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(storage: StorageSettings) -> ObjectStore:
        raise AssertionError("a dry run must not open the store")

    monkeypatch.setattr(connect, "open_store", refuse)
    directory = _batch_dir(tmp_path)
    result = _upload(directory, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"Planned uploads to s3://{landing.bucket}/batch_2026_01/ (5 file(s)" in result.stdout
    assert "sidecar (not listed)" in result.stdout
    text = result.stdout
    manifest = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert manifest["files"][1]["path"] == "s3://landing-zone/batch_2026_01/roads/roads.shp"
    assert "Dry run: nothing was uploaded." in result.stdout
    shown = json.loads(_upload(directory, "--dry-run", "--json").stdout)
    assert shown["dry_run"] is True
    assert shown["bucket"] == landing.bucket
    assert shown["manifest"] == manifest
    assert [u["key"] for u in shown["uploads"] if u["listed"]] == [
        "batch_2026_01/districts.gpkg",
        "batch_2026_01/roads/roads.shp",
    ]
    assert landing.objects() == []


@pytest.mark.s3
def test_a_committed_batch_is_not_overwritten_without_replace(
    tmp_path: Path, landing: Landing
) -> None:
    directory = _batch_dir(tmp_path)
    assert _upload(directory).exit_code == 0
    landing.store.calls.clear()
    again = _upload(directory)
    assert again.exit_code == 1
    assert "already committed" in again.stderr
    assert landing.store.calls == []
    replaced = _upload(directory, "--replace")
    assert replaced.exit_code == 0, replaced.stderr
    assert landing.store.calls[-1] == ("put_bytes", "manifests/batch_2026_01.json")


@pytest.mark.s3
def test_objects_left_in_the_batch_folder_are_reported(tmp_path: Path, landing: Landing) -> None:
    landing.store.put_bytes(landing.bucket, "batch_2026_01/roads/roads.qix", b"old", metadata={})
    result = _upload(_batch_dir(tmp_path), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["stale_keys"] == ["batch_2026_01/roads/roads.qix"]
    text = _upload(_batch_dir(tmp_path / "again"), "--replace")
    assert "also holds 1 object(s) this upload did not write" in text.stderr


@pytest.mark.s3
def test_a_missing_landing_bucket_exits_2_before_any_upload(
    tmp_path: Path, landing: Landing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_LANDING_BUCKET", "no-such-bucket-here")
    monkeypatch.setattr(connect, "open_store", lambda storage: landing.store)
    result = _upload(_batch_dir(tmp_path))
    assert result.exit_code == 2
    assert "cannot use the landing bucket; nothing was uploaded" in result.stderr
    assert "NoSuchBucket" in result.stderr
    assert landing.store.calls == []


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.gpkg": b"x"})
    assert _upload(tmp_path, "--param", "oops").exit_code == 2
    result = _upload(tmp_path, "--format-override", "*.gpkg=Nope")
    assert result.exit_code == 2
    assert "not a GDAL file driver" in result.stderr
    assert _upload(tmp_path / "missing").exit_code == 2


class RecordedProgress:
    """Every progress event of an upload, in order, with the thread-safe byte counts."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | str | None]] = []
        self.lock = threading.Lock()

    def started(self, item: PlannedUpload) -> None:
        with self.lock:
            self.events.append(("started", item.relative, None))

    def sent(self, item: PlannedUpload, amount: int) -> None:
        with self.lock:
            self.events.append(("sent", item.relative, amount))

    def finished(self, item: PlannedUpload, error: str | None) -> None:
        with self.lock:
            self.events.append(("finished", item.relative, error))


@pytest.mark.s3
def test_progress_is_told_bytes_within_a_file(tmp_path: Path, landing: Landing) -> None:
    big = 12 * 1024 * 1024 + 123  # several transfer chunks, and two multipart parts
    directory = _tree(tmp_path / "batch", {"big.gpkg": os.urandom(big), "small.gpkg": b"x" * 10})
    plan = plan_upload(directory, _request(), landing_bucket=landing.bucket)
    recorded = RecordedProgress()
    result = execute_upload(landing.store, plan, progress=recorded)
    assert result.committed
    chunks = [
        amount for event, name, amount in recorded.events if event == "sent" and name == "big.gpkg"
    ]
    assert len(chunks) > 2  # told within the file, not once per file
    running = list(itertools.accumulate(cast("list[int]", chunks)))
    assert running[-1] == big  # the progress reached the file's size, exactly
    assert any(0 < total < big for total in running)
    names = [name for event, name, _ in recorded.events if event != "sent"]
    assert names == ["big.gpkg", "big.gpkg", "small.gpkg", "small.gpkg"]  # started, finished
    assert ("finished", "big.gpkg", None) in recorded.events
    stored = landing.store.head(landing.bucket, "batch_2026_01/big.gpkg")
    assert stored is not None and stored.size == big


@pytest.mark.s3
def test_the_command_line_bar_reaches_every_byte(tmp_path: Path, landing: Landing) -> None:
    from rich.console import Console
    from rich.progress import Progress
    from spatial_etl.cli.upload import _Bar

    size = 9 * 1024 * 1024
    directory = _tree(tmp_path / "batch", {"a.gpkg": os.urandom(size), "b.gpkg": b"y" * 5})
    plan = plan_upload(directory, _request(), landing_bucket=landing.bucket)
    seen: list[float] = []
    with Progress(console=Console(file=io.StringIO()), auto_refresh=False) as progress:
        task = progress.add_task("upload", total=plan.total_size)
        bar = _Bar(progress, task)
        original = bar.sent

        def sent(item: PlannedUpload, amount: int) -> None:
            original(item, amount)
            seen.append(progress.tasks[0].completed)

        bar.sent = sent  # type: ignore[method-assign]
        result = execute_upload(landing.store, plan, progress=bar)
        assert result.committed
        assert progress.tasks[0].completed == plan.total_size
    assert any(0 < done < size for done in seen)  # the bar moved within the big file


def test_one_extension_table_names_example_files_too() -> None:
    from spatial_etl.models.drivers import extension_of

    assert EXTENSION_FORMATS[".tif"] == (FileType.RASTER, "GTiff")
    assert extension_of("GTiff") == extension_of("COG") == ".tif"  # COG files are read by GTiff
    assert extension_of("JP2KAK") == extension_of("JP2OpenJPEG") == ".jp2"
    assert extension_of("ESRI Shapefile") == ".zip"  # a shapefile that stands alone
    assert extension_of("AAIGrid") is None
