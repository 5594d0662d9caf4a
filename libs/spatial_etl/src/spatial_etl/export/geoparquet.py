"""GeoParquet 1.1 export of a PostGIS table, streamed in bounded memory.

Why this shape: GDAL 3.6 on the platform has no Parquet driver, and the fastest path measured
(bench/README.md) is PostGIS → ADBC → Arrow → ``pyarrow.parquet``. ADBC's ``fetch_record_batch()``
streams the query's binary COPY as Arrow record batches, and each one is written out as soon as
a row group is full, so memory follows ``batch_rows``, never the size of the table.

The table-level facts the ``geo`` metadata records (row count, extent, geometry types, SRID)
are gathered from the streamed batches themselves, and the metadata is written into the
file's footer when it is closed: one query, one scan, one snapshot, so the metadata describes
exactly the rows written. The Arrow schema is therefore not stored in the file (pyarrow would
take its empty metadata over the footer's ``geo``); every column type written here reads back
as the same Arrow type from the Parquet types alone.

Columns written, in order:

* the table's attribute columns, minus ``exclude`` (the loader's ``FID_COLUMN`` by default) and
  the geometry column. Types ADBC maps natively pass through (text, integers, floats, boolean,
  date, time, timestamp[tz], bytea). ``numeric`` is cast to ``float8`` in the SELECT: ADBC would
  return it as an opaque string extension that readers do not treat as a number; digits beyond
  float64 precision (about 15 significant) are lost. Every other type (uuid, json, arrays,
  enums, interval, a second geometry...) is cast to ``text``, so the file holds only plain
  Parquet types.
* ``geometry``: ISO WKB from ``ST_AsBinary`` (not EWKB: the CRS travels in the metadata).
* ``bbox``: a struct of float64 ``xmin, ymin, xmax, ymax`` per row, GeoParquet 1.1's bbox
  "covering", so readers can skip row groups by column statistics without decoding WKB. It is
  null where the geometry is null or empty.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import adbc_driver_manager
import adbc_driver_postgresql.dbapi
import psycopg2
import psycopg2.extensions
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from adbc_driver_manager import dbapi as adbc_dbapi
from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial_etl.errors import ExportError
from spatial_etl.models.placeholders import FID_COLUMN
from spatial_etl.spatial_utils.runner import redact

GEOPARQUET_VERSION: Final = "1.1.0"
GEOMETRY_FIELD: Final = "geometry"
BBOX_FIELD: Final = "bbox"
BBOX_KEYS: Final = ("xmin", "ymin", "xmax", "ymax")
_BBOX_FUNCTIONS: Final = ("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax")
ORDER_COLUMN: Final = FID_COLUMN

# ADBC cuts the COPY stream into batches of about this many bytes, at a cost of about four
# times that in RSS (measured: the driver's default 16 MiB cost ~70 MB; 4 MiB ~20 MB; 1 MiB
# ~9 MB but 4x the batches). Row groups are regrouped to ``batch_rows`` anyway.
_ADBC_BATCH_OPTION: Final = "adbc.postgresql.batch_size_hint_bytes"
_ADBC_BATCH_BYTES: Final = 4 * 1024 * 1024

# The stream's session: a serial plan walks the table's primary key in ORDER BY order where
# a parallel one sorted every row, WKB included, through temporary files (measured at 200k
# rows: 0.27 s against 0.76 s); and JIT compiled for ~0.1 s a query that runs once.
_READ_AHEAD: Final = 2  # batches read ahead of the writer (about 4 MiB of COPY data each)
_SESSION_SETTINGS: Final = ("SET jit = off", "SET max_parallel_workers_per_gather = 0")

# PostgreSQL types ADBC turns into plain Arrow types that Parquet stores as they are.
_NATIVE_TYPES: Final = frozenset(
    {
        "text",
        "varchar",
        "bpchar",
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "bool",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "bytea",
    }
)
_FLOAT_TYPES: Final = frozenset({"numeric"})

# GeometryType() spelling → GeoParquet spelling; curves, surfaces and TINs have no GeoParquet
# type and are refused rather than written as WKB readers cannot decode.
_GEOMETRY_NAMES: Final = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
    "GEOMETRYCOLLECTION": "GeometryCollection",
}
_ZM_2D, _ZM_M, _ZM_Z, _ZM_ZM = 0, 1, 2, 3  # ST_Zmflag's codes
_SRID_FIELD: Final = "__srid"  # streamed beside the geometry, not written

# ISO WKB type codes (modulo 1000) → GeometryType() spelling; thousands give Z (1), M (2), ZM (3).
_WKB_TYPES: Final = {
    1: "POINT",
    2: "LINESTRING",
    3: "POLYGON",
    4: "MULTIPOINT",
    5: "MULTILINESTRING",
    6: "MULTIPOLYGON",
    7: "GEOMETRYCOLLECTION",
    8: "CIRCULARSTRING",
    9: "COMPOUNDCURVE",
    10: "CURVEPOLYGON",
    11: "MULTICURVE",
    12: "MULTISURFACE",
    13: "CURVE",
    14: "SURFACE",
    15: "POLYHEDRALSURFACE",
    16: "TIN",
    17: "TRIANGLE",
}
_WKB_ZM: Final = {0: _ZM_2D, 1: _ZM_Z, 2: _ZM_M, 3: _ZM_ZM}

logger = logging.getLogger(__name__)


class ExportedColumn(BaseModel):
    """One column of the written file."""

    model_config = ConfigDict(frozen=True)

    name: str
    arrow_type: str = Field(description="Arrow's spelling of the type, e.g. 'int32', 'binary'.")


class GeoParquetResult(BaseModel):
    """A GeoParquet file written from a PostGIS table, with the facts its metadata records."""

    model_config = ConfigDict(frozen=True)

    path: Path
    rows: int
    bbox: tuple[float, float, float, float] | None = Field(
        description="xmin, ymin, xmax, ymax in the data's CRS; None when no row has a geometry."
    )
    geometry_types: list[str] = Field(description="GeoParquet spelling, e.g. 'MultiPolygon Z'.")
    crs_projjson: dict[str, Any] | None = Field(
        description="PROJJSON of the data's CRS; None for SRID 0 (written as an explicit null)."
    )
    srid: int
    columns: list[ExportedColumn] = Field(description="Every column of the file, in order.")
    size: int = Field(description="File size in bytes.")


@dataclass(frozen=True)
class _Target:
    """The table being exported and its geometry column."""

    schema: str
    table: str
    geometry_column: str

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def relation(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    @property
    def geom(self) -> sql.Identifier:
        return sql.Identifier(self.geometry_column)

    def error(self, problem: str) -> ExportError:
        """An ExportError naming the table, for the rules the table breaks."""
        return ExportError(f"cannot export {self.label} to GeoParquet: {problem}")


@dataclass(frozen=True)
class _Column:
    name: str
    type_name: str


@dataclass(frozen=True)
class _Source:
    """What introspection learnt about the table."""

    attributes: tuple[_Column, ...]
    ordered: bool
    declared_srid: int


@dataclass(frozen=True)
class _Summary:
    """Table-level facts, gathered from the streamed rows."""

    rows: int
    bbox: tuple[float, float, float, float] | None
    geometry_types: list[str]
    srid: int
    crs: dict[str, Any] | None


def export_geoparquet(
    dsn: str,
    schema: str,
    table: str,
    out: Path,
    *,
    geometry_column: str = "geom",
    exclude: Collection[str] = (FID_COLUMN,),
    batch_rows: int = 65536,
    compression: str = "zstd",
) -> GeoParquetResult:
    """Write ``schema.table`` to ``out`` as GeoParquet 1.1, streaming ``batch_rows`` at a time.

    Rows come in ``FID_COLUMN`` order when the table has that column, so that the same table always
    gives the same file. ``out`` is written under a temporary name beside it and renamed at the
    end: it is either complete or absent.

    Raises:
        ExportError: the table cannot be read or exported; the message names ``schema.table``.
        ValueError: ``batch_rows`` is not positive.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, not {batch_rows}")
    target = _Target(schema, table, geometry_column)
    started = time.monotonic()
    try:
        with closing(psycopg2.connect(dsn)) as conn:
            conn.autocommit = True  # catalogue reads only; no transaction held open
            source, query = _prepare(conn, target, set(exclude))
            file_schema, summary = _write_atomically(
                dsn,
                target,
                query,
                out,
                crs_of=lambda srid: _crs_projjson(conn, target, srid),
                declared_srid=source.declared_srid,
                batch_rows=batch_rows,
                compression=compression,
            )
    except (
        psycopg2.Error,
        adbc_driver_manager.Error,
        pa.ArrowException,
        CRSError,
        OSError,
    ) as error:
        raise target.error(_cause(error)) from error
    logger.info(
        "exported %s: %d rows to %s in %.1f s",
        target.label,
        summary.rows,
        out,
        time.monotonic() - started,
    )
    return GeoParquetResult(
        path=out,
        rows=summary.rows,
        bbox=summary.bbox,
        geometry_types=summary.geometry_types,
        crs_projjson=summary.crs,
        srid=summary.srid,
        columns=[ExportedColumn(name=f.name, arrow_type=str(f.type)) for f in file_schema],
        size=out.stat().st_size,
    )


