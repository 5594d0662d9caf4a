"""Turn one staged input into a local product file by running its plan.

Vector: the plan's GDAL steps load the input into the run's PostGIS schema, its SQL steps
transform it there, then the table is streamed out as GeoParquet; the feature count must
survive. Raster: the plan's GDAL steps build a (usually virtual) chain, and the export writes
and validates a COG. Every failure is raised as :class:`StepError` naming the step and file,
except the quicklook's: a product gets a PNG preview when one can be drawn, and goes without
(a warning) when drawing it fails (:func:`with_quicklook`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS, Transformer

from spatial_etl.backends.compute import PostgisCompute, RunSchema
from spatial_etl.backends.storage import FileDigest, hash_file
from spatial_etl.errors import GdalError, QuicklookError, SpatialEtlError, StepError
from spatial_etl.export.cog import write_cog
from spatial_etl.export.quicklook import raster_quicklook, vector_quicklook
from spatial_etl.models.crs import describe_crs
from spatial_etl.models.drivers import open_drivers
from spatial_etl.models.ledger import ColumnInfo, RasterFacts
from spatial_etl.models.placeholders import FID_COLUMN
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.run.inputs import InputInspection
from spatial_etl.run.plans import Plan
from spatial_etl.run.step_events import timed_step
from spatial_etl.spatial_utils.runner import GdalRunner
from spatial_etl.steps.export import ExportFormat, PlannedExport
from spatial_etl.steps.kind import StepContext

_MISSING_SAMPLE = 20

logger = logging.getLogger(__name__)


class Product(BaseModel):
    """A file ready to publish, and the facts the ledger records about it."""

    model_config = ConfigDict(frozen=True)

    path: Path
    format: ExportFormat
    crs: str
    bbox_wgs84: tuple[float, float, float, float] | None
    feature_count: int | None = None
    raster: RasterFacts | None = None
    columns: tuple[ColumnInfo, ...] = ()
    steps: tuple[str, ...]
    part: str | None = Field(
        default=None,
        description="What tells this product apart from the others made from the same input "
        "(a layer, a partition value): appended to the dataset name as '_<part>'.",
    )
    quicklook: Path | None = Field(
        default=None,
        description="A PNG preview beside the product (longest side at most 512 px), for the "
        "publisher to upload and link; None when none could be made (an empty layer, a failure "
        "logged as a warning).",
    )
    digest: FileDigest | None = Field(
        default=None,
        description="The file's SHA-256 with the size and time it had, when the pipeline "
        "hashed it while the quicklook was drawn; None: publishing hashes it. Either way the "
        "upload is refused if the file changed since.",
    )


def run_vector_plan(
    plan: Plan,
    inspection: InputInspection,
    *,
    runner: GdalRunner,
    compute: PostgisCompute,
    schema: RunSchema,
    out: Path,
) -> list[Product]:
    """Load, transform and export one vector input inside the run's schema.

    One product, or one per value of the export's ``partition`` column when it holds several
    (each exported from a view of its rows, so nothing is copied).
    """
    source = plan.input.file.path
    removed = run_steps(plan, runner, compute, source)
    table = plan.export.source
    expected = inspection.layer.feature_count if inspection.layer else None
    if expected is not None:
        _check_count(compute, schema.name, table, expected - sum(removed.values()), source)
    lineage = _lineage(plan, removed)
    partition = plan.export.partition
    geometry = plan.export.geometry_column
    drawn = _Drawing(runner, compute, schema.name, geometry)
    if partition is None:
        make = partial(_export, plan, compute, schema.name, table, out, source, lineage)
        return [drawn.export(make, table, out)]
    values = _partition_values(
        compute, schema.name, table, partition, step=plan.export.step, source=source
    )
    if len(values) == 1:
        make = partial(_export, plan, compute, schema.name, table, out, source, lineage, partition)
        return [drawn.export(make, table, out)]
    products: list[Product] = []
    for number, value in enumerate(values):
        view = f"{table}_part_{number}"
        compute.execute(
            sql.SQL("CREATE VIEW {} AS SELECT * FROM {} WHERE {} = {}").format(
                sql.Identifier(schema.name, view),
                sql.Identifier(schema.name, table),
                sql.Identifier(partition),
                sql.Literal(value),
            ),
            step=plan.export.step,
        )
        target = out.with_name(f"{out.stem}_part_{number}{out.suffix}")
        make = partial(
            _export, plan, compute, schema.name, view, target, source, lineage, partition
        )
        product = drawn.export(make, view, target)
        products.append(product.model_copy(update={"part": value}))
    return products


class _Drawing:
    """Draws a table's quicklook while the table is exported: both only read it.

    The drawing is GDAL (a child process) and the export streams in this process, so on two
    cores they overlap instead of adding up. The drawing thread is always joined before
    :meth:`export` returns or raises, so it never outlives the run's schema.
    """

    def __init__(
        self, runner: GdalRunner, compute: PostgisCompute, schema: str, geometry_column: str
    ) -> None:
        self.runner, self.compute = runner, compute
        self.schema, self.geometry_column = schema, geometry_column

    def export(self, make: Callable[[], Product], table: str, target: Path) -> Product:
        """``make()`` (the export to ``target``), with the quicklook of ``table`` beside it."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quicklook") as pool:
            drawing = pool.submit(
                vector_quicklook,
                self.runner,
                self.compute,
                self.schema,
                table,
                target.with_suffix(".png"),
                geometry_column=self.geometry_column,
            )
            product = make()  # on an error, leaving the block still waits for the drawing
        return with_quicklook(product, drawing.result)


