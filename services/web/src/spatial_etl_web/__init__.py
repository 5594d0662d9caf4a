"""The platform's read-only web catalogue: HTML pages, a JSON API and a STAC API.

:func:`spatial_etl_web.app.create_app` builds the ASGI application over a
:class:`spatial_etl_web.catalogue.Catalogue` (the ledger and the lake, read only);
``spatial-etl serve`` runs it. Nothing is imported or read from the environment at import time.
"""
