"""Screening of inputs: sniffers, zip and GeoPackage checks, meta-format references, GDAL config.

The checks are plain Python; the tests marked ``gdal`` use files GDAL itself wrote, so a
legitimate file of every accepted format is shown to pass, not just a hand-made header.
"""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
import spatial_etl_satellite_raster
import spatial_etl_vector_boundary
from pydantic import ValidationError
from spatial_etl import Accepts, FileType, GeometryKind
from spatial_etl.errors import (
    FormatMismatchError,
    GdalCommandError,
    MetaFormatError,
    UnsafeArchiveError,
    UnsafeGeoPackageError,
    UnsafeInputError,
)
from spatial_etl.models.manifest import ManifestFile
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.inputs import inspect_input
from spatial_etl.run.screen import screen_input
from spatial_etl.run.staging import StagedInput
from spatial_etl.screening import (
    Detected,
    check_declared_format,
    check_geopackage,
    check_references,
    check_zip,
    gdal_config,
    sniff_bytes,
    sniff_file,
)
from spatial_etl.settings import ArchiveSettings
from spatial_etl.spatial_utils.rasterinfo import read_raster_info
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.testing import load_plugin

LABEL = "files[0] s3://landing-zone/b/scene.tif"
SETTINGS = ArchiveSettings(
    archive_max_uncompressed_mb=64, archive_max_ratio=50, archive_max_members=10
)


@pytest.fixture(scope="module")
def raster() -> RegisteredIntent:
    [registered] = load_plugin(spatial_etl_satellite_raster)
    return registered


@pytest.fixture(scope="module")
def vector() -> RegisteredIntent:
    [registered] = load_plugin(spatial_etl_vector_boundary)
    return registered


# ------------------------------------------------------------------------------ sniffing


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"II*\x00\x08\x00\x00\x00", Detected.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", Detected.TIFF),
        (b"II+\x00\x08\x00\x00\x00", Detected.BIGTIFF),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00", Detected.JP2),
        (b"\xff\x4f\xff\x51\x00\x2f", Detected.J2K),
        (b"SQLite format 3\x00" + bytes(52) + b"GPKG" + bytes(28), Detected.GEOPACKAGE),
        (b"SQLite format 3\x00" + bytes(52) + b"GP11" + bytes(28), Detected.GEOPACKAGE),
        (b"SQLite format 3\x00" + bytes(84), Detected.SQLITE),
        (b"PK\x03\x04\x14\x00", Detected.ZIP),
        (b"\x00\x00\x27\x0a" + bytes(96), Detected.SHAPEFILE),
        (b"fgb\x03fgb\x00", Detected.FLATGEOBUF),
        (b'  \n{"type": "FeatureCollection"}', Detected.JSON),
        (b'\xef\xbb\xbf[{"type": "Feature"}]', Detected.JSON),
        (b'\x1e{"type": "Feature"}\n', Detected.JSON),
        (b'<VRTDataset rasterXSize="1">', Detected.VRT),
        (
            b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE x>\n<VRTDataset>',
            Detected.VRT,
        ),
        (b"<OGRVRTDataSource><OGRVRTLayer/>", Detected.OGR_VRT),
        (b"  <MRF_META><Raster/>", Detected.MRF),
        (b"<GDAL_WMS><Service/>", Detected.GDAL_XML),
        (b"<gml:FeatureCollection xmlns:gml='x'>", Detected.XML),
        (b"ncols 4\nnrows 4\n", Detected.UNKNOWN),
        (b"", Detected.EMPTY),
    ],
)
def test_sniff_bytes(head: bytes, expected: Detected) -> None:
    assert sniff_bytes(head) is expected


def test_declared_gtiff_with_vrt_bytes_names_both() -> None:
    with pytest.raises(FormatMismatchError) as caught:
        check_declared_format(LABEL, "GTiff", Detected.VRT, frozenset())
    assert str(caught.value) == f"{LABEL} is declared GTiff but its bytes are a GDAL VRT (XML)"


def test_declared_vrt_without_the_intents_consent_is_refused() -> None:
    with pytest.raises(FormatMismatchError, match=r"Accepts\.meta_drivers"):
        check_declared_format(LABEL, "VRT", Detected.VRT, frozenset())
    check_declared_format(LABEL, "VRT", Detected.VRT, frozenset({"VRT"}))


