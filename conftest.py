"""Test configuration shared by every test directory of the workspace.

Tests that need a real capability carry a marker (``gdal``, ``postgis``, ``s3``, ``kubectl``).
When the capability is missing they are skipped with the reason, and the summary reports it; under
``SPATIAL_ETL_REQUIRE_CAPABILITIES=1`` (what ``make test`` and CI set) a missing capability
fails the session instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

# ----------------------------------------------------------------------------- capabilities


@cache
def _gdal_version() -> str | None:
    if shutil.which("gdalinfo") is None or shutil.which("ogr2ogr") is None:
        return None
    done = subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def _postgis_version() -> str | None:
    dsn = os.environ.get("SPATIAL_ETL_POSTGIS_DSN")
    if not dsn:
        return None
    import psycopg2

    try:
        conn = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.Error:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT postgis_lib_version()")
            row = cur.fetchone()
    except psycopg2.Error:
        return None
    finally:
        conn.close()
    return f"PostGIS {row[0]}" if row else None


@cache
def _s3_endpoint() -> str | None:
    url = os.environ.get("SPATIAL_ETL_S3_ENDPOINT_URL")
    if not url:
        return None
    import urllib.request

    try:
        urllib.request.urlopen(f"{url}/moto-api/", timeout=3).close()  # noqa: S310 - loopback test endpoint
    except OSError:
        return None
    return url


@cache
def _kubectl_version() -> str | None:
    """Version of kubectl if it has its built-in kustomize (renders configs/k8s offline)."""
    if shutil.which("kubectl") is None:
        return None
    done = subprocess.run(
        ["kubectl", "kustomize", "--help"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    version = subprocess.run(
        ["kubectl", "version", "--client"], capture_output=True, text=True, check=False
    )
    return version.stdout.strip().splitlines()[0] if version.stdout.strip() else "kubectl"


@cache
def _chromium_version() -> str | None:
    """Version of Debian's Chromium, which Playwright drives (its own browsers are not here)."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    if path is None:
        return None
    try:
        import playwright  # noqa: F401 - probing for the driver only
    except ImportError:
        return None
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


_MISSING_REASON = {
    "gdal": "GDAL command-line tools not found (apt-get install gdal-bin)",
    "postgis": "no reachable PostGIS: set SPATIAL_ETL_POSTGIS_DSN (make services-up)",
    "s3": "no reachable S3 endpoint: set SPATIAL_ETL_S3_ENDPOINT_URL (make services-up)",
    "kubectl": "kubectl with kustomize not found (apt-get install kubernetes-client)",
    "browser": "Chromium not found (apt-get install chromium) or Playwright not installed",
}


def _available(capability: str) -> bool:
    probe = {
        "gdal": _gdal_version,
        "postgis": _postgis_version,
        "s3": _s3_endpoint,
        "kubectl": _kubectl_version,
        "browser": _chromium_version,
    }[capability]
    return probe() is not None


