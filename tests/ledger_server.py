"""One mongomock ledger shared by several processes, for tests that kill a run process.

MongoDB cannot be installed here and mongomock lives inside one interpreter, so a ledger in the
test process dies with nothing but cannot be seen by a child run, and a ledger in a child dies
with it. :func:`serve_ledger` starts a *separate* server process that holds one
``mongomock.MongoClient(tz_aware=True)`` and answers calls over an authenticated
``multiprocessing.connection`` (pickle) on loopback; :func:`connect_ledger` builds a real
:class:`spatial_etl.backends.ledger.Ledger` over a client object shaped like the part of pymongo's
``Database`` the platform uses.

Contracts:

- Every call runs under one server-side lock: operations are atomic and serialised, like a
  single-node database. Collection methods are forwarded generically (name, args, kwargs);
  results come back as plain values: cursors as lists (``find`` is lazy on the client so
  ``.sort()/.limit()/.skip()`` chain), write results as :class:`RemoteResult` with pymongo's
  attribute names. pymongo errors raised in the server are re-raised as the same types.
- :func:`set_unavailable` makes every call of every client raise
  ``ServerSelectionTimeoutError`` until switched back (a MongoDB outage).
- A client killed mid-call costs the server one connection thread, nothing else. The server
  exits when :func:`serve_ledger`'s context exits, or when the process that started it dies
  (it watches its stdin), so no test leaks it.
- Each database name gets the ledger's indexes (``ensure_indexes``) when first used; a
  :class:`LedgerAddress` names its database, so one server can hold several ledgers.
"""

from __future__ import annotations

import os
import pickle
import secrets
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.connection import Client, Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

if TYPE_CHECKING:
    from spatial_etl.backends.ledger import Ledger

_TESTS_DIR = Path(__file__).resolve().parent
_RESULT_ATTRIBUTES = (
    "acknowledged",
    "inserted_id",
    "inserted_ids",
    "matched_count",
    "modified_count",
    "upserted_id",
    "upserted_ids",
    "deleted_count",
    "inserted_count",
)
_CURSOR_CHAIN = frozenset(
    {"sort", "limit", "skip", "batch_size", "max_time_ms", "hint", "collation", "comment"}
)


class LedgerAddress(BaseModel):
    """Where a shared ledger listens: host, port, authkey (hex) and database name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int
    authkey: str
    database: str = "ledger"

    def to_json(self) -> str:
        """The address as one JSON string, for a child's argv or environment."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> LedgerAddress:
        """The address from :meth:`to_json`'s string."""
        return cls.model_validate_json(text)

    def with_database(self, database: str) -> LedgerAddress:
        """The same server, another (fresh, indexed on first use) database."""
        return self.model_copy(update={"database": database})


class RemoteResult:
    """A write's result as pymongo reports it (``inserted_id``, ``matched_count``...)."""

    def __init__(self, kind: str, attributes: Mapping[str, Any]) -> None:
        self.kind = kind
        for name, value in attributes.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "kind")
        return f"{self.kind}({shown})"


# ----------------------------------------------------------------------------- the server


class _State:
    def __init__(self) -> None:
        import mongomock

        self.client: Any = mongomock.MongoClient(tz_aware=True)
        self.indexed: set[str] = set()
        self.lock = threading.Lock()
        self.unavailable = False

    def database(self, name: str) -> Any:
        from spatial_etl.backends.ledger import ensure_indexes

        db = self.client[name]
        if name not in self.indexed:
            ensure_indexes(db)
            self.indexed.add(name)
        return db


def _plain(value: Any) -> Any:
    """A picklable plain value for a mongomock result (cursors drained, results unpacked)."""
    import mongomock.collection
    import mongomock.command_cursor

    if isinstance(value, mongomock.collection.Cursor | mongomock.command_cursor.CommandCursor):
        return list(value)
    if type(value).__module__.startswith(("pymongo.results", "mongomock.results")):
        attributes: dict[str, Any] = {}
        for name in _RESULT_ATTRIBUTES:
            try:
                attributes[name] = getattr(value, name)
            except Exception:  # noqa: BLE001, S112 - absent or unacknowledged: not reported
                continue
        return RemoteResult(type(value).__name__, attributes)
    return value


