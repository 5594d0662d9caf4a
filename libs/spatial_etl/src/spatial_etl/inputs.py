"""Inspect an input file before any step runs: the checks every intent gets from the core.

The manifest says what a file is; GDAL says what it really is. Before a plan runs, the file's
own CRS must equal the manifest's ``crs`` (a file without a CRS is assigned the manifest's,
which is what the ``{crs}`` placeholder carries into the plan), a vector layer must hold the
geometry kinds the intent accepts, and the layer to read must be unambiguous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.errors import InputError
from spatial_etl.models.crs import describe_crs, same_crs
from spatial_etl.models.kinds import FileType
from spatial_etl.models.manifest import ManifestFile
from spatial_etl.registry import RegisteredIntent
from spatial_etl.spatial_utils.rasterinfo import RasterInfo, read_raster_info
from spatial_etl.spatial_utils.runner import GdalRunner
from spatial_etl.spatial_utils.vectorinfo import LayerInfo, read_vector_info

LAYER_PARAMETER = "layer"
"""An intent whose parameters have this field lets the manifest choose the layer to read."""


class InputInspection(BaseModel):
    """What GDAL found in an input, once it has passed the checks."""

    model_config = ConfigDict(frozen=True)

    gdal_path: str
    crs: str = Field(description="The CRS the run uses: the manifest's.")
    crs_assigned: bool = Field(description="True when the file had no CRS of its own.")
    layer: LayerInfo | None = Field(default=None, description="Vector: the layer to read.")
    raster: RasterInfo | None = Field(default=None, description="Raster: gdalinfo's facts.")


def inspect_input(
    runner: GdalRunner,
    registered: RegisteredIntent,
    item: ManifestFile,
    gdal_path: str,
    parameters: Mapping[str, Any] | None = None,
) -> InputInspection:
    """Read ``gdal_path`` with GDAL and check it against ``item`` and the intent.

    Raises :class:`InputError` naming the file and what is wrong.
    """
    if registered.intent.accepts.file_type is FileType.RASTER:
        raster = read_raster_info(runner, gdal_path)
        assigned = _check_crs(item, raster.crs_wkt)
        return InputInspection(
            gdal_path=gdal_path, crs=item.crs, crs_assigned=assigned, raster=raster
        )
    layer = _choose_layer(runner, registered, item, gdal_path, parameters or {})
    assigned = _check_crs(item, layer.crs_wkt)
    return InputInspection(gdal_path=gdal_path, crs=item.crs, crs_assigned=assigned, layer=layer)


def _check_crs(item: ManifestFile, own_wkt: str | None) -> bool:
    if own_wkt is None:
        return True
    if not same_crs(own_wkt, item.crs):
        own = describe_crs(own_wkt)
        raise InputError(
            f"{item.path}: the file's CRS ({own}) differs from the manifest's crs {item.crs!r}; "
            "fix the manifest, or reproject the file before uploading"
        )
    return False


def _choose_layer(
    runner: GdalRunner,
    registered: RegisteredIntent,
    item: ManifestFile,
    gdal_path: str,
    parameters: Mapping[str, Any],
) -> LayerInfo:
    info = read_vector_info(runner, gdal_path)
    wanted = (
        parameters.get(LAYER_PARAMETER)
        if LAYER_PARAMETER in registered.intent.parameter_fields
        else None
    )
    try:
        layer = info.layer(wanted)
    except LookupError as error:
        hint = (
            " with metadata.parameters.layer"
            if LAYER_PARAMETER in registered.intent.parameter_fields
            else ""
        )
        raise InputError(f"{item.path}: {error}{hint}") from None
    accepted = registered.intent.accepts.geometry_kinds
    kind = layer.geometry_kind
    if kind is not None and kind not in accepted:
        names = ", ".join(sorted(k.value for k in accepted))
        raise InputError(
            f"{item.path}: layer {layer.name!r} holds {layer.geometry_type} geometries; "
            f"intent {registered.intent.name!r} accepts {names} layers only"
        )
    return layer
