"""``spatial-etl local``: the real sensor and job on one machine, with embedded services.

``app`` is the typer group the core command line loads from the ``spatial_etl.commands``
entry-point group; ``python -m spatial_etl_dagster.local`` runs it on its own. Modules:
:mod:`.embedded` (S3 server, throw-away PostGIS, in-process ledger), :mod:`.runner` (upload,
sensor and job loop, outcomes), :mod:`.export` (the output directory), :mod:`.cli`.
"""

from spatial_etl_dagster.local.cli import app

__all__ = ["app"]