def pytest_report_header(config: pytest.Config) -> list[str]:
    drivers = ""
    if _gdal_version():
        listed = subprocess.run(
            ["ogrinfo", "--formats"], capture_output=True, text=True, check=False
        )
        names = [line.split(" -")[0].strip() for line in listed.stdout.splitlines()[1:]]
        wanted = ("PostgreSQL", "GPKG", "ESRI Shapefile", "FlatGeobuf", "Parquet")
        drivers = " [vector drivers: " + ", ".join(n for n in wanted if n in names) + "]"
    return [
        f"gdal: {_gdal_version() or 'missing'}{drivers}",
        f"postgis: {_postgis_version() or 'missing'}",
        f"s3: {_s3_endpoint() or 'missing'}",
        f"kubectl: {_kubectl_version() or 'missing'}",
        f"browser: {_chromium_version() or 'missing'}",
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = os.environ.get("SPATIAL_ETL_REQUIRE_CAPABILITIES") == "1"
    for capability, reason in _MISSING_REASON.items():
        if _available(capability):
            continue
        needing = [item for item in items if item.get_closest_marker(capability)]
        if needing and required:
            raise pytest.UsageError(
                f"{len(needing)} tests need {capability}, which is required here: {reason}"
            )
        for item in needing:
            item.add_marker(pytest.mark.skip(reason=f"missing capability: {reason}"))


# ----------------------------------------------------------------------------- real services


@pytest.fixture
def postgis_dsn() -> str:
    """DSN of the test PostGIS (role etl, database compute)."""
    dsn = os.environ.get("SPATIAL_ETL_POSTGIS_DSN")
    assert dsn, "mark the test with @pytest.mark.postgis"
    return dsn


@pytest.fixture
def pg_conn(postgis_dsn: str) -> Iterator[Any]:
    """A psycopg2 connection in autocommit mode, closed afterwards."""
    import psycopg2

    conn = psycopg2.connect(postgis_dsn)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def scratch_schema(pg_conn: Any) -> Iterator[str]:
    """A schema of its own for one test, dropped with everything in it afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with pg_conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with pg_conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def gdal_pg_source(postgis_dsn: str) -> tuple[str, dict[str, str]]:
    """GDAL's PG: data source for the test database and the env carrying its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(postgis_dsn)
    source = (
        f"PG:host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} "
        f"user={parts.username}"
    )
    return source, {"PGPASSWORD": parts.password or ""}


# ----------------------------------------------------------------------------- test data


VectorRow = Mapping[str, Any]


@pytest.fixture
def make_vector(tmp_path: Path) -> Callable[..., Path]:
    """Write features to a vector file with ogr2ogr; returns the file's path.

    ``rows`` are mappings with a ``wkt`` geometry and attribute values. ``crs=None`` writes
    no CRS (a Shapefile without .prj). Curves survive in GeoPackage and GML-like drivers.
    """

    def make(
        name: str,
        rows: Sequence[VectorRow],
        *,
        driver: str = "GPKG",
        crs: str | None = "EPSG:4326",
        layer: str | None = None,
        geometry_type: str | None = None,
        append_to: Path | None = None,
    ) -> Path:
        columns = sorted({key for row in rows for key in row if key != "wkt"})
        if not columns:  # the CSV driver needs a delimiter to recognise a file
            columns = ["row"]
            rows = [{**row, "row": str(index)} for index, row in enumerate(rows)]
        source = tmp_path / f"{uuid.uuid4().hex}.csv"
        lines = [",".join(["wkt", *columns])]
        for row in rows:
            values = [row["wkt"], *(str(row.get(c, "")) for c in columns)]
            lines.append(",".join(json.dumps(v) if "," in v or '"' in v else v for v in values))
        source.write_text("\n".join(lines) + "\n")
        target = append_to or tmp_path / name
        args = ["ogr2ogr", "-f", driver]
        if append_to is not None:
            args.append("-update")
        args += [
            str(target),
            str(source),
            "-oo",
            "GEOM_POSSIBLE_NAMES=wkt",
            "-oo",
            "KEEP_GEOM_COLUMNS=NO",
        ]
        args += ["-nln", layer or Path(name).stem]
        if crs is not None:
            args += ["-a_srs", crs]
        if geometry_type is not None:
            args += ["-nlt", geometry_type]
        subprocess.run(args, check=True, capture_output=True)
        if crs is None and driver == "ESRI Shapefile":
            target.with_suffix(".prj").unlink(missing_ok=True)
        return target

    return make


@pytest.fixture
def make_raster(tmp_path: Path) -> Callable[..., Path]:
    """Create a GeoTIFF with gdal_create: constant bands, optional nodata, CRS and tiling."""

    def make(
        name: str,
        *,
        size: tuple[int, int] = (64, 48),
        bands: int = 1,
        data_type: str = "Byte",
        burn: Sequence[float] = (7,),
        nodata: float | None = None,
        crs: str | None = "EPSG:4326",
        bounds: tuple[float, float, float, float] = (10.0, 50.0, 10.64, 50.48),
        options: Sequence[str] = (),
    ) -> Path:
        target = tmp_path / name
        west, south, east, north = bounds
        args = [
            "gdal_create",
            "-of",
            "GTiff",
            "-outsize",
            str(size[0]),
            str(size[1]),
            "-bands",
            str(bands),
            "-ot",
            data_type,
            "-a_ullr",
            str(west),
            str(north),
            str(east),
            str(south),
        ]
        for value in burn:
            args += ["-burn", str(value)]
        if nodata is not None:
            args += ["-a_nodata", str(nodata)]
        if crs is not None:
            args += ["-a_srs", crs]
        for option in options:
            args += ["-co", option]
        subprocess.run([*args, str(target)], check=True, capture_output=True)
        return target

    return make
