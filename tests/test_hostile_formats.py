"""Hostile uploads end to end: each is refused before GDAL reads it, and nothing leaks.

An uploader controls the bytes of every landing-zone file. Each test writes one attack,
uploads it, runs the real executor (moto's S3 server, PostGIS, GDAL CLI) and checks the run
failed naming the rule, nothing reached the lake or the ledger's assets, no ``proc_`` schema
was left, no file outside the run's work directory changed, and the canary's bytes (a local
file an attack points at) appear nowhere.
"""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from hostile import (
    add_sql,
    mrf_meta,
    overlapping_zip_bomb,
    raw_band_vrt,
    simple_source_vrt,
    tree_state,
    zip_with_names,
)
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    Intent,
    hookimpl,
)
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import PluginInfo
from spatial_etl.run.executor import RunReport
from spatial_etl.screening import gdal_config
from spatial_etl.settings import PluginSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from support import UTM_SQUARE, World, manifest, raster_file, vector_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

RASTER = "ingest_satellite_raster"
VECTOR = "ingest_vector_boundary"


@pytest.fixture
def canary(tmp_path: Path) -> bytes:
    """A local file outside every run's work directory that attacks try to publish."""
    secret = f"CANARY-{uuid.uuid4().hex}-".encode() * 8
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "canary.bin").write_bytes(secret)
    return secret


def _run_hostile(world: World, batch: str, file: dict[str, str]) -> RunReport:
    before = tree_state(world.tmp)
    report = world.run(manifest(batch, file_intent(file), [file]))
    assert report.status == "failed", report
    assert report.outputs == []
    assert world.lake_keys() == []
    assert list(world.ledger.db["assets"].find({"status": "committed"})) == []
    assert world.run_schemas() == []
    after = tree_state(world.tmp)
    assert after == before, "a file outside the run's work directory was created or changed"
    return report


def file_intent(file: dict[str, str]) -> str:
    return RASTER if file["type"] == "raster" else VECTOR


def _assert_no_canary(world: World, canary: bytes) -> None:
    needle = canary[:40]
    for path in world.tmp.rglob("*"):
        if path.is_file() and path.name != "canary.bin":
            assert needle not in path.read_bytes(), path


def _message(report: RunReport) -> str:
    assert report.error is not None
    return report.error.message


def test_vrt_raw_band_over_a_local_file_is_refused(
    world: World, canary: bytes, tmp_path: Path
) -> None:
    vrt = raw_band_vrt(tmp_path / "scene.tif", str(tmp_path / "outside" / "canary.bin"))
    path = world.upload("raw_1", vrt)
    report = _run_hostile(world, "raw_1", raster_file(path))
    assert _message(report) == (
        f"files[0] {path} is declared GTiff but its bytes are a GDAL VRT (XML)"
    )
    _assert_no_canary(world, canary)


def test_vrt_simple_source_over_a_local_file_is_refused(
    world: World, canary: bytes, tmp_path: Path
) -> None:
    vrt = simple_source_vrt(tmp_path / "scene.tif", str(tmp_path / "outside" / "canary.bin"))
    path = world.upload("simple_1", vrt)
    report = _run_hostile(world, "simple_1", raster_file(path))
    assert "is declared GTiff but its bytes are a GDAL VRT (XML)" in _message(report)
    _assert_no_canary(world, canary)


