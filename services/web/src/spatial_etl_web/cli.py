"""``spatial-etl serve``: run the web catalogue with the process's settings."""

from __future__ import annotations

import typer

app = typer.Typer(help="Serve the read-only web catalogue.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def serve(
    host: str | None = typer.Option(None, "--host", help="Address (SPATIAL_ETL_WEB_HOST)."),
    port: int | None = typer.Option(None, "--port", help="TCP port (SPATIAL_ETL_WEB_PORT)."),
) -> None:
    """Serve the catalogue until interrupted: pages, the JSON API and the STAC API."""
    import uvicorn  # noqa: PLC0415 - the command line stays light

    from spatial_etl_web.app import create_app  # noqa: PLC0415
    from spatial_etl_web.catalogue import Catalogue  # noqa: PLC0415

    catalogue = Catalogue.from_settings()
    try:
        settings = catalogue.settings
        uvicorn.run(
            create_app(catalogue),
            host=host or settings.web_host,
            port=port or settings.web_port,
            log_level="info",
        )
    finally:
        catalogue.close()
