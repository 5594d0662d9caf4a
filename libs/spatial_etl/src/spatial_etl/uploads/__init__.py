"""Upload a local directory as a batch, following the user protocol: files first, manifest last.

Two halves, so that everything that can be wrong is found before a byte is sent:
``planning`` (offline: reads the directory, and GDAL only when the CRS must be read from the
files) decides which files go where, writes the manifest and validates it; ``sending`` sends
the files and then, only if all arrived, the manifest that commits the batch.

The modules, one concept each: ``scan`` (which files), ``classify`` (each file's type and
driver by the shared extension table of ``models.drivers``), ``sidecars`` (a plain
shapefile's companions), ``crs_probe`` (a file's CRS read with GDAL), ``manifest_building``
(the manifest and its problems located back to files), ``request`` and ``plan`` (the data
that crosses the boundary). The manifest's paths always name the contract's logical bucket
(``s3://landing-zone/...``) whatever the physical landing bucket is called.

Problems name the request's parameters (``batch_id``, ``crs``, ``format_overrides``...), never
a command line's options: the command line maps them to its own flags.
"""

from spatial_etl.models.drivers import EXTENSION_FORMATS
from spatial_etl.uploads.classify import MAX_KEY_BYTES
from spatial_etl.uploads.crs_probe import CrsReader, crs_code, read_file_crs
from spatial_etl.uploads.manifest_building import typed_parameters
from spatial_etl.uploads.plan import PlannedUpload, UploadPlan
from spatial_etl.uploads.planning import check_upload, plan_upload
from spatial_etl.uploads.request import FormatOverride, UploadRequest, parse_assignment
from spatial_etl.uploads.scan import scan_directory
from spatial_etl.uploads.sending import (
    UploadFailure,
    UploadProgress,
    UploadResult,
    execute_upload,
)
from spatial_etl.uploads.sidecars import SHAPEFILE_SIDECARS

__all__ = [
    "EXTENSION_FORMATS",
    "MAX_KEY_BYTES",
    "SHAPEFILE_SIDECARS",
    "CrsReader",
    "FormatOverride",
    "PlannedUpload",
    "UploadFailure",
    "UploadPlan",
    "UploadProgress",
    "UploadRequest",
    "UploadResult",
    "check_upload",
    "crs_code",
    "execute_upload",
    "parse_assignment",
    "plan_upload",
    "read_file_crs",
    "scan_directory",
    "typed_parameters",
]
