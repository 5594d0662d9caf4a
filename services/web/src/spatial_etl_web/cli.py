"""``spatial-etl serve``: run the web catalogue with the process's settings.

Configuration is read like every command that reaches the stack (``spatial_etl.cli.connect``):
a missing or invalid variable, an unreachable MongoDB or refused credentials exit 2 with one
line naming the cause, before anything listens. The ledger is read once at start (the Catalog's
datasets) so a deployment with wrong read-only credentials fails at start, not on the first
page. Logs go to stderr; ``--timeout`` also bounds each request's wait for MongoDB.
"""

from __future__ import annotations

import copy
import logging
import sys
from typing import Any

import typer

app = typer.Typer(help="Serve the read-only web catalogue.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def serve(
    host: str | None = typer.Option(None, "--host", help="Address (SPATIAL_ETL_WEB_HOST)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="TCP port (SPATIAL_ETL_WEB_PORT; 0: any free)."
    ),
    timeout: float = typer.Option(
        5.0, "--timeout", min=0.1, help="Seconds to wait for MongoDB, at start and per request."
    ),
) -> None:
    """Serve the catalogue until interrupted: pages, the JSON API and the STAC API."""
    import uvicorn  # noqa: PLC0415 - the command line stays light
    import uvicorn.config  # noqa: PLC0415
    from spatial_etl.cli import connect  # noqa: PLC0415
    from spatial_etl.plugins.loading import load_plugins  # noqa: PLC0415
    from spatial_etl.settings import StorageSettings, WebSettings  # noqa: PLC0415

    from spatial_etl_web.app import create_app  # noqa: PLC0415
    from spatial_etl_web.catalogue import Catalogue  # noqa: PLC0415

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    web = connect.settings(WebSettings)
    storage = connect.settings(StorageSettings)
    store = connect.open_store(storage)
    with connect.ledger_errors():
        ledger = connect.open_ledger(timeout)
        try:
            datasets = ledger.committed_datasets()
        except BaseException:
            ledger.close()
            store.close()
            raise
    catalogue = Catalogue(ledger=ledger, store=store, intents=load_plugins(), settings=web)
    logging.getLogger(__name__).info(
        "catalogue of %d dataset(s) in s3://%s", len(datasets), storage.lake_bucket
    )
    try:
        uvicorn.run(
            create_app(catalogue),
            host=host or web.web_host,
            port=web.web_port if port is None else port,
            log_level="info",
            log_config=_stderr_logging(uvicorn.config.LOGGING_CONFIG),
        )
    finally:
        catalogue.close()


def _stderr_logging(config: dict[str, Any]) -> dict[str, Any]:
    """The logging of uvicorn with its access log on stderr too (it defaults to stdout)."""
    changed = copy.deepcopy(config)
    for handler in changed.get("handlers", {}).values():
        if handler.get("stream") == "ext://sys.stdout":
            handler["stream"] = "ext://sys.stderr"
    return changed
