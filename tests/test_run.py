"""The run end to end: real S3 (moto's server), real PostGIS, the real GDAL CLI, the ledger.

MongoDB cannot run here, so the ledger is mongomock with the real indexes (unique ones
enforced); its validators are tested apart, by evaluating the generated ``$jsonSchema``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import PluginInfo
from spatial_etl.run.executor import RunReport
from spatial_etl.settings import PluginSettings
from spatial_etl.spatial_utils.rasterinfo import read_raster_info
from spatial_etl.spatial_utils.runner import CommandResult, GdalRunner, SubprocessGdalRunner
from support import (
    UTM_BOWTIE,
    UTM_CURVE,
    UTM_SQUARE,
    World,
    assert_ledger_valid,
    manifest,
    raster_file,
    sha256,
    vector_file,
)

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]


def assert_linked(world: World, report: RunReport) -> None:
    """Every output: object ↔ committed document, both ways, same bytes."""
    assert_ledger_valid(world)
    for output in report.outputs:
        doc = world.ledger.get_asset(output.asset_id)
        assert doc is not None
        assert doc.status == "committed"
        head = world.store.head(world.store.settings.lake_bucket, doc.s3_key)
        assert head is not None
        assert head.metadata["mongodb_doc_id"] == doc.asset_id
        assert head.metadata["content_hash"] == doc.sha256
        assert head.metadata["run_id"] == report.run_id
        assert world.store.sha256(world.store.settings.lake_bucket, doc.s3_key) == doc.sha256
        assert head.size == doc.size


# ----------------------------------------------------------------------------- rasters


def test_striped_geotiff_with_nodata_becomes_a_valid_cog(
    world: World, make_raster: Callable[..., Path]
) -> None:
    source = make_raster(
        "scene.tif",
        size=(1400, 1100),
        bands=3,
        data_type="Int16",
        burn=(10, 20, 30),
        nodata=-9999,
        crs="EPSG:32633",
        bounds=(500000, 5500000, 514000, 5511000),
        options=("TILED=NO",),
    )
    path = world.upload("scene_1", source)
    report = world.run(manifest("scene_1", "ingest_satellite_raster", [raster_file(path)]))
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    assert output.s3_key == "ingest_satellite_raster/scene/v1/scene.tif"
    assert_linked(world, report)
    info = read_raster_info(SubprocessGdalRunner(), str(world.download(output.s3_key)))
    assert info.image_structure["LAYOUT"] == "COG"
    assert info.size == (1400, 1100)
    assert [(b.data_type, b.nodata) for b in info.bands] == [("Int16", -9999.0)] * 3
    assert all(b.overview_count >= 1 for b in info.bands)
    doc = world.ledger.get_asset(output.asset_id)
    assert doc is not None
    assert doc.crs == "EPSG:32633"
    assert doc.raster is not None
    assert (doc.raster.width, doc.raster.height, doc.raster.bands, doc.raster.dtype) == (
        1400,
        1100,
        3,
        "Int16",
    )
    assert doc.raster.nodata == -9999.0
    assert doc.bbox_wgs84 is not None
    assert 14.9 < doc.bbox_wgs84[0] < 15.1
    assert [r.sha256 for r in doc.inputs] == [sha256(source)]
    assert doc.iso19115.reference_system == "EPSG:32633"
    # the file has the manifest's CRS: assign_crs (when="input.crs_missing") is skipped
    assert [s.split(":")[0] for s in doc.iso19115.lineage.steps] == ["export"]
    run = world.ledger.get_run(report.run_id)
    assert run is not None
    assert run.status == "succeeded"
    assert run.outputs == [output.asset_id]
    assert run.inputs[0].sha256 == sha256(source)
    assert "gdal" in run.versions


def test_a_raster_without_crs_is_given_the_manifests(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("bare_1", make_raster("bare.tif", crs=None, bounds=(0, 0, 640, 480)))
    report = world.run(manifest("bare_1", "ingest_satellite_raster", [raster_file(path)]))
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    doc = world.ledger.get_asset(output.asset_id)
    assert doc is not None
    assert [s.split(":")[0] for s in doc.iso19115.lineage.steps] == ["assign_crs", "export"]
    assert doc.crs == "EPSG:32633"
    info = read_raster_info(SubprocessGdalRunner(), str(world.download(output.s3_key)))
    assert info.crs_wkt is not None
    assert "32633" in info.crs_wkt


class _Witness(GdalRunner):
    """A runner that hashes every staged input and work product a GDAL program is given."""

    def __init__(self, inner: GdalRunner, workdir: Path) -> None:
        self.inner = inner
        self.workdir = workdir
        self.seen: dict[str, str] = {}

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        for arg in argv:
            path = Path(arg)
            if path.is_absolute() and path.is_relative_to(self.workdir) and path.is_file():
                self.seen[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self.inner.run(argv, timeout_s=timeout_s, env=env, check=check)


def test_hashes_are_of_the_bytes_processed_and_published_and_computed_once(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staged input's recorded sha256 is that of the bytes GDAL opened; the product is
    hashed once, and the lake object's content_hash is that of the product's bytes."""
    from spatial_etl.backends import storage
    from spatial_etl.run import products, publishing

    hashed: list[str] = []
    real = storage.hash_file

    def counted(path: Path) -> Any:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(publishing, "hash_file", counted)
    monkeypatch.setattr(products, "hash_file", counted)
    monkeypatch.setattr(storage, "hash_file", counted)
    witness = _Witness(world.platform.runner, world.tmp)
    world.platform = dataclasses.replace(world.platform, runner=witness)
    source = make_raster("seen.tif", crs="EPSG:32633", bounds=(500000, 5500000, 500640, 5500480))
    path = world.upload("seen_1", source)
    hashed.clear()  # the test's own upload hashed the source
    report = world.run(manifest("seen_1", "ingest_satellite_raster", [raster_file(path)]))
    assert report.status == "succeeded", report.error
    assert_linked(world, report)  # the lake object's bytes hash to its content_hash and doc
    [output] = report.outputs
    doc = world.ledger.get_asset(output.asset_id)
    assert doc is not None
    [record] = doc.inputs
    assert witness.seen["seen.tif"] == record.sha256 == sha256(source)
    assert hashed == ["output_0.tif"]  # hashed once, beside the quicklook; reused to upload
    assert sha256(world.download(output.s3_key)) == doc.sha256