def geoparquet_geometry_type(postgis_type: str, zm_flag: int) -> str:
    """Map PostGIS ``GeometryType()`` and ``ST_Zmflag()`` to GeoParquet's geometry type name.

    ``GeometryType`` says ``POLYGON`` for a 3D polygon (and ``POLYGONM`` with M), so the
    dimension comes from ``ST_Zmflag`` (0 2D, 1 M, 2 Z, 3 ZM). GeoParquet 1.1 knows 2D and Z
    only: M values and curved or surface types raise ``ValueError`` with the SQL that fixes them,
    rather than being dropped silently or written as WKB that readers cannot decode.
    """
    if zm_flag not in (_ZM_2D, _ZM_M, _ZM_Z, _ZM_ZM):
        raise ValueError(f"ST_Zmflag {zm_flag} is not 0, 1, 2 or 3")
    upper = postgis_type.upper()
    base = _GEOMETRY_NAMES.get(upper.removesuffix("M") if zm_flag in (_ZM_M, _ZM_ZM) else upper)
    if base is None:
        raise ValueError(
            f"geometry type {postgis_type} has no GeoParquet equivalent "
            "(linearize curves with ST_CurveToLine in the intent's SQL)"
        )
    if zm_flag in (_ZM_M, _ZM_ZM):
        raise ValueError(
            f"{base} geometries carry M values, which GeoParquet cannot store "
            "(drop them with ST_Force2D or ST_Force3DZ in the intent's SQL)"
        )
    return f"{base} Z" if zm_flag == _ZM_Z else base


