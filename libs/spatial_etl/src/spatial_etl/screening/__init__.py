"""Screening of user inputs before GDAL: formats, meta-formats, archives, GeoPackages, network.

Anyone who can upload to the landing zone chooses the bytes GDAL will read. Everything here
runs on the staged local copy, in plain Python, before any GDAL program opens it (see
SECURITY.md at the repository root for the threat model).
"""

from spatial_etl.screening.archives import check_zip
from spatial_etl.screening.formats import Detected, check_declared_format, sniff_bytes, sniff_file
from spatial_etl.screening.geopackage import check_geopackage
from spatial_etl.screening.metaformats import check_references
from spatial_etl.screening.network import NO_NETWORK, gdal_config

__all__ = [
    "NO_NETWORK",
    "Detected",
    "check_declared_format",
    "check_geopackage",
    "check_references",
    "check_zip",
    "gdal_config",
    "sniff_bytes",
    "sniff_file",
]
