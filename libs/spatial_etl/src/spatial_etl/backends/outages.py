"""Tell a service outage from everything else.

An outage (S3, MongoDB or PostGIS unreachable or overloaded) is nobody's fault and passes: the
work is deferred and tried again. Any other error belongs to what was being processed and is
recorded against it. The intake and the reconciler branch on this.
"""

from __future__ import annotations

from typing import Final

import psycopg2
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WTimeoutError

from spatial_etl.errors import (
    ComputeError,
    InvalidMetadataError,
    ObjectIntegrityError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    SqlStepError,
    StorageError,
)

_TRANSIENT_S3_CODES: Final = frozenset(
    {
        "500",
        "502",
        "503",
        "504",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "XMinioServerNotInitialized",
    }
)
_NOT_OUTAGES: Final = (
    ObjectNotFoundError,
    ObjectTooLargeError,
    ObjectIntegrityError,
    InvalidMetadataError,
    SqlStepError,
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means a service could not be reached or answered too slowly."""
    if isinstance(error, _NOT_OUTAGES):
        return False
    if isinstance(error, StorageError):
        return error.code is None or error.code in _TRANSIENT_S3_CODES
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    if isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError):
        return True
    if isinstance(error, ComputeError):
        return "connect" in str(error).lower()
    return isinstance(error, ConnectionError | TimeoutError)