def geo_metadata(
    geometry_types: Sequence[str],
    bbox: tuple[float, float, float, float] | None,
    crs: dict[str, Any] | None,
) -> dict[str, Any]:
    """The file's ``geo`` metadata (GeoParquet 1.1) for its one ``geometry`` column.

    ``crs`` is always written, ``null`` included: an absent ``crs`` means OGC:CRS84 in the
    spec, which would be a lie for SRID 0 (unknown). ``bbox`` is left out when no row has a
    geometry. The WKB holds x=easting/longitude first whatever the CRS's axis order says
    (GeoParquet's rule, and how PostGIS stores EPSG:4326), so the PROJJSON of EPSG:4326 is right.
    """
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": list(geometry_types)}
    if bbox is not None:
        column["bbox"] = list(bbox)
    column["crs"] = crs
    column["covering"] = {"bbox": {key: [BBOX_FIELD, key] for key in BBOX_KEYS}}
    return {
        "version": GEOPARQUET_VERSION,
        "primary_column": GEOMETRY_FIELD,
        "columns": {GEOMETRY_FIELD: column},
    }


# ----------------------------------------------------------------------------- before the stream


def _prepare(
    conn: psycopg2.extensions.connection, target: _Target, exclude: set[str]
) -> tuple[_Source, str]:
    """Introspect the table; return what was learnt and the streaming query's text.

    The query is composed here because ``psycopg2.sql`` needs a psycopg2 connection to render
    identifiers. Only the catalogue is read: the rows and their facts come from the stream.
    """
    with conn.cursor() as cur:
        source = _introspect(cur, target, exclude)
    return source, _select(target, source).as_string(conn)


