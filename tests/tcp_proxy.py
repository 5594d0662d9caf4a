"""A loopback TCP proxy whose outage mode a test switches at any time (S3 unreachable...).

Modes:

- ``forward``: bytes are relayed both ways, one thread per direction.
- ``refuse``: the listening port is closed, so new connections get ECONNREFUSED at once, and
  every open connection is reset. Switching back re-listens on the same port.
- ``blackhole``: connections are accepted and never answered; bytes of open connections are
  swallowed. Leaving ``blackhole`` resets every connection that lived through it (its stream
  lost bytes and cannot be resumed).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Literal

Mode = Literal["forward", "refuse", "blackhole"]
_MODES: frozenset[str] = frozenset({"forward", "refuse", "blackhole"})


def _reset(sock: socket.socket) -> None:
    """Close with RST (linger 0), waking any thread blocked on the socket.

    ``SHUT_RD`` wakes a blocked ``recv`` without sending FIN (``SHUT_WR`` would, and the peer
    would see a clean end of stream instead of a reset).
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


class _Link:
    """One client connection and, when forwarding, its upstream connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket | None) -> None:
        self.client = client
        self.upstream = upstream
        self.blackholed = upstream is None
        self.closed = False
        self.ended = 0

    def close(self) -> None:
        self.closed = True
        _reset(self.client)
        if self.upstream is not None:
            _reset(self.upstream)


class TcpProxy:
    """A proxy from ``127.0.0.1:<port>`` to ``target_host:target_port``; a context manager."""

    def __init__(self, target_host: str, target_port: int, *, mode: Mode = "forward") -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.target = (target_host, target_port)
        self._mode: Mode = mode
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self.port = 0
        self.accepted = 0
        """Connections accepted so far (in any mode): retries show up here."""

    # lifecycle

    def __enter__(self) -> TcpProxy:
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        if self._mode == "refuse":
            self._listener.close()
            self._listener = None
        self._spawn(self._accept_loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening, reset every connection, join the threads."""
        self._stopping.set()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            links = list(self._links)
            self._links.clear()
        for link in links:
            link.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def url(self, scheme: str = "http") -> str:
        """``scheme://127.0.0.1:<port>``, e.g. an S3 endpoint URL through the proxy."""
        return f"{scheme}://127.0.0.1:{self.port}"

    # modes

    @property
    def mode(self) -> Mode:
        """The current mode."""
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        """Switch mode now; see the module's docstring for what each switch does."""
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            previous, self._mode = self._mode, mode
            if mode == previous:
                return
            doomed: list[_Link] = []
            if mode == "refuse" or previous == "blackhole":
                doomed = list(self._links)
                self._links.clear()
            elif mode == "blackhole":
                for link in self._links:
                    link.blackholed = True
            if mode == "refuse" and self._listener is not None:
                self._listener.close()
                self._listener = None
            if mode != "refuse" and self._listener is None:
                self._listener = self._listen(self.port)
        for link in doomed:
            link.close()

    def forward(self) -> None:
        """Relay bytes again."""
        self.set_mode("forward")

    def refuse(self) -> None:
        """Refuse new connections and reset open ones."""
        self.set_mode("refuse")

    def blackhole(self) -> None:
        """Accept and never answer."""
        self.set_mode("blackhole")

    # internals

    @staticmethod
    def _listen(port: int) -> socket.socket:
        deadline = time.monotonic() + 5
        while True:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            sock.listen(128)
            sock.setblocking(False)
            return sock

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                continue  # closed by a mode switch meanwhile
            client.setblocking(True)
            self._admit(client)

    def _admit(self, client: socket.socket) -> None:
        self.accepted += 1
        upstream: socket.socket | None = None
        if self._mode == "forward":
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                return
        link = _Link(client, upstream)
        with self._lock:
            if self._stopping.is_set() or self._mode == "refuse":
                link.close()
                return
            if self._mode == "blackhole":
                link.blackholed = True
            self._links.add(link)
        self._spawn(self._pump, link, client, upstream)
        if upstream is not None:
            self._spawn(self._pump, link, upstream, client)

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket | None) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if link.blackholed or sink is None:
                    continue
                sink.sendall(data)
        except OSError:
            link.close()  # one side broke: reset both, as a dropped route would
        else:
            if sink is not None and not link.blackholed and not link.closed:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
        finally:
            with self._lock:
                link.ended += 1
                done = link.ended >= (1 if link.upstream is None else 2)
                if done:
                    self._links.discard(link)
            if done and not link.closed:
                link.closed = True
                for sock in (link.client, link.upstream):
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.close()
