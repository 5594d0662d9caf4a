"""Tell a service outage from everything else.

An outage (S3, MongoDB or PostGIS unreachable or overloaded) is nobody's fault and passes: the
work is deferred and tried again. Any other error belongs to what was being processed and is
recorded against it. The intake and the reconciler branch on this.
"""

from __future__ import annotations

from typing import Final

import psycopg2
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WTimeoutError

from spatial_etl.backends.storage import TRANSIENT_S3_CODES
from spatial_etl.errors import (
    ComputeError,
    GdalError,
    InvalidMetadataError,
    ObjectIntegrityError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    ServiceUnavailableError,
    SqlStepError,
    StorageError,
)

_NOT_OUTAGES: Final = (
    ObjectNotFoundError,
    ObjectTooLargeError,
    ObjectIntegrityError,
    InvalidMetadataError,
    SqlStepError,
    GdalError,
)

_OUTAGES: Final = (
    ServiceUnavailableError,
    ConnectionFailure,
    ExecutionTimeout,
    WTimeoutError,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    ConnectionError,
    TimeoutError,
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means a service could not be reached or answered too slowly."""
    if isinstance(error, _NOT_OUTAGES):
        return False
    if isinstance(error, StorageError):  # also raised by the store itself, without a code
        return error.code is None or error.code in TRANSIENT_S3_CODES
    if isinstance(error, ComputeError):
        return isinstance(error, ServiceUnavailableError) or "connect" in str(error).lower()
    return isinstance(error, _OUTAGES)
