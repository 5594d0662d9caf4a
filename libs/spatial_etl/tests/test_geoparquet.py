"""GeoParquet export: a PostGIS table streamed to a GeoParquet 1.1 file readers accept.

Tables are made in the test's scratch schema with SQL; the files are read back with pyarrow
and geopandas (a reader that interprets the ``geo`` metadata, CRS included).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from psycopg2 import sql
from pyproj import CRS
from spatial_etl.errors import ExportError, SpatialEtlError
from spatial_etl.export import geoparquet
from spatial_etl.export.geoparquet import (
    GeoParquetResult,
    export_geoparquet,
    geo_metadata,
    geoparquet_geometry_type,
)

COVERING = {
    "bbox": {
        "xmin": ["bbox", "xmin"],
        "ymin": ["bbox", "ymin"],
        "xmax": ["bbox", "xmax"],
        "ymax": ["bbox", "ymax"],
    }
}
SQUARE = "MULTIPOLYGON(((10 50, 11 50, 11 51, 10 51, 10 50)))"
TWO_PARTS = (
    "MULTIPOLYGON(((12.5 48.25, 13 48.25, 13 49, 12.5 48.25)),"
    "((14 47, 15.125 47, 15.125 47.5, 14 47)))"
)
HOLED = (
    "MULTIPOLYGON(((-3 40, -1 40, -1 42, -3 42, -3 40),(-2.5 40.5, -1.5 40.5, -2 41, -2.5 40.5)))"
)


# ----------------------------------------------------------------------------- helpers


def _run(conn: Any, schema: str, text: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run ``text`` with ``{schema}`` bound as an identifier; return the rows, if any."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL(text).format(schema=sql.Identifier(schema)), args or None)
        return list(cur.fetchall()) if cur.description else []


def _geo(path: Path) -> dict[str, Any]:
    geo: dict[str, Any] = json.loads(pq.read_schema(path).metadata[b"geo"])
    return geo


def _extent(conn: Any, schema: str, table: str) -> list[float]:
    """PostGIS's own extent of ``schema.table``'s ``geom``."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM {}) AS x"
            ).format(sql.Identifier(schema, table))
        )
        return [float(v) for v in cur.fetchone()]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


# ----------------------------------------------------------------------------- unit


@pytest.mark.parametrize(
    ("postgis", "flag", "expected"),
    [
        ("POINT", 0, "Point"),
        ("LINESTRING", 0, "LineString"),
        ("POLYGON", 0, "Polygon"),
        ("MULTIPOINT", 0, "MultiPoint"),
        ("MULTILINESTRING", 0, "MultiLineString"),
        ("MULTIPOLYGON", 0, "MultiPolygon"),
        ("GEOMETRYCOLLECTION", 0, "GeometryCollection"),
        ("MULTIPOLYGON", 2, "MultiPolygon Z"),
        ("POINT", 2, "Point Z"),
        ("multipolygon", 0, "MultiPolygon"),
    ],
)
def test_geometry_type_names_follow_geoparquet(postgis: str, flag: int, expected: str) -> None:
    assert geoparquet_geometry_type(postgis, flag) == expected


