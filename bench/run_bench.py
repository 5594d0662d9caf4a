"""Benchmark the run executor against the raw tools it drives, in one invocation.

For a generated polygon GeoPackage and a generated 3-band Byte GeoTIFF, this script measures
two ways of doing the same work, each in a fresh Python process of its own:

* **raw**: the tools by hand. Vector: the ``ingest_vector_boundary`` intent's ``ogr2ogr`` load
  command and SQL steps as they were before its cheaper ``normalise`` (``REFERENCE_LOAD_ARGS``,
  ``REFERENCE_SQL_STEPS``: a fixed reference, the naive chain), then PostGIS → ADBC
  ``fetch_arrow_table()`` → ``pyarrow.parquet.write_table()``. Raster: ``gdal_translate
  -of COG`` with the ``ingest_satellite_raster`` intent's creation options, on the local file.
* **raw, input on S3** (raster only): the same ``gdal_translate`` reading the landing object
  through ``/vsis3/`` as the executor once did, to show what reading in place would cost
  (moto's server answers every ranged GET in ~0.1 s whatever its length).
* **raw chain with transfers** (raster only): what a person would script: boto3 streams the
  landing object to a file in one GET (``download_file``'s parallel ranged GETs cost moto
  ~0.1 s each), ``gdal_translate -of COG`` converts the local file, boto3's ``upload_file``
  sends the COG to the lake. The executor moves the same bytes, so this is the fair baseline
  for the whole platform; the plain ``raw`` side is ``gdal_translate`` alone.
* **export** (its own case): ``export_geoparquet`` against that raw ADBC export, on a table
  prepared in SQL as ``normalise`` leaves one (``--export-rows``; ``--rss-rows`` adds one run
  per size for peak memory against rows).
* **executor**: the platform: the file is uploaded to the landing bucket of the S3 endpoint,
  a manifest is built, and :func:`spatial_etl.run.executor.execute_run` stages, processes,
  exports and publishes it (mongomock ledger, real PostGIS, real GDAL, real S3 endpoint).

For each it reports wall seconds (``time.perf_counter`` around the child process, Python's
start-up and imports included; "work" seconds leave those out) and peak resident memory:

* the Python process's own peak, ``VmHWM`` read from ``/proc/self/status`` at its end;
* the largest GDAL program it started (ogr2ogr, gdal_translate...), and the peak of the whole
  process tree (the sum of its processes' RSS at one moment), both sampled from ``/proc``
  every 20 ms while the child runs: a spike shorter than that can be missed.

``getrusage``'s ``ru_maxrss`` is recorded in the JSON too but not used: Linux carries a
parent's peak into a child through fork and exec, so a child's ``ru_maxrss`` (and so
``RUSAGE_CHILDREN``) never reads below the RSS its parent had when it started it (a 500 MiB
Python starting ``/bin/true`` reads 510 MiB). The PostgreSQL server and the S3 server are
separate processes and are counted in no figure. Ratios are executor / raw.

This is a measurement, not a test: it asserts nothing about time or memory. It needs the
services the integration tests use (``SPATIAL_ETL_POSTGIS_DSN``, ``SPATIAL_ETL_S3_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``); ``make bench`` starts them, runs this
script and stops them. Usage::

    .venv/bin/python bench/run_bench.py [--polygons 200000] [--raster-size 8000]
        [--repeat 1] [--json out.json] [--markdown] [--cases vector raster export]
        [--export-rows 800000] [--rss-rows 200000 2000000]
"""

# Child processes import only what their side needs, so that each one's peak memory counts
# its own libraries and no others: imports inside functions are deliberate here.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from string import Formatter
from typing import Any, Final, ParamSpec, TypeVar

