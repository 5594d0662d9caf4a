"""The GDAL drivers a manifest may name, by short name, and the data kinds each reads.

The manifest is validated offline, before any GDAL is at hand, so the catalog is data, not a
query of the local GDAL. It was generated from GDAL 3.6 (``gdalinfo --formats`` and
``ogrinfo --formats``) and extended with the file drivers of later releases (Parquet, Arrow, ...).
Database and web-service drivers are listed apart: a manifest names uploaded files, never a
connection.
"""

from __future__ import annotations

from typing import Final

from spatial_etl.models.kinds import FileType

_R: Final = frozenset({FileType.RASTER})
_V: Final = frozenset({FileType.VECTOR})
_RV: Final = frozenset({FileType.RASTER, FileType.VECTOR})

FILE_DRIVERS: Final[dict[str, frozenset[FileType]]] = {
    "AAIGrid": _R,
    "ACE2": _R,
    "ADRG": _R,
    "AIG": _R,
    "AirSAR": _R,
    "ARG": _R,
    "Arrow": _V,
    "AVCBin": _V,
    "AVCE00": _V,
    "AVIF": _R,
    "BAG": _RV,
    "BIGGIF": _R,
    "BLX": _R,
    "BMP": _R,
    "BSB": _R,
    "BT": _R,
    "BYN": _R,
    "CAD": _RV,
    "CALS": _R,
    "CEOS": _R,
    "COASP": _R,
    "COG": _R,
    "COSAR": _R,
    "CPG": _R,
    "CSV": _V,
    "CTable2": _R,
    "CTG": _R,
    "DERIVED": _R,
    "DGN": _V,
    "DIMAP": _R,
    "DIPEx": _R,
    "DOQ1": _R,
    "DOQ2": _R,
    "DTED": _R,
    "DXF": _V,
    "ECRGTOC": _R,
    "ECW": _R,
    "EDIGEO": _V,
    "EHdr": _R,
    "EIR": _R,
    "ELAS": _R,
    "ENVI": _R,
    "ERS": _R,
    "ESAT": _R,
    "ESRI Shapefile": _V,
    "ESRIJSON": _V,
    "FAST": _R,
    "FIT": _R,
    "FITS": _RV,
    "FlatGeobuf": _V,
    "GenBin": _R,
    "Geoconcept": _V,
    "GeoJSON": _V,
    "GeoJSONSeq": _V,
    "GeoRSS": _V,
    "GFF": _R,
    "GIF": _R,
    "GML": _V,
    "GMLAS": _V,
    "GPKG": _RV,
    "GPX": _V,
    "GRASSASCIIGrid": _R,
    "GRIB": _R,
    "GS7BG": _R,
    "GSAG": _R,
    "GSBG": _R,
    "GSC": _R,
    "GTI": _R,
    "GTiff": _R,
    "GTX": _R,
    "GXF": _R,
    "HDF4": _R,
    "HDF4Image": _R,
    "HDF5": _R,
    "HDF5Image": _R,
    "HEIF": _R,
    "HF2": _R,
    "HFA": _R,
    "Idrisi": _V,
    "ILWIS": _R,
    "Interlis 1": _V,
    "Interlis 2": _V,
    "IRIS": _R,
    "ISCE": _R,
    "ISG": _R,
    "ISIS2": _R,
    "ISIS3": _R,
    "JAXAPALSAR": _R,
    "JDEM": _R,
    "JML": _V,
    "JP2ECW": _RV,
    "JP2KAK": _R,
    "JP2OpenJPEG": _RV,
    "JPEG": _R,
    "JPEG2000": _R,
    "KML": _V,
    "KMLSUPEROVERLAY": _R,
    "KRO": _R,
    "L1B": _R,
    "LAN": _R,
    "LCP": _R,
    "Leveller": _R,
    "LIBERTIFF": _R,
    "LIBKML": _V,
    "LOSLAS": _R,
    "LVBAG": _V,
    "MAP": _R,
    "MapInfo File": _V,
    "MapML": _V,
    "MBTiles": _RV,
    "MFF": _R,
    "MFF2": _R,
    "MiraMonRaster": _R,
    "MiraMonVector": _V,
    "MRF": _R,
    "MrSID": _R,
    "MSGN": _R,
    "MVT": _V,
    "NAS": _V,
    "NDF": _R,
    "netCDF": _RV,
    "NGSGEOID": _R,
    "NITF": _R,
    "NTv2": _R,
    "NWT_GRC": _R,
    "NWT_GRD": _R,
    "ODS": _V,
    "OGR_GMT": _V,
    "OGR_OGDI": _V,
    "OGR_PDS": _V,
    "OGR_SDTS": _V,
    "OGR_VRT": _V,
    "OpenFileGDB": _V,
    "OSM": _V,
    "OZI": _R,
    "Parquet": _V,
    "PAux": _R,
    "PCIDSK": _RV,
    "PDF": _RV,
    "PDS": _R,
    "PGeo": _V,
    "PNG": _R,
    "PNM": _R,
    "PRF": _R,
    "R": _R,
    "Rasterlite": _R,
    "RIK": _R,
    "RMF": _R,
    "ROI_PAC": _R,
    "RPFTOC": _R,
    "RRASTER": _R,
    "RS2": _R,
    "RST": _R,
    "S57": _V,
    "SAFE": _R,
    "SAGA": _R,
    "SAR_CEOS": _R,
    "SDTS": _R,
    "Selafin": _V,
    "SENTINEL2": _R,
    "SGI": _R,
    "SIGDEM": _R,
    "SNAP_TIFF": _R,
    "SNODAS": _R,
    "SOSI": _V,
    "SQLite": _V,
    "SRP": _R,
    "SRTMHGT": _R,
    "SVG": _V,
    "SXF": _V,
    "Terragen": _R,
    "TGA": _R,
    "TIGER": _V,
    "TIL": _R,
    "TopoJSON": _V,
    "TSX": _R,
    "UK .NTF": _V,
    "USGSDEM": _R,
    "VDV": _V,
    "VFK": _V,
    "VICAR": _RV,
    "VRT": _R,
    "WAsP": _V,
    "WEBP": _R,
    "XLS": _V,
    "XLSX": _V,
    "XPM": _R,
    "XYZ": _R,
    "Zarr": _R,
    "ZMap": _R,
}
"""File-format drivers: what an uploaded file may be declared as."""