@pytest.mark.parametrize(
    ("declared", "detected"),
    [
        ("COG", Detected.TIFF),
        ("GTiff", Detected.BIGTIFF),
        ("JP2OpenJPEG", Detected.J2K),
        ("ESRI Shapefile", Detected.ZIP),
        ("ESRI Shapefile", Detected.SHAPEFILE),
        ("GPKG", Detected.GEOPACKAGE),
        ("GeoJSON", Detected.JSON),
        ("FlatGeobuf", Detected.FLATGEOBUF),
        ("AAIGrid", Detected.UNKNOWN),  # no known signature: only meta-formats are refused
        ("GML", Detected.XML),
    ],
)
def test_matching_declarations_pass(declared: str, detected: Detected) -> None:
    check_declared_format(LABEL, declared, detected, frozenset())


@pytest.mark.parametrize(
    ("declared", "detected", "said"),
    [
        ("GeoJSON", Detected.GEOPACKAGE, "a GeoPackage (SQLite)"),
        ("GPKG", Detected.SQLITE, "an SQLite database (not a GeoPackage)"),
        ("AAIGrid", Detected.MRF, "an MRF metadata (XML)"),
        ("GML", Detected.OGR_VRT, "an OGR VRT (XML)"),
        ("AAIGrid", Detected.TIFF, "a TIFF"),
        ("GTiff", Detected.EMPTY, "no GTiff file (format empty)"),
    ],
)
def test_mismatches_are_refused(declared: str, detected: Detected, said: str) -> None:
    with pytest.raises(FormatMismatchError) as caught:
        check_declared_format(LABEL, declared, detected, frozenset())
    assert said in str(caught.value)
    assert isinstance(caught.value, UnsafeInputError)


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("argv", "name", "expected"),
    [
        (["gdal_create", "-of", "GTiff", "-outsize", "4", "4"], "a.tif", Detected.TIFF),
        (
            ["gdal_create", "-of", "GTiff", "-outsize", "4", "4", "-co", "BIGTIFF=YES"],
            "b.tif",
            Detected.BIGTIFF,
        ),
        (["gdal_create", "-of", "JP2OpenJPEG", "-outsize", "4", "4"], "c.jp2", Detected.JP2),
    ],
)
def test_files_written_by_gdal_are_recognised(
    tmp_path: Path, argv: list[str], name: str, expected: Detected
) -> None:
    subprocess.run([*argv, str(tmp_path / name)], check=True, capture_output=True)
    assert sniff_file(tmp_path / name) is expected


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("driver", "name", "expected"),
    [
        ("ESRI Shapefile", "v.shp", Detected.SHAPEFILE),
        ("FlatGeobuf", "v.fgb", Detected.FLATGEOBUF),
        ("GeoJSON", "v.geojson", Detected.JSON),
        ("GeoJSONSeq", "v.geojsons", Detected.JSON),
        ("GPKG", "v.gpkg", Detected.GEOPACKAGE),
    ],
)
def test_vectors_written_by_gdal_are_recognised(
    tmp_path: Path, driver: str, name: str, expected: Detected
) -> None:
    _ogr(tmp_path / name, driver)
    assert sniff_file(tmp_path / name) is expected


def _ogr(target: Path, driver: str = "GPKG") -> Path:
    source = target.with_name(target.stem + "_src.csv")
    source.write_text('wkt,name\n"POLYGON((0 0,1 0,1 1,0 0))",a\n')
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            driver,
            str(target),
            str(source),
            "-oo",
            "GEOM_POSSIBLE_NAMES=wkt",
            "-oo",
            "KEEP_GEOM_COLUMNS=NO",
            "-nln",
            "lay",
            "-a_srs",
            "EPSG:4326",
        ],
        check=True,
        capture_output=True,
    )
    return target


# ------------------------------------------------------------------------------ archives