EXIT_NO_SERVICES: Final = 2
CRS: Final = "EPSG:32633"
LAYER: Final = "parcels"
RAW_TABLE: Final = "input_0"
SEED: Final = 20240611
REQUIRED_ENV: Final = (
    "SPATIAL_ETL_POSTGIS_DSN",
    "SPATIAL_ETL_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
GDAL_PROGRAMS: Final = ("ogr2ogr", "gdal_translate", "gdalinfo")
SAMPLE_INTERVAL_S: Final = 0.02
RASTER_FROM_S3: Final = "raster, raw reads /vsis3/"
EXPORT_CASE: Final = "export"

# The raw vector chain is "today's" ingest_vector_boundary as it was before its normalise got
# cheaper: its ogr2ogr load and SQL, fixed here so that the vector ratio keeps measuring the
# platform against the same naive chain whatever the plugin does now.
REFERENCE_LOAD_ARGS: Final = (
    "-f", "PostgreSQL", "{postgis}", "{src}", "{layer}", "-nln", "{table}",
    "-lco", "SCHEMA={schema}", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID={fid}",
    "-lco", "SPATIAL_INDEX=NONE", "-lco", "PRECISION=NO", "-nlt", "GEOMETRY",
    "-a_srs", "{crs}", "--config", "PG_USE_COPY", "YES",
)  # fmt: skip
REFERENCE_SQL_STEPS: Final = (
    {
        "name": "require_polygons",
        "template": (
            "SELECT {fid}, ST_GeometryType(geom) AS geometry_type FROM {schema}.{table} "
            "WHERE geom IS NOT NULL AND ST_GeometryType(geom) NOT IN "
            "('ST_Polygon', 'ST_MultiPolygon', 'ST_CurvePolygon', 'ST_MultiSurface') "
            "ORDER BY {fid}"
        ),
        "check": True,
    },
    {
        "name": "normalise",
        "template": (
            "ALTER TABLE {schema}.{table} ALTER COLUMN geom TYPE geometry(MultiPolygon, 4326) "
            "USING ST_Transform(ST_Multi(ST_CollectionExtract("
            "ST_MakeValid(ST_Force2D(ST_CurveToLine(geom)), 'method=structure'), 3)), 4326)"
        ),
        "check": False,
    },
)

# The export case's tables: what normalise leaves (etl_fid primary key, 9-vertex MultiPolygons
# in EPSG:4326, the GeoPackage's five attributes), made in SQL by translating one template.
EXPORT_TABLE_SQL: Final = (
    "CREATE TABLE {table} (etl_fid serial PRIMARY KEY, id int, name text, class int, "
    "area_ha float8, surveyed date, geom geometry(MultiPolygon, 4326)); "
    "INSERT INTO {table} (id, name, class, area_ha, surveyed, geom) "
    "SELECT i, 'parcel-' || lpad(i::text, 7, '0'), 1 + i % 12, (i % 997) / 100.0, "
    "DATE '2010-01-01' + i % 3650, ST_Translate('SRID=4326;MULTIPOLYGON(((0 0, 0.0002 0.0001, "
    "0.0004 0, 0.0003 0.0002, 0.0004 0.0004, 0.0002 0.0003, 0 0.0004, 0.0001 0.0002, 0 0)))'"
    "::geometry, 13 + (i % 1000) * 0.0005, 48 + (i / 1000) * 0.0005) "
    "FROM generate_series(1, {rows}) AS i"
)
RASTER_WITH_TRANSFERS: Final = "raster, raw chain with transfers"

P = ParamSpec("P")
R = TypeVar("R")


# ============================================================================ results


@dataclass
class Measurement:
    """One child process: what it did and what it cost."""

    side: str
    case: str
    wall_s: float
    work_s: float
    imports_s: float
    python_peak_mib: float
    python_after_imports_mib: float
    gdal_peak_mib: float
    gdal_peak_program: str
    tree_peak_mib: float
    ru_maxrss_self_mib: float
    ru_maxrss_children_mib: float
    samples: int
    steps: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_mib(self) -> float:
        """The side's peak: the tree's sampled peak, or a larger single process's own HWM."""
        return max(self.tree_peak_mib, self.python_peak_mib, self.gdal_peak_mib)


@dataclass
class SideSummary:
    """Median figures of one side of one case over the repeats."""

    wall_s: float
    work_s: float
    imports_s: float
    peak_mib: float
    tree_peak_mib: float
    python_peak_mib: float
    python_after_imports_mib: float
    gdal_peak_mib: float
    gdal_peak_program: str
    steps: dict[str, float]

    @classmethod
    def of(cls, runs: Sequence[Measurement]) -> SideSummary:
        """Medians of ``runs`` (one side of one case)."""

        def med(get: Callable[[Measurement], float]) -> float:
            return statistics.median(get(m) for m in runs)

        names = dict.fromkeys(name for m in runs for name in m.steps)
        return cls(
            wall_s=med(lambda m: m.wall_s),
            work_s=med(lambda m: m.work_s),
            imports_s=med(lambda m: m.imports_s),
            peak_mib=med(lambda m: m.peak_mib),
            tree_peak_mib=med(lambda m: m.tree_peak_mib),
            python_peak_mib=med(lambda m: m.python_peak_mib),
            python_after_imports_mib=med(lambda m: m.python_after_imports_mib),
            gdal_peak_mib=med(lambda m: m.gdal_peak_mib),
            gdal_peak_program=max(runs, key=lambda m: m.gdal_peak_mib).gdal_peak_program,
            steps={n: statistics.median(m.steps.get(n, 0.0) for m in runs) for n in names},
        )


@dataclass
class CaseSummary:
    """One case, raw and executor side by side; ratios are executor / raw."""

    case: str
    raw: SideSummary
    executor: SideSummary

    @property
    def time_ratio(self) -> float:
        """Wall time, start-up and imports included."""
        return self.executor.wall_s / self.raw.wall_s

    @property
    def work_ratio(self) -> float:
        """Time after the imports."""
        return self.executor.work_s / self.raw.work_s

    @property
    def peak_ratio(self) -> float:
        """Peak memory of the process tree."""
        return self.executor.peak_mib / self.raw.peak_mib

    def as_dict(self) -> dict[str, Any]:
        """For the JSON report."""
        ratios = {"time": self.time_ratio, "work": self.work_ratio, "peak": self.peak_ratio}
        return {**asdict(self), "ratios": ratios}


# ============================================================================ small helpers


def _maxrss_mib(who: int) -> float:
    """``ru_maxrss`` in MiB (Linux reports KiB); inflated by inheritance, see the docstring."""
    return resource.getrusage(who).ru_maxrss / 1024


def _proc_status(pid: int | str) -> tuple[str, int, int] | None:
    """A process's name, ``VmHWM`` and ``VmRSS`` (KiB) from ``/proc``; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    if "VmHWM" not in fields:  # a zombie: no memory any more
        return None
    return (
        fields["Name"].strip(),
        int(fields["VmHWM"].split()[0]),
        int(fields["VmRSS"].split()[0]),
    )


def _own_hwm_mib() -> float:
    status = _proc_status("self")
    return status[1] / 1024 if status else 0.0


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, through ``/proc/<pid>/task/<tid>/children``."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return found


class TreeSampler:
    """Samples the memory of a process tree from ``/proc`` on a thread while it runs.

    Descendants still named like the root are skipped: between fork and exec a child is a copy
    of its Python parent, and counting it would count the parent twice.
    """

    def __init__(self, root: int, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.root = root
        self.interval_s = interval_s
        self.samples = 0
        self.tree_peak_kb = 0
        self.hwm_kb: dict[tuple[int, str], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        root_status = _proc_status(root)
        self._root_name = root_status[0] if root_status else ""

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        """Read every process of the tree once."""
        total = 0
        for pid in _process_tree(self.root):
            status = _proc_status(pid)
            if status is None:
                continue
            name, hwm, rss = status
            if pid != self.root and name == self._root_name:
                continue
            total += rss
            self.hwm_kb[(pid, name)] = max(self.hwm_kb.get((pid, name), 0), hwm)
        self.samples += 1
        self.tree_peak_kb = max(self.tree_peak_kb, total)

    def largest_descendant(self) -> tuple[str, float]:
        """The name and HWM (MiB) of the largest process other than the root."""
        others = [(hwm, name) for (pid, name), hwm in self.hwm_kb.items() if pid != self.root]
        if not others:
            return "-", 0.0
        hwm, name = max(others)
        return name, hwm / 1024


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders by whole name (``{params.x}`` included); KeyError if unknown."""
    parts: list[str] = []
    for literal, name, _spec, _conversion in Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(values[name])
    return "".join(parts)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"bench: {name} not found on PATH (apt-get install gdal-bin)")
    return found


