"""What the web catalogue may see: the ledger and the lake, read only.

Every page and endpoint goes through :class:`Catalogue`; it offers reads and nothing else, so
the application has no write path by construction (the deployment adds read-only accounts).
"""

from __future__ import annotations

from dataclasses import dataclass

from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.plugins.registry import IntentCatalog
from spatial_etl.settings import WebSettings, read_settings


@dataclass
class Catalogue:
    """The ledger, the object store and the installed intents, for reading."""

    ledger: Ledger
    store: ObjectStore
    intents: IntentCatalog
    settings: WebSettings

    @classmethod
    def from_settings(cls) -> Catalogue:
        """Connect with the process's settings (``SPATIAL_ETL_*``), plugins loaded once."""
        from spatial_etl.plugins.loading import load_plugins  # noqa: PLC0415 - at start-up

        return cls(
            ledger=Ledger.from_settings(),
            store=ObjectStore.from_settings(),
            intents=load_plugins(),
            settings=read_settings(WebSettings),
        )

    def close(self) -> None:
        """Close the clients."""
        self.ledger.close()
        self.store.close()
