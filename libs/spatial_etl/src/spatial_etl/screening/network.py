"""GDAL configuration for processes that read user data: no network, no credentials.

Inputs are staged locally before any GDAL program runs, so GDAL never needs the network or
the object store on user data; only the platform's Python code talks to S3. These options
(passed as environment variables, which GDAL reads as configuration options) make every
network path fail fast even if a hostile file reached a driver: HTTP goes through a proxy on
a closed loopback port, ``/vsis3/`` and its siblings get empty credentials, no signing, no
instance-metadata lookup and an endpoint that refuses connections, and ``/vsicurl/`` accepts
no file extension. Explicit values override whatever the process environment holds.
"""

from __future__ import annotations

from typing import Final

from spatial_etl.models.drivers import REFERENCING_DRIVERS
from spatial_etl.plugins.registry import RegisteredIntent

CLOSED_ENDPOINT: Final = "127.0.0.1:9"
"""The discard port on loopback: nothing listens there, so a connection is refused at once."""

_NO_FILE: Final = "/nonexistent/spatial-etl-no-credentials"

SERVICE_DRIVERS_TO_SKIP: Final = (
    "WMS",
    "WMTS",
    "WCS",
    "HTTP",
    "PLMOSAIC",
    "PLSCENES",
    "STACIT",
    "STACTA",
    "ESRIC",
    "DAAS",
    "EEDA",
    "EEDAI",
    "OGCAPI",
    "OAPIF",
    "WFS",
    "CSW",
    "NGW",
    "Elasticsearch",
    "Carto",
    "AmigoCloud",
)
"""Drivers that only talk to network services or open what a file names; never on user data."""

NO_NETWORK: Final[dict[str, str]] = {
    # HTTP(S) of any driver or virtual file system: a proxy that refuses connections.
    "GDAL_HTTP_PROXY": CLOSED_ENDPOINT,
    "GDAL_HTTPS_PROXY": CLOSED_ENDPOINT,
    "HTTP_PROXY": f"http://{CLOSED_ENDPOINT}",
    "HTTPS_PROXY": f"http://{CLOSED_ENDPOINT}",
    "ALL_PROXY": f"http://{CLOSED_ENDPOINT}",
    "http_proxy": f"http://{CLOSED_ENDPOINT}",
    "https_proxy": f"http://{CLOSED_ENDPOINT}",
    "all_proxy": f"http://{CLOSED_ENDPOINT}",
    "NO_PROXY": "",
    "no_proxy": "",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".spatial-etl-no-network",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # Object stores: no credentials, no signing, no metadata service, a dead endpoint.
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_PROFILE": "",
    "AWS_DEFAULT_PROFILE": "",
    "AWS_ROLE_ARN": "",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "",
    "AWS_CONFIG_FILE": _NO_FILE,
    "AWS_SHARED_CREDENTIALS_FILE": _NO_FILE,
    "CPL_AWS_CREDENTIALS_FILE": _NO_FILE,
    "AWS_NO_SIGN_REQUEST": "YES",
    "AWS_S3_ENDPOINT": CLOSED_ENDPOINT,
    "AWS_HTTPS": "NO",
    "AWS_VIRTUAL_HOSTING": "FALSE",
    "CPL_AWS_AUTODETECT_EC2": "NO",
    "CPL_AWS_EC2_API_ROOT_URL": f"http://{CLOSED_ENDPOINT}",
    "CPL_GCE_CHECK_LOCAL_FILES": "NO",
    "CPL_MACHINE_IS_GCE": "NO",
    "GS_NO_SIGN_REQUEST": "YES",
    "GS_SECRET_ACCESS_KEY": "",
    "GS_ACCESS_KEY_ID": "",
    "GOOGLE_APPLICATION_CREDENTIALS": "",
    "CPL_GS_CREDENTIALS_FILE": _NO_FILE,
    "AZURE_NO_SIGN_REQUEST": "YES",
    "AZURE_STORAGE_CONNECTION_STRING": "",
    "AZURE_STORAGE_ACCOUNT": "",
    "AZURE_STORAGE_ACCESS_KEY": "",
    "AZURE_STORAGE_SAS_TOKEN": "",
    "OSS_ACCESS_KEY_ID": "",
    "OSS_SECRET_ACCESS_KEY": "",
    "SWIFT_AUTH_TOKEN": "",
    "SWIFT_STORAGE_URL": "",
    # No side files read or written next to inputs, no Python inside VRTs.
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
}
"""Configuration that leaves GDAL without network and without credentials."""


def gdal_config(registered: RegisteredIntent) -> dict[str, str]:
    """Environment for every GDAL process of a run of ``registered`` on user data.

    Vector runs also skip every meta-format driver (``GDAL_SKIP``, which covers vector
    drivers too since GDAL 2; a name the local GDAL lacks costs a warning line) unless the
    intent accepts it: ogrinfo and ogr2ogr of GDAL 3.6 have no ``-if``. Raster runs keep the
    VRT driver, which the platform's own step chain is made of; there the declared driver is
    enforced by ``-if`` and by sniffing (see ``spatial_etl.screening``).
    """
    accepted = registered.intent.accepts.meta_drivers
    skipped = set(REFERENCING_DRIVERS - accepted) | set(SERVICE_DRIVERS_TO_SKIP)
    if not registered.intent.is_vector:
        skipped.discard("VRT")
    return {**NO_NETWORK, "GDAL_SKIP": ",".join(sorted(skipped))}