def _execute(state: _State, request: tuple[Any, ...]) -> Any:
    op = request[0]
    if op == "ping":
        return "pong"
    if op == "set_unavailable":
        state.unavailable = bool(request[1])
        return None
    if state.unavailable:
        raise ServerSelectionTimeoutError("simulated ledger outage (ledger_server.set_unavailable)")
    if op == "db":
        _, database, method, args, kwargs = request
        return _plain(getattr(state.database(database), method)(*args, **kwargs))
    if op == "collection":
        _, database, name, options, method, args, kwargs = request
        collection = state.database(database).get_collection(name, **options)
        return _plain(getattr(collection, method)(*args, **kwargs))
    if op == "find":
        _, database, name, options, args, kwargs, chain, final = request
        cursor = state.database(database).get_collection(name, **options).find(*args, **kwargs)
        for method, margs, mkwargs in chain:
            cursor = getattr(cursor, method)(*margs, **mkwargs)
        if final is not None:
            method, margs, mkwargs = final
            return _plain(getattr(cursor, method)(*margs, **mkwargs))
        return list(cursor)
    raise ValueError(f"unknown ledger server request {op!r}")


def _reply(state: _State, request: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        with state.lock:
            return ("ok", _execute(state, request))
    except BaseException as error:  # noqa: BLE001 - every error goes back to the caller
        return ("error", error)


def _serve_connection(state: _State, sock: socket.socket, authkey: bytes) -> None:
    conn = Connection(sock.detach())
    try:
        deliver_challenge(conn, authkey)
        answer_challenge(conn, authkey)
        while True:
            request = conn.recv()
            status, value = _reply(state, request)
            try:
                payload = pickle.dumps((status, value))
            except Exception:  # noqa: BLE001 - not picklable: send its text instead
                text = (
                    "".join(traceback.format_exception(value))
                    if isinstance(value, BaseException)
                    else repr(value)
                )
                payload = pickle.dumps(("error", RuntimeError(f"ledger server: {text}")))
            conn.send_bytes(payload)
    except Exception:  # noqa: BLE001 - a dead or hostile client ends its own thread only
        return
    finally:
        conn.close()


def _watch_parent() -> None:
    """Exit when the starting process dies: its end of our stdin closes."""
    while sys.stdin.buffer.read(1024):
        pass
    os._exit(0)


def _main() -> None:
    authkey = bytes.fromhex(os.environ.pop("LEDGER_SERVER_AUTHKEY"))
    state = _State()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    threading.Thread(target=_watch_parent, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(listener.getsockname()[1], flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(state, sock, authkey), daemon=True).start()


@contextmanager
def serve_ledger(
    *, database: str = "ledger", start_timeout_s: float = 30.0
) -> Iterator[LedgerAddress]:
    """Start a ledger server process; yield its address; stop and reap it on exit."""
    authkey = secrets.token_hex(16)
    env = {**os.environ, "LEDGER_SERVER_AUTHKEY": authkey}
    code = f"import sys; sys.path.insert(0, {str(_TESTS_DIR)!r}); import ledger_server; ledger_server._main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        ready = threading.Event()
        port: list[int] = []

        def read_port() -> None:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip().isdigit():
                port.append(int(line))
            ready.set()

        threading.Thread(target=read_port, daemon=True).start()
        if not ready.wait(start_timeout_s) or not port:
            raise RuntimeError(f"the ledger server did not start (exit code {proc.poll()})")
        address = LedgerAddress(host="127.0.0.1", port=port[0], authkey=authkey, database=database)
        _call(address, ("ping",))
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


# ----------------------------------------------------------------------------- the client


def _connect(address: LedgerAddress) -> Connection:
    try:
        return Client((address.host, address.port), authkey=bytes.fromhex(address.authkey))
    except (OSError, EOFError) as error:
        raise ServerSelectionTimeoutError(
            f"ledger server {address.host}:{address.port} unreachable: {error}"
        ) from None


def _call(address: LedgerAddress, request: tuple[Any, ...]) -> Any:
    conn = _connect(address)
    try:
        return _exchange(conn, request)
    finally:
        conn.close()


def _exchange(conn: Connection, request: tuple[Any, ...]) -> Any:
    try:
        conn.send(request)
        status, value = conn.recv()
    except (OSError, EOFError) as error:
        raise AutoReconnect(f"ledger server connection lost: {error}") from None
    if status == "error":
        raise value
    return value


def set_unavailable(address: LedgerAddress, unavailable: bool) -> None:
    """Switch the simulated outage on or off: every call then raises ServerSelectionTimeoutError."""
    _call(address, ("set_unavailable", unavailable))


@contextmanager
def ledger_unavailable(address: LedgerAddress) -> Iterator[None]:
    """The ledger is down inside the block, back afterwards."""
    set_unavailable(address, True)
    try:
        yield
    finally:
        set_unavailable(address, False)


class RemoteClient:
    """The ``db.client`` of a remote database: one connection, reopened after a fork or loss."""

    def __init__(self, address: LedgerAddress) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid = os.getpid()

    def request(self, request: tuple[Any, ...]) -> Any:
        """Send one request and return its value, raising the server's error as is."""
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = _connect(self.address)
                self._pid = os.getpid()
            try:
                return _exchange(self._conn, request)
            except AutoReconnect:
                self._conn.close()
                self._conn = None
                raise

    def close(self) -> None:
        """Close the connection; the next call opens another."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __getitem__(self, name: str) -> RemoteDatabase:
        return RemoteDatabase(self, name)


class RemoteDatabase:
    """The part of pymongo's ``Database`` the ledger and the tests use, served remotely."""

    def __init__(self, client: RemoteClient, name: str) -> None:
        self.client = client
        self.name = name

    def get_collection(self, name: str, **options: Any) -> RemoteCollection:
        """A collection; ``codec_options`` and other options are applied by the server."""
        return RemoteCollection(self, name, options)

    def __getitem__(self, name: str) -> RemoteCollection:
        return self.get_collection(name)

    def list_collection_names(self, *args: Any, **kwargs: Any) -> list[str]:
        """The collections of the database."""
        names: list[str] = self.client.request(
            ("db", self.name, "list_collection_names", args, kwargs)
        )
        return names

    def command(self, *args: Any, **kwargs: Any) -> Any:
        """Forwarded to mongomock, which implements few commands (NotImplementedError)."""
        return self.client.request(("db", self.name, "command", args, kwargs))

    def drop_collection(self, name: str) -> Any:
        """Drop a collection (its indexes go with it)."""
        return self.client.request(("db", self.name, "drop_collection", (name,), {}))


class RemoteCollection:
    """A collection whose methods run in the server; ``find`` returns a lazy cursor."""

    def __init__(self, database: RemoteDatabase, name: str, options: Mapping[str, Any]) -> None:
        self.database = database
        self.name = name
        self.full_name = f"{database.name}.{name}"
        self._options = dict(options)

    def with_options(self, **options: Any) -> RemoteCollection:
        """The same collection with other codec or write options."""
        return RemoteCollection(self.database, self.name, {**self._options, **options})

    def find(self, *args: Any, **kwargs: Any) -> RemoteCursor:
        """A cursor fetched, whole, when first iterated."""
        return RemoteCursor(self, args, kwargs)

    def _forward(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        database = self.database
        request = ("collection", database.name, self.name, self._options, method, args, kwargs)
        return database.client.request(request)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._forward(method, args, kwargs)

        call.__name__ = method
        return call


class RemoteCursor:
    """pymongo's ``Cursor`` for tests: chain ``sort``/``limit``/``skip``, then iterate."""

    def __init__(
        self, collection: RemoteCollection, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._collection = collection
        self._args = args
        self._kwargs = kwargs
        self._chain: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._documents: Iterator[dict[str, Any]] | None = None

    def _run(self, final: tuple[str, tuple[Any, ...], dict[str, Any]] | None) -> Any:
        collection = self._collection
        request = (
            "find",
            collection.database.name,
            collection.name,
            collection._options,
            self._args,
            self._kwargs,
            self._chain,
            final,
        )
        return collection.database.client.request(request)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method not in _CURSOR_CHAIN:
            raise AttributeError(method)

        def chain(*args: Any, **kwargs: Any) -> RemoteCursor:
            self._chain.append((method, args, kwargs))
            return self

        return chain

    def distinct(self, key: str) -> list[Any]:
        """Distinct values of ``key`` among the cursor's documents."""
        values: list[Any] = self._run(("distinct", (key,), {}))
        return values

    def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        """Every remaining document (at most ``length``)."""
        rest = list(self)
        return rest if length is None else rest[:length]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._documents is None:
            self._documents = iter(self._run(None))
        return self._documents

    def __next__(self) -> dict[str, Any]:
        return next(iter(self))

    next = __next__

    def close(self) -> None:
        """Nothing is held open server-side."""


def connect_database(address: LedgerAddress) -> RemoteDatabase:
    """The remote database alone (``db.client.close()`` closes its connection)."""
    return RemoteClient(address)[address.database]


def connect_ledger(address: LedgerAddress) -> Ledger:
    """A platform :class:`Ledger` whose database is the shared server's."""
    from spatial_etl.backends.ledger import (
        Ledger,
    )  # imported late: children that need no Ledger start faster

    db: Any = connect_database(address)
    return Ledger(db)