def _zip(target: Path, *members: tuple[zipfile.ZipInfo | str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return target


def test_an_honest_zip_passes(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", ("a.shp", b"x" * 100), ("a.dbf", b"y"), ("dir/", b""))
    assert check_zip(archive, LABEL, SETTINGS) == ["a.shp", "a.dbf", "dir/"]


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("../a.shp", "has a '..' segment"),
        ("x/../../a.shp", "has a '..' segment"),
        ("/etc/a.shp", "is an absolute path"),
        ("C:/a.shp", "starts with a drive letter"),
        ("dir\\a.shp", "contains a backslash"),
        ("inner.zip", "is an archive inside the archive"),
        ("inner.tar.gz", "is an archive inside the archive"),
    ],
)
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str, rule: str) -> None:
    archive = _zip(tmp_path / "a.zip", (zipfile.ZipInfo(name), b"data"))
    with pytest.raises(UnsafeArchiveError) as caught:
        check_zip(archive, LABEL, SETTINGS)
    assert str(caught.value).startswith(f"{LABEL}: member {name!r} {rule}")


def test_symbolic_link_member_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("a.shp")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "a.zip", (link, b"/etc/passwd"))
    with pytest.raises(UnsafeArchiveError, match=r"member 'a\.shp' is a symbolic link"):
        check_zip(archive, LABEL, SETTINGS)


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", ("a.dbf", b"data"))
    raw = bytearray(archive.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # general-purpose flag bit 0: encrypted (zipfile clears it on write)
    archive.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError, match=r"member 'a\.dbf' is encrypted"):
        check_zip(archive, LABEL, SETTINGS)


def test_too_many_members_names_the_setting(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", *((f"f{i}.txt", b"x") for i in range(11)))
    with pytest.raises(UnsafeArchiveError) as caught:
        check_zip(archive, LABEL, SETTINGS)
    assert str(caught.value) == (
        f"{LABEL} holds 11 entries, more than SPATIAL_ETL_ARCHIVE_MAX_MEMBERS=10"
    )


def test_high_ratio_member_names_the_member_and_setting(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", ("ok.shp", b"x" * 100), ("zeros.dbf", bytes(8 * 2**20)))
    with pytest.raises(UnsafeArchiveError) as caught:
        check_zip(archive, LABEL, SETTINGS)
    message = str(caught.value)
    assert "member 'zeros.dbf' expands" in message
    assert message.endswith("than SPATIAL_ETL_ARCHIVE_MAX_RATIO=50")


def test_total_declared_size_names_the_setting(tmp_path: Path) -> None:
    loose = SETTINGS.model_copy(update={"archive_max_ratio": 10_000.0})
    parts = [(f"part{i}.dbf", bytes(20 * 2**20)) for i in range(4)]  # 80 MiB > 64
    archive = _zip(tmp_path / "a.zip", *parts)
    assert archive.stat().st_size < 2**20
    with pytest.raises(UnsafeArchiveError) as caught:
        check_zip(archive, LABEL, loose)
    assert str(caught.value) == (
        f"{LABEL} declares 80 MiB uncompressed, more than "
        "SPATIAL_ETL_ARCHIVE_MAX_UNCOMPRESSED_MB=64"
    )


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "a.zip"
    fake.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UnsafeArchiveError, match="is not a readable zip archive"):
        check_zip(fake, LABEL, SETTINGS)


def test_archive_defaults_let_a_large_honest_archive_through() -> None:
    defaults = ArchiveSettings()
    assert defaults.archive_max_uncompressed_mb >= 16 * 1024  # several 2-4 GB shapefile parts
    assert 100 <= defaults.archive_max_ratio < 1000  # deflate bombs reach ~1000
    assert defaults.archive_max_members >= 100


# --------------------------------------------------------------------------- geopackages


@pytest.fixture
def gpkg(tmp_path: Path) -> Path:
    """A GeoPackage written by ogr2ogr (GDAL 3.6), with its spatial index."""
    return _ogr(tmp_path / "v.gpkg")


def _sql(path: Path, *statements: str) -> Path:
    connection = sqlite3.connect(path)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()
    return path


@pytest.mark.gdal
def test_gdal_geopackage_passes_and_is_not_modified(gpkg: Path) -> None:
    before = gpkg.read_bytes()
    check_geopackage(gpkg, LABEL)
    assert gpkg.read_bytes() == before
    assert not gpkg.with_name("v.gpkg-journal").exists()
    assert not gpkg.with_name("v.gpkg-wal").exists()


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("statements", "said"),
    [
        (["CREATE VIEW spy AS SELECT * FROM lay"], "contains the view 'spy'"),
        (
            [
                "CREATE TABLE loot(x)",
                "CREATE TRIGGER t AFTER INSERT ON lay BEGIN INSERT INTO loot VALUES (1); END",
            ],
            "trigger 't' on 'lay'",
        ),
        (
            [
                "CREATE TABLE loot(x)",
                'CREATE TRIGGER "rtree_lay_geom_update5" AFTER UPDATE ON '
                'lay BEGIN INSERT OR REPLACE INTO "rtree_lay_geom" VALUES (NEW.fid, 0, 0, 0, 0); '
                "INSERT INTO loot VALUES (NEW.name); END",
            ],
            "touches 'loot'",
        ),
        (
            [
                'CREATE TRIGGER "rtree_lay_geom_update6" AFTER UPDATE ON lay BEGIN DELETE FROM '
                '"rtree_lay_geom" WHERE id = load_extension(NEW.name); END'
            ],
            "uses LOAD_EXTENSION",
        ),
        (
            [
                'CREATE TRIGGER "rtree_lay_geom_update7" AFTER UPDATE ON lay BEGIN DELETE FROM '
                '"rtree_lay_geom" WHERE id = hex(NEW.name); END'
            ],
            "calls hex()",
        ),
        (
            [
                'CREATE TRIGGER "rtree_other_geom_insert" AFTER INSERT ON lay BEGIN DELETE FROM '
                '"rtree_lay_geom" WHERE id = NEW.fid; END'
            ],
            "no spatial index 'rtree_other_geom'",
        ),
        (
            [
                "DROP TRIGGER trigger_insert_feature_count_lay",
                'CREATE TRIGGER "trigger_insert_feature_count_lay" AFTER INSERT ON "lay" BEGIN '
                "UPDATE gpkg_ogr_contents SET feature_count = 0; END",
            ],
            "not GDAL's feature-count update",
        ),
        (
            [
                "CREATE TABLE loot(x)",
                "CREATE TRIGGER gpkg_tile_matrix_spy BEFORE INSERT ON gpkg_tile_matrix "
                "BEGIN INSERT INTO loot VALUES (1); END",
            ],
            "does more than raise an error",
        ),
        (
            ["CREATE VIRTUAL TABLE rtree_spy USING fts4(x)"],
            "virtual table 'rtree_spy', which is not a spatial index",
        ),
    ],
)
def test_foreign_sql_in_a_geopackage_is_refused(
    gpkg: Path, statements: list[str], said: str
) -> None:
    _sql(gpkg, *statements)
    with pytest.raises(UnsafeGeoPackageError) as caught:
        check_geopackage(gpkg, LABEL)
    assert said in str(caught.value)