def test_vrt_over_another_batch_through_vsis3_is_refused(
    world: World, make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    victim = make_raster("victim.tif", crs="EPSG:32633", bounds=(500000, 5500000, 500640, 5500480))
    world.upload("victim_1", victim)
    bucket = world.store.settings.landing_bucket
    vrt = simple_source_vrt(tmp_path / "scene.tif", f"/vsis3/{bucket}/victim_1/victim.tif")
    path = world.upload("thief_1", vrt)
    report = _run_hostile(world, "thief_1", raster_file(path))
    assert "declared GTiff but its bytes are a GDAL VRT (XML)" in _message(report)


def test_mrf_over_a_local_file_is_refused(world: World, canary: bytes, tmp_path: Path) -> None:
    meta = mrf_meta(tmp_path / "scene.tif", str(tmp_path / "outside" / "canary.bin"))
    path = world.upload("mrf_1", meta)
    report = _run_hostile(world, "mrf_1", raster_file(path))
    assert _message(report) == (
        f"files[0] {path} is declared GTiff but its bytes are an MRF metadata (XML)"
    )
    _assert_no_canary(world, canary)


def test_geopackage_declared_geojson_is_refused(
    world: World, make_vector: Callable[..., Path]
) -> None:
    gpkg = make_vector("districts.gpkg", [{"wkt": UTM_SQUARE, "name": "a"}], crs="EPSG:32633")
    path = world.upload("gpkg_json_1", gpkg, name="districts.geojson")
    report = _run_hostile(world, "gpkg_json_1", vector_file(path, "GeoJSON"))
    assert _message(report) == (
        f"files[0] {path} is declared GeoJSON but its bytes are a GeoPackage (SQLite)"
    )


def test_zip_bomb_is_refused_from_its_central_directory(world: World, tmp_path: Path) -> None:
    bomb = overlapping_zip_bomb(tmp_path / "parcels.zip", members=64, member_mib=64)
    assert bomb.stat().st_size < 200_000  # 4 GiB declared
    path = world.upload("bomb_1", bomb)
    report = _run_hostile(world, "bomb_1", vector_file(path, "ESRI Shapefile"))
    message = _message(report)
    assert "member 'm000.shp' expands" in message
    assert "SPATIAL_ETL_ARCHIVE_MAX_RATIO=200" in message


@pytest.mark.parametrize(
    ("name", "rule"),
    [("../parcels.shp", "has a '..' segment"), ("/tmp/parcels.shp", "is an absolute path")],
)
def test_zip_member_escaping_the_archive_is_refused(
    world: World, make_vector: Callable[..., Path], tmp_path: Path, name: str, rule: str
) -> None:
    shp = make_vector(
        "parcels.shp", [{"wkt": UTM_SQUARE, "name": "a"}], driver="ESRI Shapefile", crs=None
    )
    parts = [(name, shp.read_bytes())]
    for suffix in (".shx", ".dbf"):
        parts.append((name.removesuffix(".shp") + suffix, shp.with_suffix(suffix).read_bytes()))
    archive = zip_with_names(tmp_path / "evil.zip", parts)
    path = world.upload("escape_1", archive)
    report = _run_hostile(world, "escape_1", vector_file(path, "ESRI Shapefile"))
    assert _message(report) == (
        f"files[0] {path}: member {name!r} {rule}; zip the files without folders above them"
    )
    assert not (tmp_path.parent / "parcels.shp").exists()
    assert not Path("/tmp/parcels.shp").exists()


def test_geopackage_with_a_view_is_refused(world: World, make_vector: Callable[..., Path]) -> None:
    gpkg = make_vector("districts.gpkg", [{"wkt": UTM_SQUARE, "name": "a"}], crs="EPSG:32633")
    add_sql(gpkg, "CREATE VIEW spy AS SELECT * FROM districts")
    path = world.upload("view_1", gpkg)
    report = _run_hostile(world, "view_1", vector_file(path, "GPKG"))
    assert "contains the view 'spy'" in _message(report)


def test_geopackage_with_a_foreign_trigger_is_refused(
    world: World, make_vector: Callable[..., Path]
) -> None:
    gpkg = make_vector("districts.gpkg", [{"wkt": UTM_SQUARE, "name": "a"}], crs="EPSG:32633")
    add_sql(
        gpkg,
        "CREATE TABLE loot(x)",
        "CREATE TRIGGER rtree_districts_geom_insert2 AFTER INSERT ON districts "
        "BEGIN INSERT INTO loot VALUES (NEW.name); END",
    )
    path = world.upload("trigger_1", gpkg)
    report = _run_hostile(world, "trigger_1", vector_file(path, "GPKG"))
    message = _message(report)
    assert "contains the trigger 'rtree_districts_geom_insert2' on 'districts'" in message


def test_legitimate_geopackage_with_spatial_index_still_succeeds(
    world: World, make_vector: Callable[..., Path]
) -> None:
    gpkg = make_vector("districts.gpkg", [{"wkt": UTM_SQUARE, "name": "a"}], crs="EPSG:32633")
    path = world.upload("legit_1", gpkg)
    report = world.run(manifest("legit_1", VECTOR, [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error


# ------------------------------------------------------------------- GDAL without network


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self._record()

    def do_HEAD(self) -> None:
        self._record()

    def _record(self) -> None:
        type(self).requests.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server that records every request it receives."""
    requests: ClassVar[list[str]] = []
    handler = type("Recorder", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("scheme", ["vsicurl", "vsis3"])
def test_gdal_with_the_screening_config_makes_no_request(
    world: World, recorder: tuple[int, list[str]], tmp_path: Path, scheme: str
) -> None:
    """Even if screening were bypassed, GDAL on user data reaches neither HTTP nor S3."""
    port, requests = recorder
    source = (
        f"/vsicurl/http://127.0.0.1:{port}/x.tif" if scheme == "vsicurl" else "/vsis3/bucket/x.tif"
    )
    vrt = simple_source_vrt(tmp_path / "hostile.vrt", source)
    # The platform's own environment, as a deployment would have it: S3 at the recorder.
    platform_env = {
        "AWS_S3_ENDPOINT": f"127.0.0.1:{port}",
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_ACCESS_KEY_ID": "platform-key",
        "AWS_SECRET_ACCESS_KEY": "platform-secret",
    }
    runner = SubprocessGdalRunner(env=platform_env, timeout_s=60)
    argv = ["gdalinfo", "-checksum", str(vrt)]
    runner.run(argv, check=False)
    assert requests, "control: without the screening config GDAL does reach the server"
    requests.clear()
    registered = world.platform.catalog.get(RASTER)
    runner.run(argv, env=gdal_config(registered), check=False)
    assert requests == []


# --------------------------------------------------------- a meta-format an intent accepts

VRT_INTENT = Intent(
    name="ingest_vrt_mosaic",
    summary="VRT mosaics of the batch's own tiles -> COG",
    accepts=Accepts(
        file_type=FileType.RASTER,
        drivers=frozenset({"GTiff", "VRT"}),
        meta_drivers=frozenset({"VRT"}),
    ),
    steps=(
        GdalStep(
            name="assign_crs",
            description="Assign the manifest's CRS.",
            program=GdalProgram.GDAL_TRANSLATE,
            args=("-of", "VRT", "-a_srs", "{crs}", "{src}", "{dst}"),
            output_suffix=".vrt",
        ),
        ExportStep(name="export", description="COG.", format=ExportFormat.COG),
    ),
)


class _VrtPlugin:
    @hookimpl
    def register_intents(self, registry: object) -> None:
        registry.register(VRT_INTENT)  # type: ignore[attr-defined]


@pytest.fixture
def vrt_world(world: World) -> World:
    world.platform.catalog = load_plugins(
        PluginSettings(plugins=frozenset({"none"}), block_plugins=frozenset()),
        extra=[(PluginInfo(name="vrt_mosaic", module="tests"), _VrtPlugin())],
    )
    return world


def _vrt_file(path: str) -> dict[str, str]:
    return {"path": path, "type": "raster", "format": "VRT", "crs": "EPSG:32633"}


@pytest.mark.parametrize(
    ("reference", "rule"),
    [
        ("{canary}", "is an absolute path"),
        ("../input_1/tile.tif", "has a '..' segment"),
        ("/vsis3/landing-zone/victim_1/victim.tif", "names a GDAL virtual file system"),
    ],
)
def test_declared_vrt_with_escaping_reference_is_refused(
    vrt_world: World, canary: bytes, tmp_path: Path, reference: str, rule: str
) -> None:
    target = reference.format(canary=tmp_path / "outside" / "canary.bin")
    vrt = simple_source_vrt(tmp_path / "mosaic.vrt", target)
    path = vrt_world.upload("mosaic_1", vrt)
    before = tree_state(vrt_world.tmp)
    report = vrt_world.run(manifest("mosaic_1", VRT_INTENT.name, [_vrt_file(path)]))
    assert report.status == "failed"
    assert f"files[0] {path} references {target!r} (<SourceFilename>), which {rule}" in (
        _message(report)
    )
    assert vrt_world.lake_keys() == []
    assert tree_state(vrt_world.tmp) == before
    _assert_no_canary(vrt_world, canary)


def test_declared_vrt_without_references_is_accepted(vrt_world: World, tmp_path: Path) -> None:
    vrt = tmp_path / "blank.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="16" rasterYSize="4"><SRS>EPSG:32633</SRS>'
        "<GeoTransform>500000, 10, 0, 5500040, 0, -10</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1"/></VRTDataset>'
    )
    path = vrt_world.upload("blank_1", vrt)
    report = vrt_world.run(manifest("blank_1", VRT_INTENT.name, [_vrt_file(path)]))
    assert report.status == "succeeded", report.error
    assert vrt_world.data_keys() == ["ingest_vrt_mosaic/blank/v1/blank.tif"]


def test_vrt_declared_for_an_intent_without_consent_is_refused(
    world: World, tmp_path: Path
) -> None:
    """The satellite intent does not accept VRT at all; the run never reaches GDAL."""
    vrt = simple_source_vrt(tmp_path / "scene.vrt", "scene.tif", relative=True)
    path = world.upload("novrt_1", vrt)
    before = tree_state(world.tmp)
    report = world.run(manifest("novrt_1", RASTER, [_vrt_file(path)]))
    assert report.status == "failed"
    assert _message(report) == (
        f"files[0] {path} is declared VRT but its bytes are a GDAL VRT (XML); VRT references "
        "other files and the intent does not accept it (Accepts.meta_drivers)"
    )
    assert world.lake_keys() == []
    assert tree_state(world.tmp) == before
