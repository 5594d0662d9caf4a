"""The raster and the vector pipeline: what differs between the two kinds of data, in one place.

An intent handles one file type, and the run picks its pipeline once
(:func:`pipeline_for`). The pipeline says which placeholders the core provides, whether the
run needs a PostGIS schema, how planned steps are adjusted (a raster's raw input is opened only
by its declared driver) and how the product is written (GeoParquet from the run's table, or a
COG from the chain's last dataset).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Final

from spatial_etl.backends.compute import PostgisCompute, RunSchema
from spatial_etl.models.drivers import open_drivers
from spatial_etl.models.kinds import FileType
from spatial_etl.models.placeholders import FID_COLUMN
from spatial_etl.models.programs import GdalProgram
from spatial_etl.plugins.intent import Intent
from spatial_etl.run.inputs import InputInspection
from spatial_etl.run.plans import InputBinding, Plan, RunValues
from spatial_etl.run.products import Product, run_raster_plan, run_vector_plan
from spatial_etl.spatial_utils.runner import GdalRunner
from spatial_etl.steps.gdal import PlannedGdal
from spatial_etl.steps.kind import PlannedStep


class Pipeline(ABC):
    """How one file type is processed and exported."""

    file_type: FileType
    needs_postgis: bool
    """Whether the run loads its inputs into a throw-away PostGIS schema."""
    product_suffix: str
    """Suffix of the product file."""

    def placeholders(self, run: RunValues, binding: InputBinding) -> dict[str, str]:
        """Placeholder values this file type provides, beyond those every run has."""
        return {}

    def adjust(self, planned: PlannedStep, binding: InputBinding) -> PlannedStep:
        """A planned step as this file type runs it (unchanged by default)."""
        return planned

    def binding(self, item: InputBinding, inspection: InputInspection) -> InputBinding:
        """The input as the plan reads it, once inspected."""
        return item

    @abstractmethod
    def produce(
        self,
        plan: Plan,
        inspection: InputInspection,
        *,
        runner: GdalRunner,
        compute: PostgisCompute | None,
        schema: RunSchema | None,
        out: Path,
    ) -> list[Product]:
        """Run the plan's steps and write the product(s) to ``out`` (and files beside it).

        One product per plan, except where the plan's export splits it (``partition``).
        """


class VectorPipeline(Pipeline):
    """Load into PostGIS, transform there, export the table as GeoParquet."""

    file_type = FileType.VECTOR
    needs_postgis = True
    product_suffix = ".parquet"

    def placeholders(self, run: RunValues, binding: InputBinding) -> dict[str, str]:
        """The run's schema, the input's tables and layer, PostGIS, and ``{fid}``."""
        text = {
            "schema": run.schema_name,
            "table": binding.table,
            "output_table": f"{binding.table}_out",
            "fid": FID_COLUMN,
        }
        if run.postgis is not None:
            text["postgis"] = run.postgis
        if binding.layer is not None:
            text["layer"] = binding.layer
        return text

    def binding(self, item: InputBinding, inspection: InputInspection) -> InputBinding:
        """The layer the inspection chose is the one ``{layer}`` names."""
        layer = inspection.layer.name if inspection.layer else None
        return item.model_copy(update={"layer": layer})

    def produce(
        self,
        plan: Plan,
        inspection: InputInspection,
        *,
        runner: GdalRunner,
        compute: PostgisCompute | None,
        schema: RunSchema | None,
        out: Path,
    ) -> list[Product]:
        """Load, transform, check the count and export GeoParquet (per partition value)."""
        if compute is None or schema is None:  # pragma: no cover - the executor provides both
            raise ValueError("a vector run needs its PostGIS schema")
        return run_vector_plan(
            plan, inspection, runner=runner, compute=compute, schema=schema, out=out
        )


RESTRICTABLE: Final = frozenset({GdalProgram.GDAL_TRANSLATE.value, GdalProgram.GDALWARP.value})
"""Raster programs of GDAL 3.6 that take ``-if`` (the drivers allowed to open the input)."""


class RasterPipeline(Pipeline):
    """Build a (usually virtual) GDAL chain, then write and validate a COG."""

    file_type = FileType.RASTER
    needs_postgis = False
    product_suffix = ".tif"

    def adjust(self, planned: PlannedStep, binding: InputBinding) -> PlannedStep:
        """Put ``-if <declared driver>`` before the raw input, so no other driver may open it.

        Only the user's file is restricted: later steps read the platform's own VRTs.
        """
        if not isinstance(planned, PlannedGdal):
            return planned
        program, *args = planned.argv
        if program not in RESTRICTABLE or binding.gdal_path not in args:
            return planned
        at = args.index(binding.gdal_path)
        restrict = [arg for driver in open_drivers(binding.file.format) for arg in ("-if", driver)]
        argv = (program, *args[:at], *restrict, *args[at:])
        return planned.model_copy(update={"argv": argv})

    def produce(
        self,
        plan: Plan,
        inspection: InputInspection,
        *,
        runner: GdalRunner,
        compute: PostgisCompute | None,
        schema: RunSchema | None,
        out: Path,
    ) -> list[Product]:
        """Build the chain and write the COG."""
        return [run_raster_plan(plan, runner=runner, out=out)]


PIPELINES: Final[dict[FileType, Pipeline]] = {
    FileType.VECTOR: VectorPipeline(),
    FileType.RASTER: RasterPipeline(),
}


def pipeline_for(intent: Intent) -> Pipeline:
    """The pipeline of the intent's file type."""
    return PIPELINES[intent.accepts.file_type]