def test_plain_sqlite_is_not_a_geopackage(tmp_path: Path) -> None:
    db = _sql(tmp_path / "a.gpkg", "CREATE TABLE t(x)")
    with pytest.raises(UnsafeGeoPackageError, match=r"not a GeoPackage \(application_id 0x0\)"):
        check_geopackage(db, LABEL)
    check_geopackage(db, LABEL, require_gpkg=False)


# --------------------------------------------------------------------------- meta-formats


def _vrt(path: Path, reference: str, relative: str = "1") -> Path:
    path.write_text(
        '<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand band="1"><SimpleSource>'
        f'<SourceFilename relativeToVRT="{relative}">{reference}</SourceFilename>'
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    return path


def test_relative_references_inside_the_folder_pass(tmp_path: Path) -> None:
    assert check_references(_vrt(tmp_path / "a.vrt", "tiles/a.tif"), LABEL) == ["tiles/a.tif"]


@pytest.mark.parametrize(
    ("reference", "relative", "problem"),
    [
        ("/etc/passwd", "1", "is an absolute path"),
        ("../other/a.tif", "1", "has a '..' segment"),
        ("/vsis3/landing-zone/other/a.tif", "1", "names a GDAL virtual file system"),
        ("/VSICURL/http://x/a.tif", "1", "names a GDAL virtual file system"),
        ("http://127.0.0.1/a.tif", "1", "is a URL or a driver connection string"),
        ("PG:dbname=x", "1", "is a URL or a driver connection string"),
        ("a.tif", "0", 'is not marked relativeToVRT="1"'),
        ("link/a.tif", "1", "resolves outside the input's folder"),
    ],
)
def test_escaping_references_are_refused(
    tmp_path: Path, reference: str, relative: str, problem: str
) -> None:
    folder = tmp_path / "input_0"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(MetaFormatError) as caught:
        check_references(_vrt(folder / "a.vrt", reference, relative), LABEL)
    assert problem in str(caught.value)


def test_mrf_data_file_is_checked(tmp_path: Path) -> None:
    meta = tmp_path / "a.mrf"
    meta.write_text("<MRF_META><Raster><DataFile>/etc/passwd</DataFile></Raster></MRF_META>")
    with pytest.raises(MetaFormatError, match=r"'/etc/passwd' \(<DataFile>\)"):
        check_references(meta, LABEL)


def test_entities_and_pixel_function_code_are_refused(tmp_path: Path) -> None:
    entity = tmp_path / "e.vrt"
    entity.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "/etc/passwd">]><VRTDataset>&e;</VRTDataset>')
    with pytest.raises(MetaFormatError, match="entities"):
        check_references(entity, LABEL)
    code = tmp_path / "c.vrt"
    code.write_text(
        "<VRTDataset><VRTRasterBand><PixelFunctionCode>import os</PixelFunctionCode>"
        "</VRTRasterBand></VRTDataset>"
    )
    with pytest.raises(MetaFormatError, match="embeds code"):
        check_references(code, LABEL)