def test_target_crs_reprojects(world: World, make_raster: Callable[..., Path]) -> None:
    source = make_raster(
        "dem.tif", size=(300, 200), data_type="Float32", burn=(1.5,), nodata=float("nan")
    )
    path = world.upload("dem_1", source)
    doc = manifest(
        "dem_1",
        "ingest_satellite_raster",
        [raster_file(path, "EPSG:4326")],
        parameters={"target_crs": "EPSG:3857", "resampling": "bilinear"},
    )
    report = world.run(doc)
    assert report.status == "succeeded", report.error
    asset = world.ledger.get_asset(report.outputs[0].asset_id)
    assert asset is not None
    assert asset.crs == "EPSG:3857"
    assert asset.raster is not None
    assert asset.raster.nodata_value is not None  # NaN survives as nodata_special
    assert asset.parameters["target_crs"] == "EPSG:3857"


# ----------------------------------------------------------------------------- vectors


def _read_geoparquet(path: Path) -> tuple[Any, dict[str, Any]]:
    table = pq.read_table(path)
    return table, json.loads(table.schema.metadata[b"geo"])


def test_zipped_shapefile_becomes_geoparquet_in_4326(
    world: World, make_vector: Callable[..., Path], tmp_path: Path
) -> None:
    shp = make_vector(
        "parcels.shp",
        [{"wkt": UTM_SQUARE, "name": "a"}, {"wkt": UTM_BOWTIE, "name": "b"}],
        driver="ESRI Shapefile",
        crs="EPSG:32633",
    )
    archive = tmp_path / "parcels.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.glob("parcels.*"):
            if part != archive:  # the archive is being written beside its parts
                zf.write(part, part.name)
    path = world.upload("parcels_1", archive)
    report = world.run(
        manifest("parcels_1", "ingest_vector_boundary", [vector_file(path, "ESRI Shapefile")])
    )
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    assert output.s3_key == "ingest_vector_boundary/parcels/v1/parcels.parquet"
    assert output.feature_count == 2
    assert_linked(world, report)
    table, geo = _read_geoparquet(world.download(output.s3_key))
    assert table.num_rows == 2
    assert sorted(table.column("name").to_pylist()) == ["a", "b"]
    assert geo["columns"]["geometry"]["geometry_types"] == ["MultiPolygon"]
    assert geo["columns"]["geometry"]["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    assert "etl_fid" not in table.column_names
    assert world.run_schemas() == []


def test_geopackage_with_curved_and_invalid_polygons(
    world: World, make_vector: Callable[..., Path]
) -> None:
    gpkg = make_vector(
        "zones.gpkg",
        [
            {"wkt": UTM_CURVE, "name": "curve"},
            {"wkt": UTM_BOWTIE, "name": "bowtie"},
            {"wkt": UTM_SQUARE, "name": "sq"},
        ],
        crs="EPSG:32633",
        geometry_type="GEOMETRY",
    )
    path = world.upload("zones_1", gpkg)
    report = world.run(manifest("zones_1", "ingest_vector_boundary", [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error
    import geopandas

    frame = geopandas.read_parquet(world.download(report.outputs[0].s3_key))
    assert len(frame) == 3
    assert frame.crs.to_epsg() == 4326
    assert set(frame.geom_type) == {"MultiPolygon"}
    assert frame.is_valid.all()
    assert frame.set_index("name").loc["bowtie"].geometry.geoms.__len__() == 2


def test_geojson_and_two_files_in_one_batch(world: World, make_vector: Callable[..., Path]) -> None:
    one = make_vector(
        "north.geojson", [{"wkt": UTM_SQUARE, "n": "1"}], driver="GeoJSON", crs="EPSG:32633"
    )
    two = make_vector(
        "south.fgb", [{"wkt": UTM_BOWTIE, "n": "2"}], driver="FlatGeobuf", crs="EPSG:32633"
    )
    files = [
        vector_file(world.upload("pair", one), "GeoJSON"),
        vector_file(world.upload("pair", two), "FlatGeobuf"),
    ]
    report = world.run(manifest("pair", "ingest_vector_boundary", files, dataset="regions"))
    assert report.status == "succeeded", report.error
    assert sorted(o.dataset for o in report.outputs) == ["regions_north", "regions_south"]
    assert_linked(world, report)


# ----------------------------------------------------------------------------- idempotency


def test_same_inputs_again_are_a_duplicate_and_publish_nothing(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("again", make_raster("tile.tif"))
    doc = manifest("again", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    first = world.run(doc)
    second = world.run(doc)
    assert first.status == second.status == "succeeded"
    assert second.outputs[0].status == "duplicate"
    assert second.outputs[0].duplicate_of == first.outputs[0].asset_id
    assert world.data_keys() == [first.outputs[0].s3_key]
    assert_ledger_valid(world)
    assert (
        world.ledger.latest_committed("ingest_satellite_raster", "tile").asset_id
        == first.outputs[0].asset_id
    )  # type: ignore[union-attr]


def test_changed_inputs_make_a_new_version_with_a_new_key(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("v", make_raster("tile.tif", burn=(1,)))
    doc = manifest("v", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    first = world.run(doc)
    world.upload("v", make_raster("tile2.tif", burn=(2,)), name="tile.tif")
    second = world.run(doc)
    assert [o.version for o in (first.outputs[0], second.outputs[0])] == [1, 2]
    assert sorted(world.data_keys()) == [
        "ingest_satellite_raster/tile/v1/tile.tif",
        "ingest_satellite_raster/tile/v2/tile.tif",
    ]


# ----------------------------------------------------------------------------- failures


def assert_failed_cleanly(world: World, report: RunReport, *, step: str | None, text: str) -> None:
    assert report.status == "failed"
    assert report.error is not None
    assert text in report.error.message, report.error.message
    if step is not None:
        assert report.error.step == step
    run = world.ledger.get_run(report.run_id)
    assert run is not None
    assert run.status == "failed"
    assert run.error == report.error
    assert world.lake_keys() == []
    assert world.run_schemas() == []
    assert_ledger_valid(world)


def test_truncated_geotiff_fails_with_gdals_message(
    world: World, make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    whole = make_raster("whole.tif", size=(900, 700), data_type="Int16")
    truncated = tmp_path / "broken.tif"
    truncated.write_bytes(whole.read_bytes()[:4000])
    path = world.upload("broken", truncated)
    report = world.run(
        manifest("broken", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    )
    assert_failed_cleanly(world, report, step="export", text="gdal_translate exited with status 1")
    assert report.error is not None
    assert report.error.file == path


def test_crs_mismatch_fails_before_any_step(world: World, make_raster: Callable[..., Path]) -> None:
    path = world.upload("mismatch", make_raster("m.tif", crs="EPSG:4326"))
    report = world.run(
        manifest("mismatch", "ingest_satellite_raster", [raster_file(path, "EPSG:32633")])
    )
    assert_failed_cleanly(
        world, report, step=None, text="differs from the manifest's crs 'EPSG:32633'"
    )
    assert report.error is not None
    assert (report.error.type, report.error.file, report.error.step) == ("InputError", path, None)


def test_point_layer_is_refused(world: World, make_vector: Callable[..., Path]) -> None:
    points = make_vector(
        "wells.geojson",
        [{"wkt": "POINT(500000 5500000)", "d": "1"}],
        driver="GeoJSON",
        crs="EPSG:32633",
    )
    path = world.upload("wells", points)
    report = world.run(manifest("wells", "ingest_vector_boundary", [vector_file(path, "GeoJSON")]))
    assert_failed_cleanly(world, report, step=None, text="holds Point geometries")


def test_missing_landing_file_fails(world: World) -> None:
    report = world.run(
        manifest(
            "ghost",
            "ingest_satellite_raster",
            [raster_file("s3://landing-zone/ghost/none.tif", "EPSG:4326")],
        )
    )
    assert_failed_cleanly(world, report, step=None, text="does not exist in the landing zone")


BROKEN_PLUGIN = """
from spatial_etl import (
    hookimpl, Accepts, ExportFormat, ExportStep, FileType, GdalProgram, GdalStep, GeometryKind, Intent, SqlStep,
)

LOAD = GdalStep(
    name="load", description="load", program=GdalProgram.OGR2OGR,
    args=("-f", "PostgreSQL", "{postgis}", "{src}", "{layer}", "-nln", "{table}",
          "-lco", "SCHEMA={schema}", "-lco", "FID={fid}", "-lco", "GEOMETRY_NAME=geom", "-a_srs", "{crs}"),
)
ACCEPTS = Accepts(file_type=FileType.VECTOR, drivers=frozenset({"GeoJSON"}), geometry_kinds=frozenset({GeometryKind.POLYGON}))
EXPORT = ExportStep(name="export", description="out", format=ExportFormat.GEOPARQUET, table="{table}")

BAD_SQL = Intent(
    name="broken_sql", summary="bad SQL", accepts=ACCEPTS,
    steps=(LOAD, SqlStep(name="oops", description="typo", statement="UPDATE {schema}.{table} SET nope = 1"), EXPORT),
)
DROPS_ROWS = Intent(
    name="drops_rows", summary="loses a feature", accepts=ACCEPTS,
    steps=(LOAD, SqlStep(name="lose", description="drops n=2", statement="DELETE FROM {schema}.{table} WHERE n = '2'"), EXPORT),
)
BAD_GDAL = Intent(
    name="broken_gdal", summary="bad GDAL", accepts=ACCEPTS,
    steps=(
        GdalStep(name="load", description="load", program=GdalProgram.OGR2OGR,
                 args=("-f", "PostgreSQL", "{postgis}", "{src}", "-lco", "FID={fid}", "-nlt", "NOT_A_TYPE")),
        EXPORT,
    ),
)

@hookimpl
def register_intents(registry):
    registry.register(BAD_SQL)
    registry.register(BAD_GDAL)
    registry.register(DROPS_ROWS)
"""


@pytest.fixture
def broken_world(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    module = tmp_path / "broken_plugin.py"
    module.write_text(BROKEN_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    plugin = importlib.import_module("broken_plugin")
    info = PluginInfo(name="broken", module="broken_plugin")
    world.platform.catalog = load_plugins(
        PluginSettings(plugins=frozenset({"none"}), block_plugins=frozenset()),
        extra=[(info, plugin)],
    )
    return world


def test_bad_sql_fails_naming_the_step_and_drops_the_schema(
    broken_world: World, make_vector: Callable[..., Path]
) -> None:
    src = make_vector(
        "a.geojson", [{"wkt": UTM_SQUARE, "n": "1"}], driver="GeoJSON", crs="EPSG:32633"
    )
    path = broken_world.upload("badsql", src)
    report = broken_world.run(manifest("badsql", "broken_sql", [vector_file(path, "GeoJSON")]))
    assert_failed_cleanly(
        broken_world, report, step="oops", text='column "nope" of relation "input_0" does not exist'
    )


def test_failing_gdal_command_fails_with_its_stderr(
    broken_world: World, make_vector: Callable[..., Path]
) -> None:
    src = make_vector(
        "a.geojson", [{"wkt": UTM_SQUARE, "n": "1"}], driver="GeoJSON", crs="EPSG:32633"
    )
    path = broken_world.upload("badgdal", src)
    report = broken_world.run(manifest("badgdal", "broken_gdal", [vector_file(path, "GeoJSON")]))
    assert_failed_cleanly(broken_world, report, step="load", text="NOT_A_TYPE")
    shutil.rmtree(broken_world.tmp / "downloads", ignore_errors=True)


def test_plain_shapefile_with_sidecars_beside_it(
    world: World, make_vector: Callable[..., Path]
) -> None:
    shp = make_vector(
        "lots.shp", [{"wkt": UTM_SQUARE, "name": "x"}], driver="ESRI Shapefile", crs="EPSG:32633"
    )
    for part in sorted(shp.parent.glob("lots.*")):
        path = world.upload("lots", part)
    shp_path = path.rsplit("/", 1)[0] + "/lots.shp"
    report = world.run(
        manifest("lots", "ingest_vector_boundary", [vector_file(shp_path, "ESRI Shapefile")])
    )
    assert report.status == "succeeded", report.error
    run = world.ledger.get_run(report.run_id)
    assert run is not None
    assert sorted(r.key.rsplit(".", 1)[1] for r in run.inputs) == ["dbf", "prj", "shp", "shx"]
    assert_linked(world, report)


def test_shapefile_without_its_dbf_is_refused(
    world: World, make_vector: Callable[..., Path]
) -> None:
    shp = make_vector(
        "bare.shp", [{"wkt": UTM_SQUARE, "n": "1"}], driver="ESRI Shapefile", crs="EPSG:32633"
    )
    world.upload("bare", shp)
    world.upload("bare", shp.with_suffix(".shx"))
    report = world.run(
        manifest(
            "bare",
            "ingest_vector_boundary",
            [vector_file("s3://landing-zone/bare/bare.shp", "ESRI Shapefile")],
        )
    )
    assert_failed_cleanly(
        world, report, step=None, text="the shapefile's .dbf sidecar(s) are missing"
    )


def test_a_corrupted_upload_is_removed_and_its_document_failed(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = world.upload("corrupt", make_raster("c.tif"))
    original = world.store.put_file

    def corrupting_put(bucket: str, key: str, file: Path, **kwargs: Any) -> Any:
        stored = original(bucket, key, file, **kwargs)
        if bucket == world.store.settings.lake_bucket:  # the bytes change on the way
            world.store.put_bytes(bucket, key, b"not a cog", metadata=kwargs["metadata"])
        return stored

    monkeypatch.setattr(world.store, "put_file", corrupting_put)
    report = world.run(
        manifest("corrupt", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    )
    assert_failed_cleanly(world, report, step=None, text="does not match its ledger document")
    [asset] = list(world.ledger.db["assets"].find())
    assert asset["status"] == "failed"
    assert "content_hash" in asset["failure"]


def test_a_step_that_loses_features_fails_naming_them(
    broken_world: World, make_vector: Callable[..., Path]
) -> None:
    rows = [
        {"wkt": UTM_SQUARE, "n": "1"},
        {"wkt": UTM_BOWTIE, "n": "2"},
        {"wkt": UTM_SQUARE, "n": "3"},
    ]
    src = make_vector("three.geojson", rows, driver="GeoJSON", crs="EPSG:32633")
    path = broken_world.upload("lossy", src)
    report = broken_world.run(manifest("lossy", "drops_rows", [vector_file(path, "GeoJSON")]))
    assert_failed_cleanly(
        broken_world,
        report,
        step="count",
        text="3 features were read but 2 remain after the SQL steps; missing feature ids (1-based, in source order): 2",
    )


def test_same_output_from_other_parameters_is_a_duplicate(
    world: World, make_raster: Callable[..., Path]
) -> None:
    # 64x48 is smaller than one tile: no overviews, so overview_resampling cannot change a byte.
    path = world.upload("params", make_raster("small.tif"))
    first = world.run(
        manifest(
            "params",
            "ingest_satellite_raster",
            [raster_file(path, "EPSG:4326")],
            parameters={"overview_resampling": "nearest"},
        )
    )
    second = world.run(
        manifest(
            "params",
            "ingest_satellite_raster",
            [raster_file(path, "EPSG:4326")],
            parameters={"overview_resampling": "average"},
        )
    )
    assert first.status == second.status == "succeeded"
    assert second.outputs[0].status == "duplicate"
    assert second.outputs[0].duplicate_of == first.outputs[0].asset_id
    assert "process" in second.timings  # the work was done, the result was the same
    assert world.data_keys() == [first.outputs[0].s3_key]


def test_invalid_parameters_are_a_recorded_failure(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("badparams", make_raster("p.tif"))
    report = world.run(
        manifest(
            "badparams",
            "ingest_satellite_raster",
            [raster_file(path, "EPSG:4326")],
            parameters={"resampling": "sideways"},
        )
    )
    assert_failed_cleanly(
        world, report, step=None, text="invalid parameters: metadata.parameters.resampling"
    )


def test_a_jpeg2000_scene_passes_screening_and_becomes_a_cog(
    world: World, make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    import subprocess

    tif = make_raster(
        "ortho.tif",
        size=(300, 200),
        bands=3,
        burn=(10, 20, 30),
        crs="EPSG:32633",
        bounds=(500000, 5500000, 503000, 5502000),
    )
    jp2 = tmp_path / "ortho.jp2"
    subprocess.run(["gdal_translate", "-q", "-of", "JP2OpenJPEG", str(tif), str(jp2)], check=True)
    path = world.upload("ortho_1", jp2)
    file = {"path": path, "type": "raster", "format": "JP2OpenJPEG", "crs": "EPSG:32633"}
    report = world.run(manifest("ortho_1", "ingest_satellite_raster", [file]))
    assert report.status == "succeeded", report.error
    assert_linked(world, report)
    info = read_raster_info(SubprocessGdalRunner(), str(world.download(report.outputs[0].s3_key)))
    assert info.image_structure["LAYOUT"] == "COG"
    assert (info.size, info.band_count) == ((300, 200), 3)