def with_quicklook(product: Product, make: Callable[[], Path | None]) -> Product:
    """``product`` with the quicklook ``make`` draws, or without one if drawing it failed.

    A quicklook is derived and optional, so a GDAL or drawing failure is logged as a warning
    and never fails the run; an outage (``ServiceUnavailableError``, a lost connection) and
    anything that is no platform error propagate, as they would from any other stage.
    """
    try:
        path = make()
    except (QuicklookError, GdalError) as error:
        logger.warning("no quicklook for %s: %s", product.path.name, error)
        return product
    return product.model_copy(update={"quicklook": path})


def _partition_values(
    compute: PostgisCompute, schema: str, table: str, column: str, *, step: str, source: str
) -> list[str]:
    rows = compute.fetch(
        sql.SQL("SELECT DISTINCT {}::text FROM {} ORDER BY 1").format(
            sql.Identifier(column), sql.Identifier(schema, table)
        ),
        step=step,
    )
    values = [value for (value,) in rows]
    if None in values:
        raise StepError(step, source, f"the partition column {column!r} holds NULL values")
    return values


def _export(  # noqa: PLR0917 - private; one call shape, named at each call
    plan: Plan,
    compute: PostgisCompute,
    schema: str,
    table: str,
    out: Path,
    source: str,
    lineage: tuple[str, ...],
    partition: str | None = None,
) -> Product:
    dsn = compute.settings.postgis_dsn.get_secret_value()
    # Imported here: ADBC's DB-API pulls in pyarrow.dataset and with it pandas (seconds of
    # start-up) that a raster run, the sensor and the command line never need.
    from spatial_etl.export.geoparquet import export_geoparquet  # noqa: PLC0415

    exclude = (FID_COLUMN, partition) if partition else (FID_COLUMN,)
    try:
        with timed_step(plan.export.step, plan.export.kind, source):
            result = export_geoparquet(
                dsn,
                schema,
                table,
                out,
                geometry_column=plan.export.geometry_column,
                exclude=exclude,
            )
    except SpatialEtlError as error:
        raise StepError(plan.export.step, source, str(error)) from None
    crs = f"EPSG:{result.srid}" if result.srid else "unknown"
    return Product(
        path=out,
        format=ExportFormat.GEOPARQUET,
        crs=crs,
        bbox_wgs84=_to_wgs84(result.bbox, crs) if result.srid else None,
        feature_count=result.rows,
        columns=tuple(ColumnInfo(name=c.name, type=c.arrow_type) for c in result.columns),
        steps=lineage,
    )