def test_accepts_meta_drivers_must_be_accepted_referencing_drivers() -> None:
    accepts = Accepts(
        file_type=FileType.RASTER, drivers=frozenset({"GTiff", "VRT"}), meta_drivers={"VRT"}
    )
    assert accepts.meta_drivers == {"VRT"}
    with pytest.raises(ValidationError, match="not one of the accepted drivers"):
        Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"}), meta_drivers={"VRT"})
    with pytest.raises(ValidationError, match="not a driver whose files reference others"):
        Accepts(
            file_type=FileType.VECTOR,
            drivers=frozenset({"GPKG"}),
            geometry_kinds=frozenset({GeometryKind.POLYGON}),
            meta_drivers={"GPKG"},
        )


# --------------------------------------------------------------------------- GDAL config


def test_gdal_config_leaves_gdal_without_credentials_or_network(
    raster: RegisteredIntent, vector: RegisteredIntent
) -> None:
    for registered in (raster, vector):
        config = gdal_config(registered)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            assert config[name] == ""
        assert config["AWS_NO_SIGN_REQUEST"] == "YES"
        assert config["CPL_AWS_AUTODETECT_EC2"] == "NO"
        assert config["GDAL_HTTP_PROXY"] == "127.0.0.1:9"
        assert config["GDAL_PAM_ENABLED"] == "NO"
        skipped = set(config["GDAL_SKIP"].split(","))
        assert {"MRF", "OGR_VRT", "WMS"} <= skipped
    assert "VRT" in gdal_config(vector)["GDAL_SKIP"].split(",")
    assert "VRT" not in gdal_config(raster)["GDAL_SKIP"].split(",")  # the step chain's VRTs


# ------------------------------------------------------------------- screen_input / GDAL


def _staged(path: Path, fmt: str, file_type: str = "vector", zipped: bool = False) -> StagedInput:
    item = ManifestFile.model_validate(
        {
            "path": f"s3://landing-zone/b/{path.name}",
            "type": file_type,
            "format": fmt,
            "crs": "EPSG:4326",
        }
    )
    gdal_path = f"/vsizip/{path}" if zipped else str(path)
    return StagedInput(index=0, file=item, gdal_path=gdal_path, records=())


def test_zipped_shp_member_that_is_vrt_is_refused(tmp_path: Path, vector: RegisteredIntent) -> None:
    archive = _zip(
        tmp_path / "a.zip", ("a.shp", b"<OGRVRTDataSource/>"), ("a.dbf", b""), ("a.shx", b"")
    )
    with pytest.raises(FormatMismatchError) as caught:
        screen_input(_staged(archive, "ESRI Shapefile", zipped=True), vector, SETTINGS)
    assert str(caught.value) == (
        "files[0] s3://landing-zone/b/a.zip: member 'a.shp' is declared ESRI Shapefile but its "
        "bytes are an OGR VRT (XML)"
    )


