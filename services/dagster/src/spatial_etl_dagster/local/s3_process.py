"""moto's S3 server in a process of its own, tied to the runner's life.

The local runner used to serve moto on a thread of its own process, so every object of the
landing and the lake (and each response moto builds in memory) counted in the runner's heap:
a 200k-polygon + 8000² landing took the runner to about 1.2 GiB. In a child process that
memory is the server's, returned to the system when the server ends, and the runner's peak
no longer grows with the landing.

The child must never outlive the runner, however the runner ends:

- the runner closes the child's stdin to stop it (:func:`serve` returns on end of file);
- a runner killed outright (SIGKILL skips every ``finally``) closes that pipe too, since the
  kernel closes a dead process's descriptors, and the child ends the same way;
- on Linux the child also asks for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), in
  case the pipe is held open elsewhere.

Ctrl-C reaches the whole foreground process group; the child ignores SIGINT, so the server
stays up while the runner cleans up, and stops when the runner says so.

``python -m spatial_etl_dagster.local.s3_process <parent pid>`` runs the child: it prints
its port (one line) on stdout once it serves on 127.0.0.1, then waits for the end of its stdin.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

START_TIMEOUT_S: Final = 60
"""How long the runner waits for the server's port (moto's import takes ~1 s on a quiet box)."""
STOP_TIMEOUT_S: Final = 10
"""How long the runner waits for the server to stop before killing it."""
_PR_SET_PDEATHSIG: Final = 1

logger = logging.getLogger(__name__)


class S3ServerError(RuntimeError):
    """The embedded S3 server did not start; the message carries what it printed."""


class S3Server:
    """The running child: its pid now, its endpoint once it serves (:meth:`endpoint` waits).

    Starting returns at once, so the runner imports Dagster while moto imports itself in the
    child; the first call of :meth:`endpoint` waits for the port.
    """

    def __init__(self, child: subprocess.Popen[bytes], log: Path) -> None:
        self.child = child
        self.log = log
        self._url: str | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.child.pid

    def endpoint(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """``http://127.0.0.1:<port>``, once the server serves; :class:`S3ServerError` if not."""
        if self._url is None:
            line = _readline(self.child, timeout_s)
            try:
                port = int(line)
            except ValueError:
                detail = line.decode(errors="replace").strip()
                with contextlib.suppress(OSError):
                    detail += " " + self.log.read_text(errors="replace").strip()[-2000:]
                raise S3ServerError(
                    f"the embedded S3 server did not start (exit {self.child.poll()}): "
                    + detail.strip()
                ) from None
            self._url = f"http://127.0.0.1:{port}"
        return self._url


@contextlib.contextmanager
def s3_server_process(log: Path) -> Iterator[S3Server]:
    """Start the server as a child process; yield it at once; stop it when the block ends.

    The child's stderr is appended to ``log`` (quoted when it does not start).
    """
    with log.open("ab") as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            close_fds=True,
        )
    try:
        yield S3Server(child, log)
    finally:
        _stop(child)


def _readline(child: subprocess.Popen[bytes], timeout_s: float) -> bytes:
    """The child's first stdout line, or a note once ``timeout_s`` passed without one."""
    import selectors  # noqa: PLC0415 - only the runner's side needs it

    assert child.stdout is not None  # noqa: S101 - stdout=PIPE
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return b"(no port within %d s)" % timeout_s
    return child.stdout.readline()


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (its signal to stop), wait, and kill it if it lingers."""
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        child.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        logger.warning("the embedded S3 server did not stop in %d s; killed", STOP_TIMEOUT_S)
        child.kill()
        child.wait()


def _die_with(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent dies (Linux); exit if it already did."""
    name = ctypes.util.find_library("c")
    if name is not None and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(0)


def serve(parent: int) -> None:
    """The child's body: serve moto's S3 on loopback until stdin ends or the parent dies.

    The child ends with ``os._exit``: its state is thrown away anyway (objects moto spilled
    to disk live in unlinked temporary files), and a graceful shutdown of the HTTP server
    costs a second or two of the runner's time.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - the child's own import

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    _warm_up(port)
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    while sys.stdin.buffer.read(65536):  # nothing is sent: this waits for end of file
        pass
    os._exit(0)


def _warm_up(port: int) -> None:
    """One S3 request to ourselves: moto builds its S3 backend on the first request.

    Done before the port is announced, while the runner still imports Dagster, rather than
    during the runner's first call. A failure here is the runner's to see, on its own call.
    """
    import urllib.request  # noqa: PLC0415

    scope = "local/20260101/us-east-1/s3/aws4_request"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        headers={
            "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, "
            "Signature=0",
            "X-Amz-Date": "20260101T000000Z",
        },
    )
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=60).close()  # noqa: S310


if __name__ == "__main__":
    serve(int(sys.argv[1]))