def _introspect(cur: psycopg2.extensions.cursor, target: _Target, exclude: set[str]) -> _Source:
    """Read the table's columns and the geometry column's declared SRID from the catalogue.

    Schema and table are compared as values here, so no identifier is composed at all.
    """
    cur.execute(
        "SELECT a.attname, t.typname FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (target.schema, target.table),
    )
    columns = [_Column(name, type_name) for name, type_name in cur.fetchall()]
    if not columns:
        raise target.error(f"table {target.label} does not exist")
    types = {column.name: column.type_name for column in columns}
    _check_geometry_column(target, types.get(target.geometry_column))
    attributes = tuple(
        c for c in columns if c.name != target.geometry_column and c.name not in exclude
    )
    clashes = sorted({c.name for c in attributes} & {GEOMETRY_FIELD, BBOX_FIELD})
    if clashes:
        raise target.error(
            f"attribute column(s) {', '.join(clashes)} would collide with the GeoParquet "
            "columns of that name; rename them in the intent's SQL"
        )
    cur.execute(
        "SELECT srid FROM geometry_columns "
        "WHERE f_table_schema = %s AND f_table_name = %s AND f_geometry_column = %s",
        (target.schema, target.table, target.geometry_column),
    )
    row = cur.fetchone()
    return _Source(
        attributes=attributes,
        ordered=ORDER_COLUMN in types,
        declared_srid=int(row[0]) if row and row[0] else 0,
    )


def _check_geometry_column(target: _Target, type_name: str | None) -> None:
    """Refuse a missing geometry column, or one of another type (geography included)."""
    if type_name == "geometry":
        return
    problem = "there is no such column" if type_name is None else f"its type is {type_name}"
    raise target.error(f"{target.geometry_column!r} is not a geometry column ({problem})")


def _wkb_kind(header: bytes) -> str:
    """GeoParquet's name for the type in an ISO WKB header (byte order, then the type code)."""
    code = int.from_bytes(header[1:5], "little" if header[0] == 1 else "big")
    name = _WKB_TYPES.get(code % 1000)
    zm = _WKB_ZM.get(code // 1000)
    if name is None or zm is None:
        raise ValueError(f"WKB type code {code} is not one PostGIS writes")
    return geoparquet_geometry_type(f"{name}M" if zm in (_ZM_M, _ZM_ZM) else name, zm)


class _Tally:
    """The table-level facts, accumulated batch by batch as the rows stream past.

    Each batch costs a few vectorised Arrow reductions (min/max of the bbox columns, the
    distinct SRIDs and the distinct 5-byte WKB headers), not a pass in Python over its rows.
    """

    def __init__(self, target: _Target, declared_srid: int) -> None:
        self.target = target
        self.declared_srid = declared_srid
        self.rows = 0
        self.headers: set[bytes] = set()
        self.srids: set[int] = set()
        self.corners: list[tuple[float, float, float, float]] = []

    def observe(self, batch: Any) -> None:
        """Count the batch's rows, note its kinds and SRIDs, widen the extent."""
        self.rows += batch.num_rows
        geometry = batch.column(GEOMETRY_FIELD)
        # binary_slice keeps nulls as nulls; dropping them first would copy the whole column
        headers = [h for h in pc.unique(pc.binary_slice(geometry, 0, 5)).to_pylist() if h]
        if not self.headers.issuperset(headers):
            self.headers.update(headers)
            try:
                for header in headers:
                    _wkb_kind(header)
            except ValueError as error:
                raise self.target.error(str(error)) from None
        found = {int(s) for s in pc.unique(batch.column(_SRID_FIELD).drop_null()).to_pylist()}
        if not self.srids.issuperset(found):
            self.srids |= found
            _resolve_srid(self.target, self.declared_srid, sorted(self.srids))
        lows = [pc.min(batch.column(f"{BBOX_FIELD}_{key}")).as_py() for key in BBOX_KEYS[:2]]
        highs = [pc.max(batch.column(f"{BBOX_FIELD}_{key}")).as_py() for key in BBOX_KEYS[2:]]
        if lows[0] is not None:
            self.corners.append((lows[0], lows[1], highs[0], highs[1]))

    def summary(self, crs_of: Callable[[int], dict[str, Any] | None]) -> _Summary:
        """The facts of every row seen, the CRS looked up for the one SRID."""
        bbox = None
        if self.corners:
            xmins, ymins, xmaxs, ymaxs = zip(*self.corners, strict=True)
            bbox = (min(xmins), min(ymins), max(xmaxs), max(ymaxs))
        srid = _resolve_srid(self.target, self.declared_srid, sorted(self.srids))
        kinds = sorted({_wkb_kind(header) for header in self.headers})
        return _Summary(self.rows, bbox, kinds, srid, crs_of(srid))


def _resolve_srid(target: _Target, declared: int, found: Sequence[int]) -> int:
    """The one SRID of the column: the declared one, else the data's (0 when neither says).

    A column declared without SRID (plain ``geometry``) may hold several; a GeoParquet column
    has exactly one CRS, so that is refused rather than mislabelled.
    """
    srids = set(found) | ({declared} if declared else set())
    if len(srids) > 1:
        listed = ", ".join(str(s) for s in sorted(srids))
        raise target.error(
            f"geometries have several SRIDs ({listed}); "
            "transform them to one with ST_Transform in the intent's SQL"
        )
    return srids.pop() if srids else 0


def _crs_projjson(
    conn: psycopg2.extensions.connection, target: _Target, srid: int
) -> dict[str, Any] | None:
    """PROJJSON of ``srid`` as ``spatial_ref_sys`` defines it; None for SRID 0 (unknown).

    The authority code is preferred (pyproj then knows the CRS's identifier, which readers
    use to recognise e.g. EPSG:4326); ``srtext`` serves custom entries pyproj does not know.
    """
    if srid == 0:
        return None
    with conn.cursor() as cur:
        cur.execute(
            "SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s",
            (srid,),
        )
        row = cur.fetchone()
    if row is None:
        raise target.error(f"SRID {srid} is not in spatial_ref_sys")
    auth_name, auth_srid, srtext = row
    if auth_name and auth_srid:
        try:
            return dict(CRS.from_authority(auth_name, auth_srid).to_json_dict())
        except CRSError:
            if not srtext:
                raise
    if not srtext:
        raise target.error(f"SRID {srid} has neither an authority code nor a WKT definition")
    return dict(CRS.from_wkt(srtext).to_json_dict())


def _select(target: _Target, source: _Source) -> sql.Composed:
    """The streaming query: attributes, ISO WKB geometry, its SRID, the four bbox values."""
    items = [_attribute_expression(column) for column in source.attributes]
    items.append(
        sql.SQL("ST_AsBinary({}) AS {}").format(target.geom, sql.Identifier(GEOMETRY_FIELD))
    )
    items.append(sql.SQL("ST_SRID({}) AS {}").format(target.geom, sql.Identifier(_SRID_FIELD)))
    items += [
        sql.SQL("{}({})::float8 AS {}").format(
            sql.SQL(function), target.geom, sql.Identifier(f"{BBOX_FIELD}_{key}")
        )
        for function, key in zip(_BBOX_FUNCTIONS, BBOX_KEYS, strict=True)
    ]
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(items), target.relation)
    if source.ordered:
        query = sql.SQL("{} ORDER BY {}").format(query, sql.Identifier(ORDER_COLUMN))
    return query


