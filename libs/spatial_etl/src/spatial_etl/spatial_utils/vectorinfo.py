"""Typed reading of vector layer information from ``ogrinfo`` text output.

Debian's GDAL 3.6 has no ``ogrinfo -json`` (added in 3.7), so the summary mode
(``ogrinfo -ro -so -al -nomd -wkt_format WKT2``) is parsed. Its layout has been stable across
GDAL 3.x: a header naming the driver, then one block per layer.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.errors import GdalOutputError
from spatial_etl.models.kinds import GeometryKind, geometry_kind
from spatial_etl.spatial_utils.runner import GdalRunner

_DRIVER = re.compile(r"using driver `([^']+)' successful")
_GEOMETRY = re.compile(r"^Geometry(?: \((?P<column>[^)]*)\))?: (?P<type>.+)$")
_EXTENT = re.compile(
    r"^Extent(?: \([^)]*\))?: \((?P<x0>[-\d.e+]+), (?P<y0>[-\d.e+]+)\) - "
    r"\((?P<x1>[-\d.e+]+), (?P<y1>[-\d.e+]+)\)$"
)
_FIELD = re.compile(
    r"^(?P<name>.+?): (?P<type>[A-Za-z0-9]+)(?:\((?P<subtype>[A-Za-z0-9]+)\))? "
    r"\((?P<width>\d+)\.(?P<precision>\d+)\)(?P<rest>.*)$"
)
_NO_CRS: Final = "(unknown)"


class FieldInfo(BaseModel):
    """One attribute field of a layer."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str = Field(description="OGR field type: String, Integer, Integer64, Real, Date...")
    subtype: str | None = Field(default=None, description="OGR subtype: Boolean, Int16, Float32...")
    width: int = 0
    precision: int = 0
    nullable: bool = True


class LayerInfo(BaseModel):
    """Summary of one vector layer."""

    model_config = ConfigDict(frozen=True)

    name: str
    geometry_type: str = Field(description="As OGR prints it: 'Polygon', 'Multi Polygon', 'None'.")
    feature_count: int | None = Field(default=None, description="None when the driver cannot tell.")
    extent: tuple[float, float, float, float] | None = Field(
        default=None, description="(xmin, ymin, xmax, ymax) in the layer's CRS."
    )
    crs_wkt: str | None = Field(default=None, description="WKT2 of the layer's CRS, if any.")
    fid_column: str | None = None
    geometry_column: str | None = None
    fields: tuple[FieldInfo, ...] = ()

    @property
    def geometry_kind(self) -> GeometryKind | None:
        """The layer's declared geometry family; None when mixed or unknown."""
        return geometry_kind(self.geometry_type)


class VectorInfo(BaseModel):
    """What ``ogrinfo`` says about a vector data source."""

    model_config = ConfigDict(frozen=True)

    driver: str
    layers: tuple[LayerInfo, ...]

    def layer(self, name: str | None = None) -> LayerInfo:
        """The named layer, or the only one; raise ``LookupError`` explaining the choice."""
        names = [layer.name for layer in self.layers]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise LookupError(f"no layer {name!r}; layers: {', '.join(names) or 'none'}")
        if len(self.layers) != 1:
            listing = ", ".join(names) or "none"
            raise LookupError(f"the source has {len(self.layers)} layers ({listing}); name one")
        return self.layers[0]


def parse_vector_info(text: str) -> VectorInfo:
    """Parse ``ogrinfo -ro -so -al -nomd -wkt_format WKT2`` output."""
    driver = _DRIVER.search(text)
    if driver is None:
        raise GdalOutputError("ogrinfo output names no driver; was the source opened?")
    blocks = re.split(r"^Layer name: ", text, flags=re.MULTILINE)[1:]
    return VectorInfo(driver=driver.group(1), layers=tuple(_parse_layer(b) for b in blocks))


def _parse_layer(block: str) -> LayerInfo:
    lines = block.rstrip("\n").splitlines()
    values: dict[str, object] = {"name": lines[0].strip(), "geometry_type": "Unknown (any)"}
    fields: list[FieldInfo] = []
    index = 1
    while index < len(lines):
        line = lines[index]
        index += 1
        if (geometry := _GEOMETRY.match(line)) and "geometry_seen" not in values:
            values["geometry_seen"] = True
            values["geometry_type"] = geometry.group("type").strip()
        elif line.startswith("Feature Count: "):
            count = int(line.removeprefix("Feature Count: "))
            values["feature_count"] = count if count >= 0 else None
        elif extent := _EXTENT.match(line):
            values.setdefault(
                "extent", tuple(float(extent.group(k)) for k in ("x0", "y0", "x1", "y1"))
            )
        elif line.startswith(("Layer SRS WKT:", "SRS WKT")):
            wkt, index = _read_wkt(lines, index)
            values.setdefault("crs_wkt", wkt)
        elif line.startswith("FID Column = "):
            values["fid_column"] = line.removeprefix("FID Column = ").strip()
        elif line.startswith("Geometry Column = "):
            values["geometry_column"] = line.removeprefix("Geometry Column = ").strip()
        elif line.startswith("Geometry Column "):  # several geometry columns: keep the first
            values.setdefault("geometry_column", line.split("=", 1)[-1].strip())
        elif field := _FIELD.match(line):
            fields.append(
                FieldInfo(
                    name=field.group("name"),
                    type=field.group("type"),
                    subtype=field.group("subtype"),
                    width=int(field.group("width")),
                    precision=int(field.group("precision")),
                    nullable="NOT NULL" not in field.group("rest"),
                )
            )
    values.pop("geometry_seen", None)
    return LayerInfo.model_validate({**values, "fields": tuple(fields)})


def _read_wkt(lines: list[str], index: int) -> tuple[str | None, int]:
    """Read a multi-line WKT starting at ``lines[index]``, up to its balanced closing bracket."""
    if index >= len(lines) or lines[index].strip() == _NO_CRS:
        return None, index + 1
    collected: list[str] = []
    depth = 0
    while index < len(lines):
        line = lines[index]
        collected.append(line)
        depth += line.count("[") - line.count("]")
        index += 1
        if depth <= 0:
            break
    return "\n".join(collected), index


def read_vector_info(runner: GdalRunner, path: str) -> VectorInfo:
    """Run ``ogrinfo`` in summary mode on ``path`` and parse the layers it reports."""
    result = runner.run(["ogrinfo", "-ro", "-so", "-al", "-nomd", "-wkt_format", "WKT2", path])
    return parse_vector_info(result.stdout)