@pytest.mark.parametrize(
    ("member", "data", "said"),
    [
        ("notes.xml", b"<OGRVRTDataSource/>", "member 'notes.xml' is declared ESRI Shapefile"),
        ("a.prj", b"<MRF_META/>", "its bytes are an MRF metadata (XML)"),
        ("data.bin", b"PK\x03\x04rest", "member 'data.bin' is an archive inside the archive"),
    ],
)
def test_meta_formats_and_archives_hidden_in_a_zip_are_refused(
    tmp_path: Path, vector: RegisteredIntent, member: str, data: bytes, said: str
) -> None:
    shp = b"\x00\x00\x27\x0a" + bytes(96)
    archive = _zip(tmp_path / "a.zip", ("a.shp", shp), (member, data))
    with pytest.raises(UnsafeInputError) as caught:
        screen_input(_staged(archive, "ESRI Shapefile", zipped=True), vector, SETTINGS)
    assert said in str(caught.value)


def test_zip_without_shp_declared_shapefile_is_refused(
    tmp_path: Path, vector: RegisteredIntent
) -> None:
    archive = _zip(tmp_path / "a.zip", ("a.dbf", b"x"))
    with pytest.raises(UnsafeArchiveError, match="declared ESRI Shapefile but the zip holds no"):
        screen_input(_staged(archive, "ESRI Shapefile", zipped=True), vector, SETTINGS)


@pytest.mark.gdal
def test_inspect_input_checks_the_driver_gdal_reports(
    tmp_path: Path, vector: RegisteredIntent, raster: RegisteredIntent
) -> None:
    """Screening runs no GDAL program; the inspection's one gdalinfo/ogrinfo is the check."""
    runner = SubprocessGdalRunner(env=gdal_config(vector), timeout_s=60)
    gpkg = _staged(_ogr(tmp_path / "v.gpkg"), "GPKG")
    screen_input(gpkg, vector, SETTINGS)
    assert inspect_input(runner, vector, gpkg.file, gpkg.gdal_path).driver == "GPKG"
    topo = tmp_path / "t.json"
    topo.write_text(
        '{"type":"Topology","objects":{"a":{"type":"GeometryCollection","geometries":[]}},'
        '"arcs":[]}'
    )
    staged = _staged(topo, "GeoJSON")
    screen_input(staged, vector, SETTINGS)  # JSON bytes, as declared: GDAL must say more
    with pytest.raises(FormatMismatchError) as caught:
        inspect_input(runner, vector, staged.file, staged.gdal_path, label="files[0] t.json")
    assert str(caught.value) == (
        "files[0] t.json is declared GeoJSON but GDAL opened it with the TopoJSON driver"
    )
    tif = tmp_path / "a.tif"
    subprocess.run(
        ["gdal_create", "-outsize", "2", "2", "-a_srs", "EPSG:4326", str(tif)], check=True
    )
    raster_runner = SubprocessGdalRunner(env=gdal_config(raster), timeout_s=60)
    cog = _staged(tif, "COG", "raster")
    screen_input(cog, raster, SETTINGS)
    found = inspect_input(raster_runner, raster, cog.file, cog.gdal_path)
    assert found.driver == "GTiff"  # a COG is read by GTiff (open_drivers)
    assert not found.crs_assigned


@pytest.mark.gdal
def test_inspect_input_opens_a_raster_only_with_the_declared_driver(
    tmp_path: Path, raster: RegisteredIntent
) -> None:
    """A .tif whose bytes GDAL would open as a VRT is refused by -if, before any step."""
    tif = tmp_path / "a.tif"
    subprocess.run(["gdal_create", "-outsize", "2", "2", str(tif)], check=True)
    vrt = _vrt(tmp_path / "b.tif", "a.tif")
    runner = SubprocessGdalRunner(env=gdal_config(raster), timeout_s=60)
    staged = _staged(vrt, "GTiff", "raster")
    with pytest.raises(GdalCommandError, match="not recognized as a supported file format"):
        inspect_input(runner, raster, staged.file, staged.gdal_path)