def _attribute_expression(column: _Column) -> sql.Composable:
    """The column as is, as float8 (numeric) or as text (anything without a plain Arrow type)."""
    name = sql.Identifier(column.name)
    if column.type_name in _NATIVE_TYPES:
        return name
    cast = "float8" if column.type_name in _FLOAT_TYPES else "text"
    return sql.SQL("{}::{} AS {}").format(name, sql.SQL(cast), name)


# ----------------------------------------------------------------------------- the stream


def _write_atomically(
    dsn: str,
    target: _Target,
    query: str,
    out: Path,
    *,
    crs_of: Callable[[int], dict[str, Any] | None],
    declared_srid: int,
    batch_rows: int,
    compression: str,
) -> tuple[Any, _Summary]:
    """Stream the query into a temporary file beside ``out``, close it with its ``geo``, rename.

    Returns the file's Arrow schema and the facts of the rows written. Whatever goes wrong (an
    error, an interrupt, a row the metadata could not describe), the temporary file is removed.
    """
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.partial")
    tally = _Tally(target, declared_srid)
    try:
        with _adbc_connect(dsn) as conn, conn.cursor() as cur:
            for setting in _SESSION_SETTINGS:
                cur.execute(setting)
            cur.adbc_statement.set_options(**{_ADBC_BATCH_OPTION: str(_ADBC_BATCH_BYTES)})
            cur.execute(query)
            reader = cur.fetch_record_batch()
            file_schema = _file_schema(reader.schema)
            summary = _write_stream(
                reader,
                partial,
                file_schema,
                tally=tally,
                crs_of=crs_of,
                batch_rows=batch_rows,
                compression=compression,
            )
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return file_schema, summary


def _adbc_connect(dsn: str) -> adbc_dbapi.Connection:
    """An ADBC connection, typed (the PostgreSQL driver package has no type information)."""
    conn: adbc_dbapi.Connection = adbc_driver_postgresql.dbapi.connect(dsn)
    return conn