def _run_tool(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
    """Run a command; on failure show its output and stop."""
    done = subprocess.run(
        list(argv), capture_output=True, text=True, env=dict(env) if env else None, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench: {Path(argv[0]).name} exited with status {done.returncode}")


def _pg_source(dsn: str) -> tuple[str, dict[str, str]]:
    """GDAL's ``PG:`` connection string without the password, and the env carrying it."""
    from psycopg2.extensions import parse_dsn

    params = parse_dsn(dsn)
    password = params.pop("password", "")
    keys = ("host", "port", "dbname", "user")
    source = "PG:" + " ".join(f"{key}={params[key]}" for key in keys if params.get(key))
    return source, ({"PGPASSWORD": password} if password else {})


def _gdal_s3_env() -> dict[str, str]:
    """GDAL's own /vsis3/ settings for the S3 endpoint (what the platform sets, by hand)."""
    from urllib.parse import urlsplit

    url = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    return {
        "AWS_S3_ENDPOINT": url.netloc,
        "AWS_HTTPS": "YES" if url.scheme == "https" else "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - started


# ============================================================================ data generation


def make_geopackage(path: Path, count: int) -> None:
    """``count`` star-shaped polygons (5-9 vertices, ~1% self-intersecting) in EPSG:32633.

    Written as CSV with WKT by numpy (seeded, so every run makes the same file), then turned
    into a GeoPackage by ogr2ogr.
    """
    import numpy as np

    rng = np.random.default_rng(SEED)
    side = int(np.ceil(np.sqrt(count)))
    index = np.arange(count)
    cx = 400_000.0 + (index % side) * 100.0 + rng.uniform(-10, 10, count)
    cy = 5_400_000.0 + (index // side) * 100.0 + rng.uniform(-10, 10, count)
    vertices = rng.integers(5, 10, count)
    invalid = rng.random(count) < 0.01
    classes = rng.integers(1, 13, count)
    days = rng.integers(0, 3650, count)
    base = np.datetime64("2010-01-01")
    csv = path.with_suffix(".csv")
    with csv.open("w") as out:
        out.write("id,name,class,area_ha,surveyed,WKT\n")
        for i in range(count):
            n = int(vertices[i])
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            radius = rng.uniform(20, 45, n)
            xs = cx[i] + radius * np.cos(angles)
            ys = cy[i] + radius * np.sin(angles)
            if invalid[i]:  # swap two vertices: a bow-tie that ST_MakeValid must split
                xs[[0, 2]] = xs[[2, 0]]
                ys[[0, 2]] = ys[[2, 0]]
            ring = ", ".join(f"{x:.2f} {y:.2f}" for x, y in zip(xs, ys, strict=True))
            area = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 10_000
            out.write(
                f"{i + 1},parcel-{i + 1:07d},{classes[i]},{area:.4f},{base + days[i]},"
                f'"POLYGON(({ring}, {xs[0]:.2f} {ys[0]:.2f}))"\n'
            )
    csv.with_suffix(".csvt").write_text("Integer,String,Integer,Real,Date,WKT\n")
    _run_tool(
        [
            _tool("ogr2ogr"),
            "-f",
            "GPKG",
            str(path),
            str(csv),
            "-nln",
            LAYER,
            "-nlt",
            "POLYGON",
            "-a_srs",
            CRS,
            "-oo",
            "KEEP_GEOM_COLUMNS=NO",
            "-gt",
            "65536",
        ]
    )
    csv.unlink()
    csv.with_suffix(".csvt").unlink()


def make_geotiff(path: Path, size: int) -> None:
    """A ``size`` x ``size`` x 3 Byte GeoTIFF (striped, uncompressed) in EPSG:32633.

    The pixels are smooth waves plus a little noise, like imagery: constant bands (a plain
    ``gdal_create -burn``) compress to nothing and would understate the COG's cost. numpy writes
    the raw bands with an ENVI header; gdal_translate makes the GeoTIFF.
    """
    import numpy as np

    rng = np.random.default_rng(SEED)
    raw = path.with_suffix(".bsq")
    x = np.arange(size, dtype=np.float32)
    rows_per_chunk = max(1, 8_000_000 // size)
    with raw.open("wb") as out:
        for band in range(3):
            wave_x = np.sin(x / (180.0 + 40 * band)) * 50
            for top in range(0, size, rows_per_chunk):
                y = np.arange(top, min(size, top + rows_per_chunk), dtype=np.float32)[:, None]
                field_ = 120 + wave_x[None, :] * np.cos(y / (250.0 - 30 * band)) + 0.2 * (y % 97)
                field_ += rng.normal(0, 3, field_.shape).astype(np.float32)
                out.write(np.clip(field_, 0, 255).astype(np.uint8).tobytes())
    raw.with_suffix(".hdr").write_text(
        f"ENVI\nsamples = {size}\nlines = {size}\nbands = 3\nheader offset = 0\n"
        "file type = ENVI Standard\ndata type = 1\ninterleave = bsq\nbyte order = 0\n"
    )
    left, top_ = 500_000, 5_600_000
    _run_tool(
        [
            _tool("gdal_translate"),
            "-q",
            "-of",
            "GTiff",
            "-a_srs",
            CRS,
            "-a_ullr",
            str(left),
            str(top_),
            str(left + size * 10),
            str(top_ - size * 10),
            str(raw),
            str(path),
        ]
    )
    raw.unlink()
    raw.with_suffix(".hdr").unlink()


# ============================================================================ child processes


def _child(spec_path: Path) -> None:
    """Entry point of a measured child: run one side of one case, write what it measured."""
    started = time.perf_counter()
    spec: dict[str, Any] = json.loads(spec_path.read_text())
    side: str = spec["side"]
    case: str = spec["case"]
    if side == "raw" and case == "vector":
        work = _raw_vector_importing()
    elif case.startswith(EXPORT_CASE):
        work = _raw_export_importing() if side == "raw" else _exporter_importing()
    elif side in {"raw", "raw_s3", "raw_xfer"} and case == "raster":
        work = _raw_raster_importing()
    else:
        work = _executor_importing()
    after_imports = _own_hwm_mib()
    profiler = cProfile.Profile() if spec.get("profile") else None
    imported = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    steps, facts = work(spec)
    done = time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(Path(spec["profile"]) / f"{side}-{case}-{spec['rep']}.prof")
    result = {
        "work_s": done - imported,
        "imports_s": imported - started,
        "python_peak_mib": _own_hwm_mib(),
        "python_after_imports_mib": after_imports,
        "ru_maxrss_self_mib": _maxrss_mib(resource.RUSAGE_SELF),
        "ru_maxrss_children_mib": _maxrss_mib(resource.RUSAGE_CHILDREN),
        "steps": steps,
        "facts": facts,
    }
    Path(spec["result"]).write_text(json.dumps(result))


Work = Callable[[dict[str, Any]], tuple[dict[str, float], dict[str, Any]]]


# ---------------------------------------------------------------------------- raw vector


def _raw_vector_importing() -> Work:
    # Imported before the clock starts, like the executor's: _raw_export uses them.
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import psycopg2
    import pyarrow.parquet  # noqa: F401
    from psycopg2 import sql

    def work(spec: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
        dsn: str = os.environ["SPATIAL_ETL_POSTGIS_DSN"]
        schema: str = spec["schema"]
        steps: dict[str, float] = {}
        source, pg_env = _pg_source(dsn)
        values = {
            "postgis": source,
            "src": spec["gpkg"],
            "layer": LAYER,
            "table": RAW_TABLE,
            "schema": schema,
            "crs": CRS,
            "fid": "etl_fid",  # the core's FID_COLUMN; the raw side imports nothing of the core
        }
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            with _timed(steps, "load (ogr2ogr)"):
                argv = [spec["ogr2ogr"], *(_fill(arg, values) for arg in spec["load_args"])]
                _run_tool(argv, env={**os.environ, **pg_env})
            identifiers = {
                "schema": sql.Identifier(schema),
                "table": sql.Identifier(RAW_TABLE),
                "fid": sql.Identifier(values["fid"]),
            }
            for step in spec["sql_steps"]:
                with _timed(steps, f"sql: {step['name']}"), conn.cursor() as cur:
                    cur.execute(sql.SQL(step["template"]).format(**identifiers))
                    if step["check"] and cur.fetchmany(20):
                        raise SystemExit(f"bench: check {step['name']} found offending rows")
            with _timed(steps, "export (ADBC table + write_table)"):
                rows = _raw_export(conn, dsn, schema, RAW_TABLE, Path(spec["out"]))
        finally:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
            conn.close()
        return steps, {"rows": rows, "output_bytes": Path(spec["out"]).stat().st_size}

    return work


def _raw_export(conn: Any, dsn: str, schema: str, table: str, out: Path) -> int:
    """The fastest raw export measured: ADBC ``fetch_arrow_table()`` → ``write_table()``.

    The same columns as the exporter's file (attributes, WKB, bbox struct, a ``geo`` key), but
    no row order, no type or SRID checks, and the whole table in memory at once.
    """
    import adbc_driver_postgresql.dbapi
    import pyarrow as pa
    import pyarrow.parquet as pq
    from psycopg2 import sql

    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s "
            "AND column_name NOT IN ('geom', 'etl_fid') ORDER BY ordinal_position",
            (schema, table),
        )
        attributes = [row[0] for row in cur.fetchall()]
        query = (
            sql.SQL(
                "SELECT {}, ST_AsBinary(geom) AS geometry, ST_XMin(geom) AS xmin, "
                "ST_YMin(geom) AS ymin, ST_XMax(geom) AS xmax, ST_YMax(geom) AS ymax "
                "FROM {}.{}"
            )
            .format(
                sql.SQL(", ").join(map(sql.Identifier, attributes)),
                sql.Identifier(schema),
                sql.Identifier(table),
            )
            .as_string(conn)
        )
    with adbc_driver_postgresql.dbapi.connect(dsn) as adbc, adbc.cursor() as cursor:
        cursor.execute(query)
        arrow = cursor.fetch_arrow_table()
    keys = ["xmin", "ymin", "xmax", "ymax"]
    bbox = pa.StructArray.from_arrays([arrow[k].combine_chunks() for k in keys], keys)
    arrow = arrow.drop_columns(keys).append_column("bbox", bbox)
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {}}
    geo["columns"] = {"geometry": {"encoding": "WKB", "geometry_types": []}}
    arrow = arrow.replace_schema_metadata({"geo": json.dumps(geo)})
    rows: int = arrow.num_rows
    pq.write_table(arrow, out, compression="zstd")
    return rows


# ---------------------------------------------------------------------------- export alone


def _raw_export_importing() -> Work:
    # Imported before the clock starts: _raw_export uses them.
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import psycopg2
    import pyarrow.parquet  # noqa: F401

    def work(spec: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
        dsn: str = os.environ["SPATIAL_ETL_POSTGIS_DSN"]
        steps: dict[str, float] = {}
        with closing(psycopg2.connect(dsn)) as conn:
            conn.autocommit = True
            with _timed(steps, "export (ADBC table + write_table)"):
                rows = _raw_export(conn, dsn, spec["schema"], spec["table"], Path(spec["out"]))
        return steps, {"rows": rows, "output_bytes": Path(spec["out"]).stat().st_size}

    return work


def _exporter_importing() -> Work:
    from spatial_etl.export.geoparquet import export_geoparquet

    def work(spec: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
        dsn: str = os.environ["SPATIAL_ETL_POSTGIS_DSN"]
        steps: dict[str, float] = {}
        with _timed(steps, "export_geoparquet"):
            result = export_geoparquet(dsn, spec["schema"], spec["table"], Path(spec["out"]))
        return steps, {"rows": result.rows, "output_bytes": result.size}

    return work


# ---------------------------------------------------------------------------- raw raster


def _raw_raster_importing() -> Work:
    def work(spec: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
        steps: dict[str, float] = {}
        transfers = spec.get("transfers")
        client = None
        if transfers is not None:  # the raw chain with transfers: boto3 on both ends
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
                region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            )
            with _timed(steps, "s3: download (boto3 get_object, one stream)"):
                body = client.get_object(Bucket=transfers["bucket"], Key=transfers["key"])["Body"]
                with Path(spec["src"]).open("wb") as sink:
                    shutil.copyfileobj(body, sink, 8 << 20)
        argv = [spec["gdal_translate"], "-q", "-of", "COG"]
        for key, value in spec["creation_options"].items():
            argv += ["-co", f"{key}={value}"]
        with _timed(steps, "gdal_translate -of COG"):
            _run_tool([*argv, spec["src"], spec["out"]], env={**os.environ, **spec["env"]})
        if client is not None and transfers is not None:
            with _timed(steps, "s3: upload (boto3 upload_file)"):
                client.upload_file(spec["out"], transfers["lake"], transfers["out_key"])
            Path(spec["src"]).unlink()
        return steps, {"output_bytes": Path(spec["out"]).stat().st_size}

    return work


# ---------------------------------------------------------------------------- executor


def _executor_importing() -> Work:
    import logging

    import mongomock
    from pydantic import SecretStr
    from spatial_etl.backends.compute import PostgisCompute
    from spatial_etl.backends.ledger import Ledger, ensure_indexes
    from spatial_etl.backends.storage import ObjectStore, StoredObject
    from spatial_etl.models import Manifest
    from spatial_etl.plugins.loading import load_plugins
    from spatial_etl.run.executor import Platform, execute_run
    from spatial_etl.settings import PluginSettings, PostgisSettings, StorageSettings
    from spatial_etl.spatial_utils.runner import CommandResult, SubprocessGdalRunner

    logging.basicConfig(level=logging.WARNING, format="executor: %(name)s: %(message)s")
    detail: dict[str, float] = {}

    def timed(name: str, function: Callable[P, R]) -> Callable[P, R]:
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with _timed(detail, name):
                return function(*args, **kwargs)

        return wrapper

    class TimedRunner(SubprocessGdalRunner):
        """Adds each GDAL program's duration to the breakdown."""

        def run(
            self,
            argv: Sequence[str],
            *,
            timeout_s: float | None = None,
            env: Mapping[str, str] | None = None,
            check: bool = True,
        ) -> CommandResult:
            with _timed(detail, f"gdal: {argv[0]}"):
                return super().run(argv, timeout_s=timeout_s, env=env, check=check)

    class TimedCompute(PostgisCompute):
        """Adds each SQL statement's duration to the breakdown, by step name."""

        def _run(
            self, statement: Any, *, step: str, fetch: bool, limit: int = 1000
        ) -> list[tuple[Any, ...]]:
            with _timed(detail, f"sql: {step}"):
                return super()._run(statement, step=step, fetch=fetch, limit=limit)

    class TimedStore(ObjectStore):
        """Adds the object store's transfers to the breakdown."""

        def download(
            self, bucket: str, key: str, dest: Path, *, durable: bool = False
        ) -> StoredObject:
            with _timed(detail, "s3: download input (hashing)"):
                return super().download(bucket, key, dest, durable=durable)

        def sha256(self, bucket: str, key: str) -> str:
            with _timed(detail, "s3: hash input in place"):
                return super().sha256(bucket, key)

        def put_file(
            self,
            bucket: str,
            key: str,
            path: Path,
            *,
            metadata: Mapping[str, str],
            content_type: str | None = None,
            progress: Callable[[int], None] | None = None,
            digest: Any = None,
        ) -> StoredObject:
            name = "s3: put_file output (upload)" if digest else "s3: put_file (hash + upload)"
            with _timed(detail, name):
                return super().put_file(
                    bucket,
                    key,
                    path,
                    metadata=metadata,
                    content_type=content_type,
                    progress=progress,
                    digest=digest,
                )

    from spatial_etl.backends import storage as storage_module
    from spatial_etl.export import geoparquet
    from spatial_etl.run import publishing

    # products.py imports export_geoparquet when a vector run exports: time it at its source;
    # publishing hashes the product by its module-level name: time it there.
    export = timed("export_geoparquet", geoparquet.export_geoparquet)
    setattr(geoparquet, "export_geoparquet", export)  # noqa: B010
    setattr(publishing, "hash_file", timed("hash output", storage_module.hash_file))  # noqa: B010

    def work(spec: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
        storage = StorageSettings(
            s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
            s3_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            s3_secret_access_key=SecretStr(os.environ["AWS_SECRET_ACCESS_KEY"]),
            landing_bucket=spec["landing_bucket"],
            lake_bucket=spec["lake_bucket"],
        )
        db: Any = mongomock.MongoClient(tz_aware=True)["ledger"]
        ensure_indexes(db)
        compute = TimedCompute(
            PostgisSettings(postgis_dsn=SecretStr(os.environ["SPATIAL_ETL_POSTGIS_DSN"]))
        )
        workdir = Path(spec["workdir"])
        workdir.mkdir(parents=True, exist_ok=True)
        platform_ = Platform(
            store=TimedStore.from_settings(storage),
            ledger=Ledger(db),
            runner=TimedRunner(timeout_s=3600),
            catalog=load_plugins(PluginSettings(plugins=None, block_plugins=frozenset())),
            compute=compute,
            workdir=workdir,
        )
        manifest = Manifest.model_validate(
            spec["manifest"], context={"manifest_name": spec["manifest"]["batch_id"] + ".json"}
        )
        try:
            report = execute_run(spec["run_id"], manifest, platform_)
        finally:
            compute.close()
        if report.status != "succeeded":
            raise SystemExit(f"bench: the executor's run failed: {report.error}")
        [output] = report.outputs
        steps = {f"stage: {name}": seconds for name, seconds in report.timings.items()}
        steps.update(detail)
        facts = {"s3_key": output.s3_key, "rows": output.feature_count, "sha256": output.sha256}
        return steps, facts

    return work


def _export_rows(case: str) -> int:
    """``"export 800,000 rows"`` → 800000."""
    return int(case.split()[1].replace(",", ""))


# ============================================================================ the parent


class Bench:
    """Data, buckets and schemas of one invocation, and the children it measures."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        from pydantic import SecretStr
        from spatial_etl.backends.storage import ObjectStore
        from spatial_etl.settings import StorageSettings

        self.args = args
        self.tmp = tmp
        self.token = uuid.uuid4().hex[:8]
        self.dsn = os.environ["SPATIAL_ETL_POSTGIS_DSN"]
        self.landing = f"bench-landing-{self.token}"
        self.lake = f"bench-lake-{self.token}"
        self.raw_schemas: list[str] = []
        self.export_schema = f"bench_export_{self.token}"
        self.store = ObjectStore.from_settings(
            StorageSettings(
                s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
                s3_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                s3_secret_access_key=SecretStr(os.environ["AWS_SECRET_ACCESS_KEY"]),
                landing_bucket=self.landing,
                lake_bucket=self.lake,
            )
        )
        self.gpkg = tmp / f"{LAYER}.gpkg"
        self.tif = tmp / "scene.tif"
        self.measurements: list[Measurement] = []
        self.sizes: dict[str, int] = {}
        self.generation_s: dict[str, float] = {}

    # ------------------------------------------------------------------------ setup

    def prepare(self) -> None:
        """Generate both inputs and upload them to the landing bucket."""
        self.store.ensure_bucket(self.landing)
        self.store.ensure_bucket(self.lake)
        makers = {"vector": (self.gpkg, make_geopackage), "raster": (self.tif, make_geotiff)}
        if EXPORT_CASE in self.args.cases:
            self._make_export_tables()
        for case in (c for c in self.args.cases if c in makers):
            path, make = makers[case]
            size = self.args.polygons if case == "vector" else self.args.raster_size
            _say(f"generating the {case} input ...")
            started = time.perf_counter()
            make(path, size)
            self.generation_s[case] = time.perf_counter() - started
            self.sizes[case] = path.stat().st_size
            self.store.put_file(self.landing, f"{self._batch(case)}/{path.name}", path, metadata={})
            _say(
                f"{case} input: {path.name}, {self.sizes[case] / 2**20:.1f} MiB, "
                f"made in {self.generation_s[case]:.1f} s, uploaded"
            )

    def _make_export_tables(self) -> None:
        """One table per size of the export case, as normalise leaves it, then VACUUMed."""
        import psycopg2
        from psycopg2 import sql

        self.raw_schemas.append(self.export_schema)
        with closing(psycopg2.connect(self.dsn)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.export_schema)))
                for rows in self._export_sizes():
                    _say(f"generating the export table of {rows:,} rows ...")
                    table = sql.Identifier(self.export_schema, f"rows_{rows}")
                    cur.execute(
                        sql.SQL(EXPORT_TABLE_SQL).format(table=table, rows=sql.Literal(rows))
                    )
                    cur.execute(sql.SQL("VACUUM {}").format(table))  # hint bits set once

    def _export_sizes(self) -> list[int]:
        return sorted({self.args.export_rows, *self.args.rss_rows})

    def _batch(self, case: str) -> str:
        return f"bench-{case}-{self.token}"

    def _vsis3(self, case: str, name: str) -> str:
        return f"/vsis3/{self.landing}/{self._batch(case)}/{name}"

    # ------------------------------------------------------------------------ specs

    def _raw_spec(self, side: str, case: str, rep: int) -> dict[str, Any]:
        if case == "raster":
            from spatial_etl import ExportStep
            from spatial_etl_satellite_raster import INTENT, RasterParameters

            [export] = [s for s in INTENT.steps if isinstance(s, ExportStep)]
            defaults = RasterParameters().model_dump(mode="json")
            params = {f"params.{k}": str(v) for k, v in defaults.items() if v is not None}
            options = {k: _fill(v, params) for k, v in export.creation_options.items()}
            return {
                "gdal_translate": _tool("gdal_translate"),
                "creation_options": options,
                "src": {
                    "raw": str(self.tif),
                    "raw_s3": self._vsis3(case, self.tif.name),
                    "raw_xfer": str(self.tmp / f"raw-{rep}-input.tif"),
                }[side],
                "env": _gdal_s3_env() if side == "raw_s3" else {},
                "out": str(self.tmp / f"raw-{rep}.tif"),
                "transfers": {
                    "bucket": self.landing,
                    "key": f"{self._batch(case)}/{self.tif.name}",
                    "lake": self.lake,
                    "out_key": f"raw-{self.token}-{rep}.tif",
                }
                if side == "raw_xfer"
                else None,
            }
        if case.startswith(EXPORT_CASE):
            return self._export_spec(case, rep)
        schema = f"bench_raw_{self.token}_{rep}"
        self.raw_schemas.append(schema)
        return {
            "ogr2ogr": _tool("ogr2ogr"),
            "load_args": list(REFERENCE_LOAD_ARGS),
            "sql_steps": list(REFERENCE_SQL_STEPS),
            "schema": schema,
            "gpkg": str(self.gpkg),
            "out": str(self.tmp / f"raw-{rep}.parquet"),
        }

    def _export_spec(self, case: str, rep: int) -> dict[str, Any]:
        return {
            "schema": self.export_schema,
            "table": f"rows_{_export_rows(case)}",
            "out": str(self.tmp / f"raw-{rep}.parquet"),
        }

    def _executor_spec(self, case: str, rep: int) -> dict[str, Any]:
        if case.startswith(EXPORT_CASE):
            return self._export_spec(case, rep)
        batch = self._batch(case)
        name = self.gpkg.name if case == "vector" else self.tif.name
        kind = {"vector": "vector", "raster": "raster"}[case]
        file_format = "GPKG" if case == "vector" else "GTiff"
        intent = "ingest_vector_boundary" if case == "vector" else "ingest_satellite_raster"
        return {
            "landing_bucket": self.landing,
            "lake_bucket": self.lake,
            "run_id": f"bench-{self.token}-{case}-{rep}",
            "workdir": str(self.tmp / "executor"),
            "manifest": {
                "batch_id": batch,
                "uploader": "bench",
                "intent": intent,
                "files": [
                    {
                        "path": f"s3://landing-zone/{batch}/{name}",
                        "type": kind,
                        "format": file_format,
                        "crs": CRS,
                    }
                ],
                "metadata": {"project": "BENCH", "description": f"benchmark {case} input"},
            },
        }

    # ------------------------------------------------------------------------ measuring

    def measure(self, side: str, case: str, rep: int) -> Measurement:
        """Run one side of one case in a fresh Python process and collect its figures."""
        spec = (
            self._executor_spec(case, rep)
            if side == "executor"
            else self._raw_spec(side, case, rep)
        )
        result = self.tmp / f"result-{side}-{case}-{rep}.json"
        profile = self.args.profile
        spec.update(side=side, case=case, rep=rep, result=str(result))
        spec.update(profile=str(profile.resolve()) if profile is not None else None)
        spec_path = self.tmp / f"spec-{side}-{case}-{rep}.json"
        spec_path.write_text(json.dumps(spec))
        _say(f"run {rep + 1}/{self.args.repeat}: {case}, {side} ...")
        log = self.tmp / f"log-{side}-{case}-{rep}.txt"
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)]
        with log.open("w") as sink:
            started = time.perf_counter()
            with (
                subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT) as child,
                TreeSampler(child.pid) as sampler,
            ):
                try:
                    returncode = child.wait(timeout=self.args.timeout)
                except subprocess.TimeoutExpired:
                    child.kill()
                    raise SystemExit(f"bench: {side} {case} ran over --timeout") from None
            wall = time.perf_counter() - started
        if returncode != 0 or not result.exists():
            sys.stderr.write(log.read_text())
            raise SystemExit(f"bench: {side} {case} failed (exit status {returncode})")
        data = json.loads(result.read_text())
        program, gdal_peak = sampler.largest_descendant()
        measurement = Measurement(
            side=side,
            case=case,
            wall_s=wall,
            work_s=data["work_s"],
            imports_s=data["imports_s"],
            python_peak_mib=data["python_peak_mib"],
            python_after_imports_mib=data["python_after_imports_mib"],
            gdal_peak_mib=gdal_peak,
            gdal_peak_program=program,
            tree_peak_mib=sampler.tree_peak_kb / 1024,
            ru_maxrss_self_mib=data["ru_maxrss_self_mib"],
            ru_maxrss_children_mib=data["ru_maxrss_children_mib"],
            samples=sampler.samples,
            steps=data["steps"],
            facts=data["facts"],
        )
        self._check(measurement)
        self._clear_outputs(side, rep)
        _say(f"  {wall:.1f} s, peak {measurement.peak_mib:.0f} MiB")
        self.measurements.append(measurement)
        return measurement

    def _check(self, m: Measurement) -> None:
        """Both sides must have done the whole job: all features, one output."""
        if m.case.startswith(EXPORT_CASE) and m.facts.get("rows") != _export_rows(m.case):
            raise SystemExit(f"bench: {m.side} {m.case} wrote {m.facts.get('rows')} rows")
        if m.case == "vector" and m.facts.get("rows") != self.args.polygons:
            raise SystemExit(
                f"bench: {m.side} vector wrote {m.facts.get('rows')} rows, "
                f"expected {self.args.polygons}"
            )

    def _clear_outputs(self, side: str, rep: int) -> None:
        """Keep neither the lake's objects nor local outputs between runs."""
        if side in {"executor", "raw_xfer"}:
            for obj in list(self.store.iter_objects(self.lake)):
                self.store.delete(self.lake, obj.key)
        for path in self.tmp.glob(f"raw-{rep}.*"):
            path.unlink()

    def run(self) -> list[CaseSummary]:
        """Alternate raw and executor runs (order flipped every repeat); summarise medians."""
        cases = [c for c in ("vector", "raster") if c in self.args.cases]
        if EXPORT_CASE in self.args.cases:
            cases.append(f"{EXPORT_CASE} {self.args.export_rows:,} rows")
        for rep in range(self.args.repeat):
            for case in cases:
                sides = (
                    ["raw", "raw_s3", "raw_xfer", "executor"]
                    if case == "raster"
                    else ["raw", "executor"]
                )
                if self.args.skip_vsis3:
                    sides = [side for side in sides if side != "raw_s3"]
                for side in sides if rep % 2 == 0 else reversed(sides):
                    self.measure(side, case, rep)
        summaries = [self._summary(case, "raw", case) for case in cases]
        if EXPORT_CASE in self.args.cases:  # peak memory by size: one run each is enough
            for rows in self._export_sizes():
                case = f"{EXPORT_CASE} {rows:,} rows"
                if case not in cases:
                    for side in ("raw", "executor"):
                        self.measure(side, case, 0)
                    summaries.append(self._summary(case, "raw", case))
        if "raster" in cases:
            summaries.append(self._summary("raster", "raw_xfer", RASTER_WITH_TRANSFERS))
            if not self.args.skip_vsis3:
                summaries.append(self._summary("raster", "raw_s3", RASTER_FROM_S3))
        return summaries

    def _summary(self, case: str, baseline: str, label: str) -> CaseSummary:
        def side(name: str) -> SideSummary:
            runs = [m for m in self.measurements if (m.case, m.side) == (case, name)]
            return SideSummary.of(runs)

        return CaseSummary(case=label, raw=side(baseline), executor=side("executor"))

    # ------------------------------------------------------------------------ cleanup

    def cleanup(self) -> None:
        """Drop the schemas, empty and remove the buckets; every step tolerates absence."""
        import psycopg2
        from botocore.exceptions import BotoCoreError, ClientError
        from psycopg2 import sql
        from pydantic import SecretStr
        from spatial_etl.backends.compute import PostgisCompute
        from spatial_etl.errors import SpatialEtlError
        from spatial_etl.settings import PostgisSettings

        with suppress(psycopg2.Error), closing(psycopg2.connect(self.dsn)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                for schema in self.raw_schemas:
                    drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                    cur.execute(drop.format(sql.Identifier(schema)))
        compute = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(self.dsn)))
        with suppress(SpatialEtlError):
            compute.drop_orphans(lambda run_id: not run_id.startswith(f"bench-{self.token}-"))
        compute.close()
        for bucket in (self.landing, self.lake):
            with suppress(SpatialEtlError):
                for obj in list(self.store.iter_objects(bucket)):
                    self.store.delete(bucket, obj.key)
            with suppress(BotoCoreError, ClientError):  # best effort: it may not exist
                self.store.client.delete_bucket(Bucket=bucket)


# ============================================================================ reporting


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _ratio(value: float) -> str:
    return f"{value:.2f}x"


def _tables(summaries: Sequence[CaseSummary]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report as (title, header, rows) tables, for rich and for Markdown alike."""
    main = [
        [
            s.case,
            f"{s.raw.wall_s:.1f}",
            f"{s.executor.wall_s:.1f}",
            _ratio(s.time_ratio),
            f"{s.raw.work_s:.1f}",
            f"{s.executor.work_s:.1f}",
            _ratio(s.work_ratio),
            f"{s.raw.peak_mib:.0f}",
            f"{s.executor.peak_mib:.0f}",
            _ratio(s.peak_ratio),
        ]
        for s in summaries
    ]
    detail = [
        [
            s.case,
            name,
            f"{side.imports_s:.1f}",
            f"{side.python_after_imports_mib:.0f}",
            f"{side.python_peak_mib:.0f}",
            f"{side.gdal_peak_mib:.0f} ({side.gdal_peak_program})",
            f"{side.tree_peak_mib:.0f}",
        ]
        for s in summaries
        for name, side in (("raw", s.raw), ("executor", s.executor))
    ]
    stages = [
        [s.case, name, step, f"{seconds:.2f}"]
        for s in summaries
        for name, side in (("raw", s.raw), ("executor", s.executor))
        if not (s.case in {RASTER_FROM_S3, RASTER_WITH_TRANSFERS} and name == "executor")
        for step, seconds in side.steps.items()
    ]
    header = ["case", "raw s", "executor s", "ratio", "raw work s", "executor work s", "ratio"]
    header += ["raw peak MiB", "executor peak MiB", "ratio"]
    return [
        ("Executor vs raw tools (medians; ratio = executor / raw)", header, main),
        (
            "Memory by process (MiB; peaks are high-water marks)",
            [
                "case",
                "side",
                "imports s",
                "Python after imports",
                "Python peak",
                "largest GDAL program",
                "process tree peak",
            ],
            detail,
        ),
        (
            "Steps (s): executor 'stage:' rows are RunReport.timings, the others nest in them",
            ["case", "side", "step", "s"],
            stages,
        ),
    ]


def _print_rich(tables: Sequence[tuple[str, list[str], list[list[str]]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # a pipe or a file: do not squeeze the tables into 80 columns
        console = Console(width=140)
    for title, header, rows in tables:
        table = Table(title=title, title_justify="left")
        for name in header:
            table.add_column(name, justify="left" if name in {"case", "side", "step"} else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _markdown(tables: Sequence[tuple[str, list[str], list[list[str]]]]) -> str:
    lines: list[str] = []
    for title, header, rows in tables:
        lines += [f"**{title}**", "", "| " + " | ".join(header) + " |"]
        lines.append("| " + " | ".join("---" for _ in header) + " |")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    gdal = subprocess.run(
        [_tool("gdalinfo"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "gdal": gdal,
    }


# ============================================================================ main


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Executor vs raw GDAL/PostGIS tools: time and peak memory, as ratios.",
    )
    parser.add_argument("--polygons", type=int, default=200_000, help="polygons in the GeoPackage")
    parser.add_argument("--raster-size", type=int, default=8000, help="raster width = height")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; medians shown")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=("vector", "raster", EXPORT_CASE),
        default=["vector", "raster", EXPORT_CASE],
    )
    parser.add_argument(
        "--export-rows", type=int, default=800_000, help="rows of the export case's ratio"
    )
    parser.add_argument(
        "--rss-rows",
        type=int,
        nargs="*",
        default=[200_000, 2_000_000],
        help="further export sizes, run once each, for peak memory against rows",
    )
    parser.add_argument("--workdir", type=Path, help="where temporary files go (default: TMPDIR)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a cProfile of each child's work to this existing directory "
        "(<side>-<case>-<rep>.prof; the profiler slows Python, so figures are then not comparable)",
    )
    parser.add_argument(
        "--skip-vsis3", action="store_true", help="leave out the raster side reading /vsis3/"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.polygons < 1 or args.raster_size < 64 or args.repeat < 1:
        parser.error("--polygons >= 1, --raster-size >= 64 and --repeat >= 1 are required")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = _parse(argv)
    if args.child is not None:
        _child(args.child)
        return 0
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        print(
            f"bench: {', '.join(missing)} not set: this benchmark needs PostGIS and an S3 "
            "endpoint; run `make bench`, which starts them",
            file=sys.stderr,
        )
        return EXIT_NO_SERVICES
    for program in GDAL_PROGRAMS:
        _tool(program)
    tmp = Path(tempfile.mkdtemp(prefix="spatial-etl-bench-", dir=args.workdir))
    bench = Bench(args, tmp)
    try:
        bench.prepare()
        summaries = bench.run()
    finally:
        bench.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    tables = _tables(summaries)
    _print_rich(tables)
    if args.markdown:
        print(_markdown(tables))
    if args.json is not None:
        report = {
            "machine": _machine(),
            "parameters": {
                "polygons": args.polygons,
                "raster_size": args.raster_size,
                "repeat": args.repeat,
            },
            "inputs": {
                case: {"bytes": bench.sizes[case], "generation_s": bench.generation_s[case]}
                for case in bench.sizes
            },
            "summary": [s.as_dict() for s in summaries],
            "runs": [{**asdict(m), "peak_mib": m.peak_mib} for m in bench.measurements],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