@pytest.mark.parametrize(
    ("postgis", "flag", "message"),
    [
        ("POLYGONM", 1, "M values.*ST_Force2D"),
        ("POINT", 3, "M values"),
        ("CIRCULARSTRING", 0, "no GeoParquet equivalent.*ST_CurveToLine"),
        ("CURVEPOLYGON", 0, "no GeoParquet equivalent"),
        ("MULTISURFACE", 0, "no GeoParquet equivalent"),
        ("TIN", 2, "no GeoParquet equivalent"),
        ("POINT", 7, "ST_Zmflag 7"),
    ],
)
def test_geometry_types_geoparquet_cannot_hold_are_refused(
    postgis: str, flag: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        geoparquet_geometry_type(postgis, flag)


def test_geo_metadata_writes_a_null_crs_and_omits_a_missing_bbox() -> None:
    geo = geo_metadata([], None, None)
    column = geo["columns"]["geometry"]
    assert "crs" in column
    assert column["crs"] is None  # absent would mean OGC:CRS84
    assert "bbox" not in column
    assert column["geometry_types"] == []
    assert column["covering"] == COVERING


def test_export_error_is_a_platform_error() -> None:
    assert issubclass(ExportError, SpatialEtlError)
    assert ExportError.__doc__


# ----------------------------------------------------------------------------- PostGIS


@pytest.fixture
def typed_table(pg_conn: Any, scratch_schema: str) -> list[tuple[Any, ...]]:
    """``parcels``: one column of each attribute type, NULL rows, awkward column names."""
    _run(
        pg_conn,
        scratch_schema,
        'CREATE TABLE {schema}.parcels (etl_fid serial PRIMARY KEY, "Name With Space" text, '
        '"UPPER" varchar(10), "quo""te" int, small smallint, big bigint, ratio float8, '
        "price numeric(12, 3), active boolean, surveyed date, seen timestamp, "
        "changed timestamptz, tags jsonb, codes int[], geom geometry(MultiPolygon, 4326))",
    )
    rows = [
        (
            "Parcel A",
            "a",
            1,
            -2,
            9_000_000_000,
            0.25,
            "1234.567",
            True,
            dt.date(2024, 2, 29),
            dt.datetime(2024, 3, 1, 12, 30, 15),
            dt.datetime(2024, 3, 1, 12, 30, 15, tzinfo=dt.UTC),
            '{"k": 1}',
            [1, 2],
            SQUARE,
        ),
        ("Parcel B", "b", 2, 3, 4, -1.5, "0.001", False, None, None, None, None, None, TWO_PARTS),
        (None, None, None, None, None, None, None, None, None, None, None, None, None, HOLED),
        ("no geometry", "d", 4, 5, 6, 7.0, "8", True, None, None, None, None, None, None),
    ]
    for row in rows:
        _run(
            pg_conn,
            scratch_schema,
            'INSERT INTO {schema}.parcels ("Name With Space", "UPPER", "quo""te", small, big, '
            "ratio, price, active, surveyed, seen, changed, tags, codes, geom) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
            row,
        )
    return rows


@pytest.fixture
def parcels(
    postgis_dsn: str, scratch_schema: str, typed_table: Any, out_dir: Path
) -> tuple[GeoParquetResult, Path]:
    """``parcels`` exported with the defaults: the result and the file."""
    out = out_dir / "parcels.parquet"
    return export_geoparquet(postgis_dsn, scratch_schema, "parcels", out), out


@pytest.mark.postgis
def test_attribute_names_types_and_values_survive(
    parcels: tuple[GeoParquetResult, Path], out_dir: Path
) -> None:
    result, out = parcels
    assert list(out_dir.iterdir()) == [out]  # no temporary file left
    table = pq.read_table(out)
    names = ["Name With Space", "UPPER", 'quo"te', "small", "big", "ratio", "price", "active"]
    names += ["surveyed", "seen", "changed", "tags", "codes", "geometry", "bbox"]
    assert table.column_names == names  # etl_fid is the loader's, not the user's
    assert [(c.name, c.arrow_type) for c in result.columns] == [
        (field.name, str(field.type)) for field in table.schema
    ]
    assert table.schema.field("price").type == pa.float64()  # numeric is cast to float8
    assert table.schema.field("geometry").type == pa.binary()
    assert not any(field.metadata for field in table.schema)  # no ADBC session metadata

    first, second, nulls, no_geometry = table.drop_columns(["geometry", "bbox"]).to_pylist()
    assert first == {
        "Name With Space": "Parcel A",
        "UPPER": "a",
        'quo"te': 1,
        "small": -2,
        "big": 9_000_000_000,
        "ratio": 0.25,
        "price": 1234.567,
        "active": True,
        "surveyed": dt.date(2024, 2, 29),
        "seen": dt.datetime(2024, 3, 1, 12, 30, 15),
        "changed": dt.datetime(2024, 3, 1, 12, 30, 15, tzinfo=dt.UTC),
        "tags": '{"k": 1}',  # no plain Arrow type: text
        "codes": "{1,2}",
    }
    assert second["price"] == 0.001
    assert second["active"] is False
    assert set(nulls.values()) == {None}
    assert no_geometry["Name With Space"] == "no geometry"


@pytest.mark.postgis
def test_attribute_arrow_types(parcels: tuple[GeoParquetResult, Path]) -> None:
    _, out = parcels
    types = {field.name: field.type for field in pq.read_schema(out)}
    assert types == {
        "Name With Space": pa.string(),
        "UPPER": pa.string(),
        'quo"te': pa.int32(),
        "small": pa.int16(),
        "big": pa.int64(),
        "ratio": pa.float64(),
        "price": pa.float64(),
        "active": pa.bool_(),
        "surveyed": pa.date32(),
        "seen": pa.timestamp("us"),
        "changed": pa.timestamp("us", tz="UTC"),
        "tags": pa.string(),
        "codes": pa.string(),
        "geometry": pa.binary(),
        "bbox": pa.struct([(key, pa.float64()) for key in ("xmin", "ymin", "xmax", "ymax")]),
    }


@pytest.mark.postgis
def test_geo_metadata_is_geoparquet_1_1(
    parcels: tuple[GeoParquetResult, Path], pg_conn: Any, scratch_schema: str
) -> None:
    result, out = parcels
    extent = _extent(pg_conn, scratch_schema, "parcels")
    geo = _geo(out)
    assert geo["version"] == "1.1.0"
    assert geo["primary_column"] == "geometry"
    assert set(geo["columns"]) == {"geometry"}
    column = geo["columns"]["geometry"]
    assert set(column) == {"encoding", "geometry_types", "bbox", "crs", "covering"}
    assert column["encoding"] == "WKB"
    assert column["geometry_types"] == ["MultiPolygon"]
    assert column["bbox"] == extent
    assert column["covering"] == COVERING
    assert CRS.from_json_dict(column["crs"]) == CRS.from_epsg(4326)

    assert result.rows == 4
    assert result.srid == 4326
    assert result.geometry_types == ["MultiPolygon"]
    assert list(result.bbox or ()) == extent
    assert result.crs_projjson == column["crs"]
    assert result.size == out.stat().st_size


@pytest.mark.postgis
def test_geopandas_reads_the_geometries_and_crs(
    parcels: tuple[GeoParquetResult, Path], typed_table: list[tuple[Any, ...]]
) -> None:
    _, out = parcels
    frame = geopandas.read_parquet(out)
    assert len(frame) == 4
    assert frame.crs.to_epsg() == 4326
    assert frame["Name With Space"].tolist()[:2] == ["Parcel A", "Parcel B"]
    for got, (*_, wkt) in zip(frame.geometry, typed_table, strict=True):
        if wkt is None:
            assert got is None
        else:
            assert got.equals_exact(shapely.from_wkt(wkt), tolerance=0)


@pytest.mark.postgis
def test_bbox_covering_holds_each_rows_box(
    parcels: tuple[GeoParquetResult, Path], pg_conn: Any, scratch_schema: str
) -> None:
    _, out = parcels
    expected = _run(
        pg_conn,
        scratch_schema,
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
        "FROM {schema}.parcels ORDER BY etl_fid",
    )
    boxes = pq.read_table(out, columns=["bbox"]).column("bbox").to_pylist()
    assert [None if b is None else tuple(b.values()) for b in boxes] == [
        None if row[0] is None else row for row in expected
    ]
    assert boxes[-1] is None  # a NULL geometry has no box


@pytest.mark.postgis
def test_projected_crs_is_kept_as_projjson(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.fields (etl_fid serial, geom geometry(MultiPolygon, 32633)); "
        "INSERT INTO {schema}.fields (geom) VALUES (ST_GeomFromText("
        "'MULTIPOLYGON(((500000 5500000, 501000 5500000, 501000 5501000, 500000 5500000)))', "
        "32633))",
    )
    out = out_dir / "fields.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, "fields", out)

    crs = _geo(out)["columns"]["geometry"]["crs"]
    assert CRS.from_json_dict(crs) == CRS.from_epsg(32633)
    assert result.srid == 32633
    assert result.bbox == (500000.0, 5500000.0, 501000.0, 5501000.0)
    assert geopandas.read_parquet(out).crs.to_epsg() == 32633


@pytest.mark.postgis
def test_mixed_geometry_types_are_all_listed(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(  # a table name that only survives as a quoted identifier
        pg_conn,
        scratch_schema,
        'CREATE TABLE {schema}."Mixed Types" (geom geometry(Geometry, 4326)); '
        'INSERT INTO {schema}."Mixed Types" VALUES '
        "(ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326)), "
        "(ST_GeomFromText('MULTIPOLYGON(((2 2, 3 2, 3 3, 2 2)))', 4326)), "
        "(ST_GeomFromText('POLYGON((5 5, 6 5, 6 6, 5 5))', 4326))",
    )
    out = out_dir / "mixed.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, "Mixed Types", out)

    assert result.geometry_types == ["MultiPolygon", "Polygon"]
    assert _geo(out)["columns"]["geometry"]["geometry_types"] == ["MultiPolygon", "Polygon"]
    assert len(geopandas.read_parquet(out)) == 3


@pytest.mark.postgis
def test_three_dimensional_geometry_is_iso_wkb_with_z(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.wells (geom geometry(PointZ, 4326)); "
        "INSERT INTO {schema}.wells VALUES (ST_GeomFromText('POINT Z(10 50 120.5)', 4326))",
    )
    out = out_dir / "wells.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, "wells", out)

    assert result.geometry_types == ["Point Z"]
    (wkb,) = pq.read_table(out).column("geometry").to_pylist()
    assert int.from_bytes(wkb[1:5], "little") == 1001  # ISO "Point Z", not EWKB's flag bits
    assert shapely.from_wkb(wkb).equals_exact(shapely.from_wkt("POINT Z (10 50 120.5)"), 0)


@pytest.mark.postgis
def test_unknown_srid_writes_an_explicit_null_crs(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.plan (geom geometry); "
        "INSERT INTO {schema}.plan VALUES ('POLYGON((0 0, 10 0, 10 10, 0 0))')",
    )
    out = out_dir / "plan.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, "plan", out)

    column = _geo(out)["columns"]["geometry"]
    assert "crs" in column
    assert column["crs"] is None
    assert result.srid == 0
    assert result.crs_projjson is None
    assert geopandas.read_parquet(out).crs is None


@pytest.mark.postgis
def test_several_srids_in_one_column_are_refused(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.muddle (geom geometry); INSERT INTO {schema}.muddle VALUES "
        "('SRID=4326;POINT(10 50)'), ('SRID=3857;POINT(1113195 6446276)')",
    )
    with pytest.raises(ExportError, match=r"muddle.*several SRIDs \(3857, 4326\)"):
        export_geoparquet(postgis_dsn, scratch_schema, "muddle", out_dir / "m.parquet")
    assert list(out_dir.iterdir()) == []


@pytest.mark.postgis
def test_empty_table_writes_a_valid_file_without_bbox(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.nothing (etl_fid serial, name text, "
        "geom geometry(MultiPolygon, 4326))",
    )
    out = out_dir / "nothing.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, "nothing", out)

    assert result.rows == 0
    assert result.bbox is None
    assert result.geometry_types == []
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.column_names == ["name", "geometry", "bbox"]
    column = _geo(out)["columns"]["geometry"]
    assert "bbox" not in column
    assert CRS.from_json_dict(column["crs"]) == CRS.from_epsg(4326)
    frame = geopandas.read_parquet(out)
    assert len(frame) == 0
    assert frame.crs.to_epsg() == 4326


@pytest.mark.postgis
def test_etl_fid_is_not_exported_unless_asked(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.t (etl_fid serial, keep text, drop_me text, the_geom geometry); "
        "INSERT INTO {schema}.t (keep, drop_me, the_geom) VALUES ('k', 'd', 'POINT(1 2)')",
    )
    default = export_geoparquet(
        postgis_dsn, scratch_schema, "t", out_dir / "a.parquet", geometry_column="the_geom"
    )
    assert [c.name for c in default.columns] == ["keep", "drop_me", "geometry", "bbox"]
    chosen = export_geoparquet(
        postgis_dsn,
        scratch_schema,
        "t",
        out_dir / "b.parquet",
        geometry_column="the_geom",
        exclude=("drop_me",),
    )
    assert [c.name for c in chosen.columns] == ["etl_fid", "keep", "geometry", "bbox"]


@pytest.mark.postgis
def test_missing_table_names_it_and_leaves_no_file(
    postgis_dsn: str, scratch_schema: str, out_dir: Path
) -> None:
    out = out_dir / "x.parquet"
    with pytest.raises(ExportError, match=rf"{scratch_schema}\.absent does not exist"):
        export_geoparquet(postgis_dsn, scratch_schema, "absent", out)
    assert list(out_dir.iterdir()) == []


@pytest.mark.postgis
@pytest.mark.parametrize(
    "case",
    [
        ("geom geometry, bbox text", "geom", "bbox would collide"),
        ("geom geometry", "shape", "'shape' is not a geometry column \\(there is no such"),
        ("geog geography", "geog", "its type is geography"),
    ],
)
def test_tables_that_cannot_be_geoparquet_are_refused_by_name(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path, case: tuple[str, ...]
) -> None:
    definition, geometry_column, message = case
    _run(pg_conn, scratch_schema, f"CREATE TABLE {{schema}}.odd ({definition})")
    with pytest.raises(ExportError, match=rf"{scratch_schema}\.odd.*{message}"):
        export_geoparquet(
            postgis_dsn,
            scratch_schema,
            "odd",
            out_dir / "odd.parquet",
            geometry_column=geometry_column,
        )
    assert list(out_dir.iterdir()) == []


@pytest.mark.postgis
def test_database_errors_carry_postgresqls_words(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path
) -> None:
    _run(
        pg_conn,
        scratch_schema,
        "CREATE VIEW {schema}.broken AS SELECT 10 / (i - 3) AS ratio, "
        "ST_MakePoint(i, i) AS geom FROM generate_series(1, 5) AS i",
    )
    with pytest.raises(ExportError, match=rf"{scratch_schema}\.broken.*division by zero"):
        export_geoparquet(postgis_dsn, scratch_schema, "broken", out_dir / "b.parquet")
    assert list(out_dir.iterdir()) == []


@pytest.fixture
def numbered(pg_conn: Any, scratch_schema: str) -> str:
    """``numbered``: 10,000 points whose ``n`` equals ``etl_fid``, stored in reverse order."""
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.numbered "
        "(etl_fid int PRIMARY KEY, n int, geom geometry(Point, 4326)); "
        "INSERT INTO {schema}.numbered "
        "SELECT i, i, ST_SetSRID(ST_MakePoint(i * 0.001, 45), 4326) "
        "FROM generate_series(10000, 1, -1) AS i",
    )
    return "numbered"


@pytest.mark.postgis
def test_rows_stream_into_row_groups_of_batch_rows_in_fid_order(
    postgis_dsn: str, scratch_schema: str, numbered: str, out_dir: Path
) -> None:
    out = out_dir / "numbered.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, numbered, out, batch_rows=1000)

    metadata = pq.ParquetFile(out).metadata
    assert metadata.num_row_groups == 10
    assert {metadata.row_group(i).num_rows for i in range(10)} == {1000}
    assert result.rows == 10_000
    assert pq.read_table(out, columns=["n"]).column("n").to_pylist() == list(range(1, 10_001))


@pytest.mark.postgis
def test_a_failure_mid_stream_leaves_no_partial_file(
    postgis_dsn: str,
    scratch_schema: str,
    numbered: str,
    out_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = geoparquet._row_groups
    seen: list[Path] = []

    def failing(batches: Any, size: int) -> Iterator[Any]:
        groups = real(batches, size)
        yield next(groups)
        seen.extend(out_dir.iterdir())  # the first row group is on disk by now
        raise pa.ArrowInvalid("disk says no")

    monkeypatch.setattr(geoparquet, "_row_groups", failing)
    with pytest.raises(ExportError, match=rf"{scratch_schema}\.numbered.*disk says no"):
        export_geoparquet(postgis_dsn, scratch_schema, numbered, out_dir / "n.parquet")
    assert [path.name.endswith(".partial") for path in seen] == [True]
    assert list(out_dir.iterdir()) == []


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """ADBC batches of a few hundred bytes; returns the row count of each batch tallied."""
    monkeypatch.setattr(geoparquet, "_ADBC_BATCH_BYTES", 512)
    sizes: list[int] = []
    real = geoparquet._Tally.observe

    def observe(self: Any, batch: Any) -> None:
        sizes.append(batch.num_rows)
        real(self, batch)

    monkeypatch.setattr(geoparquet._Tally, "observe", observe)
    return sizes


@pytest.mark.postgis
def test_metadata_gathered_while_streaming_covers_every_batch(
    postgis_dsn: str, pg_conn: Any, scratch_schema: str, out_dir: Path, small_batches: list[int]
) -> None:
    """The extent, types and count come from the rows as they stream, in one query."""
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.late (etl_fid int, geom geometry); "
        "INSERT INTO {schema}.late SELECT i, ST_SetSRID(ST_MakePoint(i, -i), 4326) "
        "FROM generate_series(1, 2000) AS i; "
        "INSERT INTO {schema}.late VALUES (2001, NULL), "
        "(2002, 'SRID=4326;MULTIPOINT Z((-5 7 1), (3 4000 2))'), "
        "(2003, 'SRID=4326;POLYGON EMPTY')",
    )
    out = out_dir / "late.parquet"
    result = export_geoparquet(postgis_dsn, scratch_schema, "late", out, batch_rows=500)

    assert len(small_batches) > 3  # the facts really were gathered across batches
    assert sum(small_batches) == result.rows == 2003
    assert result.bbox == (-5.0, -2000.0, 2000.0, 4000.0)
    assert result.geometry_types == ["MultiPoint Z", "Point", "Polygon"]
    column = _geo(out)["columns"]["geometry"]
    assert column["bbox"] == [-5.0, -2000.0, 2000.0, 4000.0]
    assert column["geometry_types"] == ["MultiPoint Z", "Point", "Polygon"]
    assert CRS.from_json_dict(column["crs"]) == CRS.from_epsg(4326)
    assert pq.read_metadata(out).num_rows == 2003
    frame = geopandas.read_parquet(out)
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[2001].wkt == "MULTIPOINT Z ((-5 7 1), (3 4000 2))"


@pytest.mark.usefixtures("small_batches")
@pytest.mark.postgis
@pytest.mark.parametrize(
    "case",
    [
        ("SRID=4326;CURVEPOLYGON(CIRCULARSTRING(0 0, 1 1, 2 0, 1 -1, 0 0))", "CURVEPOLYGON"),
        ("SRID=4326;POINT M (1 2 3)", "carry M values"),
        ("SRID=3857;POINT(1 2)", r"several SRIDs \(3857, 4326\)"),
    ],
)
def test_a_late_row_the_metadata_cannot_describe_leaves_no_file(
    postgis_dsn: str,
    pg_conn: Any,
    scratch_schema: str,
    out_dir: Path,
    case: tuple[str, str],
) -> None:
    """Found after row groups were written, the row still fails the export as a whole."""
    late, message = case
    _run(
        pg_conn,
        scratch_schema,
        "CREATE TABLE {schema}.tail (etl_fid int, geom geometry); "
        "INSERT INTO {schema}.tail SELECT i, ST_SetSRID(ST_MakePoint(i, i), 4326) "
        "FROM generate_series(1, 2000) AS i; INSERT INTO {schema}.tail VALUES (2001, %s)",
        (late,),
    )
    with pytest.raises(ExportError, match=rf"{scratch_schema}\.tail.*{message}"):
        export_geoparquet(
            postgis_dsn, scratch_schema, "tail", out_dir / "t.parquet", batch_rows=100
        )
    assert list(out_dir.iterdir()) == []