@pytest.mark.gdal
def test_read_raster_info_restricted_to_gtiff_refuses_a_vrt(tmp_path: Path) -> None:
    tif = tmp_path / "a.tif"
    subprocess.run(["gdal_create", "-outsize", "2", "2", str(tif)], check=True)
    vrt = _vrt(tmp_path / "b.tif", "a.tif")
    runner = SubprocessGdalRunner(timeout_s=60)
    assert read_raster_info(runner, str(vrt)).driver == "VRT"
    with pytest.raises(GdalCommandError, match="not recognized as a supported file format"):
        read_raster_info(runner, str(vrt), input_drivers=("GTiff",))
    assert read_raster_info(runner, str(tif), input_drivers=("GTiff",)).driver == "GTiff"


@pytest.mark.gdal
def test_a_tiff_carrying_vrt_xml_in_its_header_still_opens_as_gtiff(tmp_path: Path) -> None:
    """The VRT driver, probed first, cannot claim a real TIFF (CONTEXT.md explains why)."""
    base, evil = tmp_path / "base.tif", tmp_path / "evil.tif"
    subprocess.run(["gdal_create", "-outsize", "4", "4", str(base)], check=True)
    xml = (
        '<VRTDataset rasterXSize="4" rasterYSize="4"><VRTRasterBand dataType="Byte" band="1" '
        'subClass="VRTRawRasterBand"><SourceFilename relativeToVRT="0">/etc/hostname'
        "</SourceFilename></VRTRasterBand></VRTDataset>"
    )
    subprocess.run(
        ["gdal_translate", "-q", "-mo", f"TIFFTAG_IMAGEDESCRIPTION={xml}", str(base), str(evil)],
        check=True,
    )
    assert b"<VRTDataset" in evil.read_bytes()[:1024]
    assert sniff_file(evil) is Detected.TIFF
    assert read_raster_info(SubprocessGdalRunner(timeout_s=60), str(evil)).driver == "GTiff"


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    """A raster GeoPackage written by gdal_create (GDAL 3.6): tile tables carry triggers too."""
    target = tmp_path / "r.gpkg"
    subprocess.run(
        [
            *("gdal_create", "-of", "GPKG", "-outsize", "4", "4", "-a_srs", "EPSG:4326"),
            *("-a_ullr", "0", "1", "1", "0", str(target)),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.mark.gdal
def test_gdal_raster_geopackage_passes(tiles: Path) -> None:
    assert sniff_file(tiles) is Detected.GEOPACKAGE
    check_geopackage(tiles, LABEL)


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("SELECT RAISE(ABORT, 'x') WHERE NEW.zoom_level IN (SELECT x FROM loot)", "reads 'loot'"),
        ("SELECT RAISE(ABORT, 'x') WHERE hex(NEW.zoom_level) = '0'", "calls hex()"),
        ("SELECT RAISE(ABORT, 'x') WHERE 0; DELETE FROM gpkg_contents", "more than raise"),
    ],
)
def test_tampered_tile_trigger_is_refused(tiles: Path, body: str, said: str) -> None:
    _sql(
        tiles,
        "CREATE TABLE loot(x)",
        "DROP TRIGGER r_zoom_insert",
        f'CREATE TRIGGER "r_zoom_insert" BEFORE INSERT ON "r" BEGIN {body}; END',
    )
    with pytest.raises(UnsafeGeoPackageError) as caught:
        check_geopackage(tiles, LABEL)
    assert said in str(caught.value)


@pytest.mark.gdal
def test_vector_runs_cannot_open_an_ogr_vrt_even_unscreened(
    tmp_path: Path, vector: RegisteredIntent
) -> None:
    (tmp_path / "secret.csv").write_text("a,b\n1,2\n")
    vrt = tmp_path / "layer.vrt"
    vrt.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource relativeToVRT="1">secret.csv'
        "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )
    runner = SubprocessGdalRunner(timeout_s=60)
    argv = ["ogrinfo", "-ro", "-so", "-al", str(vrt)]
    assert "OGR_VRT" in runner.run(argv).stdout  # control: GDAL follows it by default
    refused = runner.run(argv, env=gdal_config(vector), check=False)
    assert refused.returncode != 0
    assert "secret" not in refused.stdout