def _file_schema(stream_schema: Any) -> Any:
    """The file's Arrow schema: the attributes as ADBC typed them, geometry, bbox.

    ADBC's per-field metadata (``POSTGRESQL:type``...) is dropped: it describes the source
    session, not the data at rest. The ``geo`` metadata is added to the footer at the end.
    """
    attributes = [pa.field(f.name, f.type) for f in list(stream_schema)[: -2 - len(BBOX_KEYS)]]
    bbox_type = pa.struct([pa.field(key, pa.float64()) for key in BBOX_KEYS])
    fields = [*attributes, pa.field(GEOMETRY_FIELD, pa.binary()), pa.field(BBOX_FIELD, bbox_type)]
    return pa.schema(fields)


def _write_stream(
    reader: Iterable[Any],
    path: Path,
    file_schema: Any,
    *,
    tally: _Tally,
    crs_of: Callable[[int], dict[str, Any] | None],
    batch_rows: int,
    compression: str,
) -> _Summary:
    """Write the stream to ``path`` one row group of ``batch_rows`` rows at a time.

    Every batch is tallied before it is written; the ``geo`` metadata of what was tallied goes
    into the footer just before the file is closed. Dictionary encoding is kept for the
    attributes (repeated values compress well) and turned off for ``geometry`` and ``bbox``:
    their values are nearly all different, so a dictionary would only cost work until Parquet
    gives up on it for each column chunk.
    """

    def tallied(batches: Iterable[Any]) -> Iterator[Any]:
        for batch in _read_ahead(batches):
            tally.observe(batch)
            yield _file_batch(batch, file_schema)

    dictionary = [name for name in file_schema.names if name not in (GEOMETRY_FIELD, BBOX_FIELD)]
    with pq.ParquetWriter(
        path,
        file_schema,
        compression=compression,
        use_dictionary=dictionary,
        store_schema=False,
    ) as writer:
        for group in _row_groups(tallied(reader), batch_rows):
            writer.write_table(group, row_group_size=batch_rows)
        summary = tally.summary(crs_of)
        geo = geo_metadata(summary.geometry_types, summary.bbox, summary.crs)
        writer.add_key_value_metadata({"geo": json.dumps(geo)})
    return summary


def _read_ahead(batches: Iterable[Any], depth: int = _READ_AHEAD) -> Iterator[Any]:
    """``batches``, read by a thread of their own up to ``depth`` batches ahead.

    PostgreSQL produces the next rows while this process compresses and writes the last ones
    (both release the GIL), so the export costs about the longer of the two rather than their
    sum. At most ``depth`` batches wait, so memory stays bounded. An error in the reader is
    raised here; leaving early (an error, an interrupt) stops the reader after the batch it is
    reading.
    """
    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def pump() -> None:
        try:
            for batch in batches:
                if not offer(("batch", batch)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed over and raised by the consumer
            offer(("error", error))
            return
        offer(("end", None))

    reader = threading.Thread(target=pump, name="geoparquet-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = waiting.get()
            if kind == "batch":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        reader.join()


def _file_batch(batch: Any, file_schema: Any) -> Any:
    """One streamed batch in the file's layout: SRID dropped, the bbox values in a struct."""
    split = batch.num_columns - len(BBOX_KEYS)
    corners = batch.columns[split:]
    bbox = pa.StructArray.from_arrays(
        corners,
        fields=list(file_schema.field(BBOX_FIELD).type),
        mask=pc.is_null(corners[0]),  # null or empty geometry: no box
    )
    return pa.RecordBatch.from_arrays([*batch.columns[: split - 1], bbox], schema=file_schema)


def _row_groups(batches: Iterable[Any], size: int) -> Iterator[Any]:
    """Regroup batches of any length into tables of exactly ``size`` rows (the last: fewer).

    ADBC cuts its batches by bytes, not rows; regrouping makes row groups independent of that,
    so the file's layout is deterministic. At most one group plus one batch is held: slices
    share the batches' buffers rather than copying them.
    """
    pending: list[Any] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _cause(error: BaseException) -> str:
    """The useful first line of a driver's error (PostgreSQL's own words), secrets hidden."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    lines = str(error).strip().splitlines()
    return redact(primary or (lines[0] if lines else repr(error)))
