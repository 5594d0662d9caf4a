"""Inspect an input file before any step runs: the checks every intent gets from the core.

The manifest says what a file is; GDAL says what it really is. Before a plan runs, the file's
own CRS must equal the manifest's ``crs`` (a file without a CRS is assigned the manifest's,
which is what the ``{crs}`` placeholder carries into the plan), a vector layer must hold the
geometry kinds the intent accepts, and the layer to read must be unambiguous.

This is also GDAL's one look at the input during screening (see :mod:`spatial_etl.run.screen`):
a raster is opened with ``-if`` restricted to the drivers its declared format may be read by,
and the driver GDAL reports, raster or vector, must be one of them (``FormatMismatchError``)
before anything else is believed. One ``gdalinfo``/``ogrinfo`` per input, not two.

Hostile inputs are refused here too, before any expensive work: right after GDAL's header-only
inspection, the sizes it reports are held against :class:`LimitSettings` (pixels, bands,
expansion over the file's size, features), and a shapefile's attribute table is checked by
:mod:`spatial_etl.spatial_utils.dbf` (declared records versus file size, encoding, values).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.errors import FormatMismatchError, InputError, LimitExceededError
from spatial_etl.models.crs import describe_crs, same_crs
from spatial_etl.models.drivers import open_drivers
from spatial_etl.models.kinds import FileType
from spatial_etl.models.manifest import ManifestFile
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.settings import LimitSettings
from spatial_etl.spatial_utils.dbf import check_shapefile_attributes
from spatial_etl.spatial_utils.rasterinfo import RasterInfo, read_raster_info
from spatial_etl.spatial_utils.runner import GdalRunner
from spatial_etl.spatial_utils.vectorinfo import LayerInfo, VectorInfo, read_vector_info

LAYER_PARAMETER = "layer"
"""An intent whose parameters have this field lets the manifest choose the layer to read."""

SAMPLE_BYTES: Final = {
    "Byte": 1,
    "Int8": 1,
    "UInt16": 2,
    "Int16": 2,
    "CInt16": 4,
    "UInt32": 4,
    "Int32": 4,
    "Float32": 4,
    "UInt64": 8,
    "Int64": 8,
    "Float64": 8,
    "CInt32": 8,
    "CFloat32": 8,
    "CFloat64": 16,
}
"""Bytes per sample of GDAL's data types; an unknown type counts as 8 (the common maximum)."""


class InputInspection(BaseModel):
    """What GDAL found in an input, once it has passed the checks."""

    model_config = ConfigDict(frozen=True)

    gdal_path: str
    driver: str = Field(description="The GDAL driver that opened the file (a declared one).")
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
    *,
    limits: LimitSettings | None = None,
    label: str | None = None,
    layer: str | None = None,
) -> InputInspection:
    """Read ``gdal_path`` with GDAL and check it against ``item``, the intent and ``limits``.

    ``runner`` should carry :func:`spatial_etl.screening.gdal_config`'s environment (no
    network, no credentials), as the executor's does. ``limits`` defaults to
    :class:`LimitSettings` read from the environment; ``label`` names the file in a driver
    mismatch (the executor gives ``files[<i>] <uri>``, as screening does; default the URI).
    ``layer`` names the layer to read whatever the parameters say (one layer of an
    ``Accepts.layers='each'`` input).

    Raises:
        FormatMismatchError: GDAL opened the file with a driver other than the declared one.
        InputError: naming the file and what is wrong (:class:`LimitExceededError` for a
            limit, :class:`AttributeTableError` for a shapefile's attribute table).
    """
    limits = limits if limits is not None else LimitSettings()
    size = file_size(gdal_path)
    allowed = open_drivers(item.format)
    if registered.intent.accepts.file_type is FileType.RASTER:
        raster = read_raster_info(runner, gdal_path, input_drivers=allowed)
        check_driver(item, raster.driver, label)
        check_raster_limits(item.path, raster, size, limits)
        assigned = _check_crs(item, raster.crs_wkt)
        return InputInspection(
            gdal_path=gdal_path,
            driver=raster.driver,
            crs=item.crs,
            crs_assigned=assigned,
            raster=raster,
        )
    info = read_vector_info(runner, gdal_path)
    check_driver(item, info.driver, label)
    chosen = _choose_layer(info, registered, item, parameters or {}, forced=layer)
    check_vector_limits(item.path, chosen, size, limits)
    if item.format == "ESRI Shapefile":
        check_shapefile_attributes(gdal_path, label=item.path, layer=chosen.name)
    assigned = _check_crs(item, chosen.crs_wkt)
    return InputInspection(
        gdal_path=gdal_path, driver=info.driver, crs=item.crs, crs_assigned=assigned, layer=chosen
    )


