"""``local run --serve``: the web catalogue over a finished local run, on loopback.

The run's embedded S3 server and in-process ledger stay alive while the catalogue serves them
(the same ``create_app(Catalogue(...))`` as ``spatial-etl serve``), so a user browses what
the run made with the catalogue's pages and STAC API before everything is removed. uvicorn
runs in a thread without its own signal handlers: the main thread waits, and Ctrl-C (or
SIGTERM, which the command turns into the same interrupt) stops the server, then the runner
stops the services as after any run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from spatial_etl_dagster.local.embedded import CannotRun

if TYPE_CHECKING:
    from spatial_etl.backends.ledger import Ledger
    from spatial_etl.backends.storage import ObjectStore

HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080
START_TIMEOUT_S: Final = 20.0


def serve_catalogue(
    store: ObjectStore, ledger: Ledger, port: int, announce: Callable[[str], None]
) -> None:
    """Serve the catalogue on ``HOST:port`` (0: a free port) until interrupted.

    ``announce`` receives the base URL once the server listens. Returns when interrupted;
    raises :class:`CannotRun` when the port cannot be bound. Closes neither ``store`` nor
    ``ledger``: they belong to the run.
    """
    import uvicorn  # noqa: PLC0415 - loaded only when serving
    from spatial_etl.plugins.loading import load_plugins  # noqa: PLC0415
    from spatial_etl.settings import WebSettings  # noqa: PLC0415
    from spatial_etl_web.app import create_app  # noqa: PLC0415
    from spatial_etl_web.catalogue import Catalogue  # noqa: PLC0415

    class _Server(uvicorn.Server):
        def install_signal_handlers(self) -> None:  # the command handles signals
            pass

    settings = WebSettings(web_host=HOST, web_port=port or DEFAULT_PORT, web_public_url=None)
    catalogue = Catalogue(ledger=ledger, store=store, intents=load_plugins(), settings=settings)
    server = _Server(
        uvicorn.Config(create_app(catalogue), host=HOST, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="catalogue", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise CannotRun([f"cannot serve the catalogue on {HOST}:{port} (port in use?)"])
            time.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()[1]
        announce(f"http://{HOST}:{bound}")
        while thread.is_alive():
            thread.join(timeout=0.5)  # short waits: signal handlers run between them
    except KeyboardInterrupt:
        pass  # the way to stop serving
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