SERVICE_DRIVERS: Final[frozenset[str]] = frozenset(
    {
        "ADBC",
        "AmigoCloud",
        "Carto",
        "CSW",
        "DAAS",
        "EEDA",
        "EEDAI",
        "Elasticsearch",
        "ESRIC",
        "GPSBabel",
        "HTTP",
        "MEM",
        "Memory",
        "MSSQLSpatial",
        "MySQL",
        "NGW",
        "OAPIF",
        "ODBC",
        "OGCAPI",
        "PCRaster",
        "PDS4",
        "PGDUMP",
        "PLMOSAIC",
        "PLSCENES",
        "PostGISRaster",
        "PostgreSQL",
        "STACIT",
        "STACTA",
        "WCS",
        "WFS",
        "WMS",
        "WMTS",
    }
)
"""Database and web-service drivers: valid GDAL names, never valid in a manifest."""

REFERENCING_DRIVERS: Final[frozenset[str]] = frozenset(
    {
        "VRT",
        "OGR_VRT",
        "MRF",
        "GTI",
        "DERIVED",
        "KMLSUPEROVERLAY",
        "ECRGTOC",
        "RPFTOC",
    }
)
"""File drivers whose files name other files or URLs for GDAL to open (meta-formats).

An input may be opened with one of them only when the intent lists it in
``Accepts.meta_drivers``, and then only with references inside the input's staged folder.
"""

_JP2: Final = ("JP2OpenJPEG", "JP2ECW", "JP2KAK", "JPEG2000")
_OPEN_AS: Final[dict[str, tuple[str, ...]]] = {
    "COG": ("GTiff",),
    "JP2OpenJPEG": _JP2,
    "JP2ECW": _JP2,
    "JP2KAK": _JP2,
    "JPEG2000": _JP2,
}


def open_drivers(declared: str) -> tuple[str, ...]:
    """The drivers GDAL may use to open a file declared ``declared`` (for ``-if``).

    COG is a write-only driver: a COG is read by GTiff. The JPEG 2000 drivers read the same
    files, so a file declared with one may be read by whichever the local GDAL has (``-if``
    names an absent driver with a warning, not an error).
    """
    return _OPEN_AS.get(declared, (declared,))


EXTENSION_FORMATS: Final[dict[str, tuple[FileType, str]]] = {
    ".tif": (FileType.RASTER, "GTiff"),
    ".tiff": (FileType.RASTER, "GTiff"),
    ".jp2": (FileType.RASTER, "JP2OpenJPEG"),
    ".gpkg": (FileType.VECTOR, "GPKG"),
    ".geojson": (FileType.VECTOR, "GeoJSON"),
    ".json": (FileType.VECTOR, "GeoJSON"),
    ".fgb": (FileType.VECTOR, "FlatGeobuf"),
    ".zip": (FileType.VECTOR, "ESRI Shapefile"),
    ".shp": (FileType.VECTOR, "ESRI Shapefile"),
    ".shz": (FileType.VECTOR, "ESRI Shapefile"),
}
"""Type and driver of a file by its lower-cased extension: the one table of the platform.

Uploads type files by it (other extensions need an explicit driver), and example manifests
name their file by it. A driver's first extension is a file that stands alone (a zipped
shapefile before a ``.shp``, which needs its sidecars).
"""

ARCHIVE_SUFFIXES: Final = (".zip", ".shz")
"""Extensions of zipped shapefiles, opened through ``/vsizip/``."""

SHAPEFILE_REQUIRED: Final = (".shx", ".dbf")
"""Sidecars a plain ``.shp`` cannot be read without."""


def extension_of(driver: str) -> str | None:
    """The extension a file declared ``driver`` is given; None when the table has none.

    A write-only or alternative driver (COG, the JPEG 2000 family) takes the extension of the
    driver that reads its files.
    """
    readers = {driver, *open_drivers(driver)}
    return next((ext for ext, (_, name) in EXTENSION_FORMATS.items() if name in readers), None)
