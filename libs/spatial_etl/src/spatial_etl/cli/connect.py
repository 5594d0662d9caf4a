"""Connections of the commands that reach the deployed stack (MongoDB, S3), in one place.

Configuration comes from ``SPATIAL_ETL_*`` variables and ``.env``, read when a command runs.
:func:`open_ledger` and :func:`open_store` are the seams tests replace (with a mongomock
ledger, or a store that fails on purpose). pymongo and boto3 are imported only here and only
when called, so commands that need neither start fast.

Exit codes: 2 when the stack cannot be used (configuration missing or wrong, server
unreachable, authentication refused), 1 for what the command found (unknown batch, invalid
upload, failed files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.markup import escape

from spatial_etl.cli.output import errors

if TYPE_CHECKING:
    from spatial_etl.backends.ledger import Ledger
    from spatial_etl.backends.storage import ObjectStore
    from spatial_etl.settings import StorageSettings

DEFAULT_TIMEOUT_S = 5.0
"""How long a command waits for a reachable MongoDB server (``--timeout``)."""

_S = TypeVar("_S")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    errors.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def settings(factory: Callable[[], _S]) -> _S:
    """Read a settings class from the environment; exit 2 naming each variable at fault."""
    try:
        return factory()
    except ValidationError as error:
        prefix = "SPATIAL_ETL_"
        lines = []
        for item in error.errors(include_url=False):
            name = prefix + "_".join(str(part) for part in item["loc"]).upper()
            problem = "is not set" if item["type"] == "missing" else f"is invalid: {item['msg']}"
            lines.append(f"{name} {problem}")
        fail("configuration: " + "; ".join(lines) + " (see .env.example)", 2)


def open_ledger(timeout_s: float) -> Ledger:
    """The configured ledger (SPATIAL_ETL_MONGODB_*); the client connects on first use."""
    from spatial_etl.backends.ledger import Ledger  # noqa: PLC0415
    from spatial_etl.settings import LedgerSettings  # noqa: PLC0415

    return Ledger.from_settings(settings(LedgerSettings), server_selection_timeout_s=timeout_s)


def open_store(storage: StorageSettings) -> ObjectStore:
    """The configured object store (SPATIAL_ETL_S3_*)."""
    from spatial_etl.backends.storage import ObjectStore  # noqa: PLC0415
    from spatial_etl.errors import StorageError  # noqa: PLC0415

    try:
        return ObjectStore.from_settings(storage)
    except StorageError as error:
        fail(f"configuration: {error}", 2)


@contextmanager
def ledger_errors() -> Iterator[None]:
    """Turn pymongo's failures into one-line errors: exit 2 when MongoDB cannot be used.

    Unreachable servers, bad URIs and refused authentication exit 2; any other database
    error, or a stored document the models refuse, exits 1.
    """
    from pymongo.errors import (  # noqa: PLC0415
        ConfigurationError,
        ConnectionFailure,
        OperationFailure,
        PyMongoError,
    )

    try:
        yield
    except ConnectionFailure as error:
        # pymongo appends the whole topology description; the first part says what failed.
        detail = str(error).split(" (configured timeouts")[0].split(", Timeout:")[0]
        fail(f"cannot reach MongoDB (SPATIAL_ETL_MONGODB_URI): {detail}", 2)
    except ConfigurationError as error:
        fail(f"configuration: SPATIAL_ETL_MONGODB_URI: {error}", 2)
    except OperationFailure as error:
        if error.code in {13, 18}:  # Unauthorized, AuthenticationFailed
            fail(f"MongoDB refused the credentials or the operation: {error.details or error}", 2)
        fail(f"MongoDB refused the operation: {error}")
    except PyMongoError as error:
        fail(f"MongoDB: {error}")
    except ValidationError as error:
        fail(f"a ledger document does not match the models: {error}")