def run_raster_plan(plan: Plan, *, runner: GdalRunner, out: Path) -> Product:
    """Build the raster chain and write the COG."""
    source = plan.input.file.path
    run_steps(plan, runner, None, source)
    try:
        raw = plan.export.source == plan.input.gdal_path
        with timed_step(plan.export.step, plan.export.kind, source):
            written = write_cog(
                runner,
                plan.export.source,
                out,
                plan.export.creation_options,
                input_drivers=open_drivers(plan.input.file.format) if raw else (),
            )
    except SpatialEtlError as error:
        raise StepError(plan.export.step, source, str(error)) from None
    info = written.info
    first = info.bands[0]
    crs = _crs_label(info.crs_wkt)
    product = Product(
        path=out,
        format=ExportFormat.COG,
        crs=crs,
        bbox_wgs84=info.wgs84_bbox,
        raster=RasterFacts(
            width=info.size[0],
            height=info.size[1],
            bands=info.band_count,
            dtype=first.data_type,
            nodata=first.nodata,
        ),
        steps=_lineage(plan),
    )
    # The quicklook is GDAL in a child process and hashing releases the GIL: side by side,
    # the publisher's hash of the COG costs nothing more.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quicklook") as pool:
        drawing = pool.submit(raster_quicklook, runner, out, out.with_suffix(".png"), info=info)
        digest = hash_file(out)  # on an error, leaving the block still waits for the drawing
    return with_quicklook(product.model_copy(update={"digest": digest}), drawing.result)


def run_steps(
    plan: Plan,
    runner: GdalRunner,
    compute: PostgisCompute | None,
    source: str,
) -> dict[str, int]:
    """Run each planned step through its kind; any failure names the step and the file.

    Returns the features removed on purpose, per step (``SqlStep.removes_features``).
    """
    kinds = step_kinds()
    context = StepContext(runner=runner, compute=compute, source=source)
    for step in plan.steps:
        # the export's work is the product the pipeline writes (and times) after the chain
        timer = (
            nullcontext()
            if isinstance(step, PlannedExport)
            else timed_step(step.step, step.kind, source)
        )
        try:
            with timer:
                kinds.for_step(step).execute(step, context)
        except StepError:
            raise
        except SpatialEtlError as error:
            raise StepError(step.step, source, str(error)) from None
    return context.removed


def _check_count(
    compute: PostgisCompute, schema: str, table: str, expected: int, source: str
) -> None:
    target = sql.Identifier(schema, table)
    [(count,)] = compute.fetch(sql.SQL("SELECT count(*) FROM {}").format(target), step="count")
    if count == expected:
        return
    missing = compute.fetch(
        sql.SQL(
            "SELECT g FROM generate_series(1, {}) AS g EXCEPT SELECT {} FROM {} ORDER BY 1"
        ).format(sql.Literal(expected), sql.Identifier(FID_COLUMN), target),
        step="count",
        limit=_MISSING_SAMPLE,
    )
    ids = ", ".join(str(fid) for (fid,) in missing) or "unknown"
    raise StepError(
        "count",
        source,
        f"{expected} features were read but {count} remain after the SQL steps; "
        f"missing feature ids (1-based, in source order): {ids}",
    )


def _lineage(plan: Plan, removed: Mapping[str, int] | None = None) -> tuple[str, ...]:
    removed = removed or {}
    return tuple(
        f"{step.step}: {step.description}"
        + (f" (removed {removed[step.step]} features)" if step.step in removed else "")
        for step in plan.steps
    )


def _crs_label(wkt: str | None) -> str:
    if not wkt:
        return "unknown"
    code = CRS.from_wkt(wkt).to_epsg()
    return f"EPSG:{code}" if code else describe_crs(wkt)


def _to_wgs84(
    bbox: tuple[float, float, float, float] | None, crs: str
) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    if crs == "EPSG:4326":
        return bbox
    transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    west, south, east, north = transformer.transform_bounds(*bbox)
    return (west, south, east, north)


def safe_name(text: str) -> str:
    """A dataset name from a file stem: letters, digits, ``_ . -``, starting alphanumeric."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")
    return cleaned[:128] or "dataset"