def check_driver(item: ManifestFile, driver: str, label: str | None = None) -> None:
    """Refuse a file GDAL opened with a driver its declared format is not read by.

    For rasters ``-if`` already kept other drivers out; GDAL 3.6's ``ogrinfo`` has no ``-if``,
    so for vectors this comparison is the check (screening's sniffing came first).
    """
    if driver in open_drivers(item.format):
        return
    raise FormatMismatchError(
        f"{label or item.path} is declared {item.format} but GDAL opened it with the "
        f"{driver} driver"
    )


def input_layers(
    runner: GdalRunner,
    registered: RegisteredIntent,
    gdal_path: str,
    parameters: Mapping[str, Any] | None = None,
) -> list[str] | None:
    """The layers to process one by one, for an intent whose ``Accepts.layers`` is ``'each'``.

    ``None`` when the input is read as one layer: the intent reads one layer per input, or the
    manifest's ``layer`` parameter names one. Beside spatial layers, a table without geometry
    (a GeoPackage's attribute table: a lookup list, a codelist) is no dataset of features and
    is left out; an input holding only such tables keeps them, and the intent decides.
    """
    if registered.intent.accepts.layers != "each":
        return None
    if LAYER_PARAMETER in registered.intent.parameter_fields and (parameters or {}).get(
        LAYER_PARAMETER
    ):
        return None
    layers = read_vector_info(runner, gdal_path).layers
    spatial = [layer.name for layer in layers if not _attribute_table(layer)]
    return spatial or [layer.name for layer in layers]


def _attribute_table(layer: LayerInfo) -> bool:
    return layer.geometry_type == "None" and layer.geometry_column is None


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
    info: VectorInfo,
    registered: RegisteredIntent,
    item: ManifestFile,
    parameters: Mapping[str, Any],
    *,
    forced: str | None = None,
) -> LayerInfo:
    wanted = (
        parameters.get(LAYER_PARAMETER)
        if LAYER_PARAMETER in registered.intent.parameter_fields
        else None
    )
    wanted = forced if forced is not None else wanted
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


def file_size(gdal_path: str) -> int | None:
    """The size on disk of a staged input: the file, or the archive of a ``/vsizip/`` path.

    ``None`` for a path that is not local (a ``/vsis3/`` URL): size-based checks are skipped.
    """
    local = gdal_path[len("/vsizip/") :] if gdal_path.startswith("/vsizip/") else gdal_path
    if local.startswith("/vsi"):
        return None
    path = Path(local)
    for candidate in (path, *path.parents):
        if candidate.is_file():
            return candidate.stat().st_size
    return None


def check_raster_limits(
    label: str, raster: RasterInfo, size: int | None, limits: LimitSettings
) -> None:
    """Refuse a raster whose pixels, bands or expansion over its file size exceed ``limits``."""
    width, height = raster.size
    pixels = width * height
    _refuse_over(
        pixels,
        limits.limit_raster_max_pixels,
        "SPATIAL_ETL_LIMIT_RASTER_MAX_PIXELS",
        f"{label}: the raster is {width} x {height} = {pixels} pixels",
        "pixels",
    )
    bands = len(raster.bands)
    _refuse_over(
        bands,
        limits.limit_raster_max_bands,
        "SPATIAL_ETL_LIMIT_RASTER_MAX_BANDS",
        f"{label}: the raster has {bands} bands",
        "bands",
    )
    if not size:
        return
    uncompressed = pixels * sum(SAMPLE_BYTES.get(b.data_type, 8) for b in raster.bands)
    ratio = uncompressed / size
    _refuse_over(
        ratio,
        limits.limit_raster_max_expansion_ratio,
        "SPATIAL_ETL_LIMIT_RASTER_MAX_EXPANSION_RATIO",
        f"{label}: the raster expands to {uncompressed} bytes from {size} bytes on disk, "
        f"a ratio of {ratio:.0f}",
        "",
    )


def check_vector_limits(
    label: str, layer: LayerInfo, size: int | None, limits: LimitSettings
) -> None:
    """Refuse a layer with more features than ``limits`` allow or than its file could hold."""
    count = layer.feature_count
    if count is None:
        return
    _refuse_over(
        count,
        limits.limit_vector_max_features,
        "SPATIAL_ETL_LIMIT_VECTOR_MAX_FEATURES",
        f"{label}: layer {layer.name!r} has {count} features",
        "features",
    )
    if size is not None and count > size:
        raise InputError(
            f"{label}: layer {layer.name!r} declares {count} features in a file of {size} "
            "bytes; every feature takes at least a byte, so the file's header is false"
        )


def _refuse_over(measured: float, limit: float, setting: str, what: str, unit: str) -> None:
    if measured <= limit:
        return
    shown = f"{limit:g} {unit}".strip() if isinstance(limit, float) else f"{limit} {unit}".strip()
    raise LimitExceededError(
        f"{what}, over the limit of {shown}; raise {setting} to accept it",
        setting=setting,
        measured=measured,
        limit=limit,
    )
