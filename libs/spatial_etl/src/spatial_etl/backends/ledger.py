"""The MongoDB ledger: collection validators, indexes, and the reads and writes of a run.

The documents are defined once, by the Pydantic models of :mod:`spatial_etl.models.ledger`.
This module derives everything MongoDB needs from them and keeps writes honest:

- :func:`spatial_etl.backends.mongo_schema.mongo_json_schema` translates a model's JSON Schema into
  MongoDB's ``$jsonSchema`` dialect, so the database validator and the models cannot drift.
- :func:`collection_commands` builds the exact ``create``/``collMod`` commands (pure, hence
  testable without a server); :func:`init_ledger` sends them and creates the indexes.
- :class:`Ledger` validates every write with the models, then stores the Python-mode dump
  (datetimes stay BSON dates), and turns unique-index violations into platform errors.

Requires MongoDB 6.0 or later: the assets' unique indexes are partial with an ``$in`` filter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, TypeVar

from bson.codec_options import CodecOptions
from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, ExecutionTimeout

from spatial_etl.backends import asset_filters, batch_filters
from spatial_etl.backends.mongo_schema import mongo_json_schema
from spatial_etl.errors import (
    AssetQueryError,
    BatchBusyError,
    DuplicateAssetError,
    DuplicateBatchError,
    LedgerError,
)
from spatial_etl.models.asset_search import SearchBox
from spatial_etl.models.ledger import (
    AssetDocument,
    AssetStatus,
    BatchDocument,
    BatchLease,
    BatchStatus,
    InputRecord,
    RunDocument,
    RunError,
    StepRecord,
    utc_millis,
)
from spatial_etl.models.problems import Problem
from spatial_etl.settings import LedgerSettings

Document = dict[str, Any]
MAX_RECORDED_STEPS: Final = 1000
"""Steps kept in a run document: a batch of thousands of inputs must not outgrow a document."""
_D = TypeVar("_D", bound=BaseModel)

# --- Collections, validators, indexes -----------------------------------------------------------

_SLOT_HOLDERS: Final = MappingProxyType({"status": {"$in": ["pending", "committed"]}})
"""Assets that own their version and key: failed attempts and duplicate records do not."""


class IndexSpec(NamedTuple):
    """One index, named explicitly so re-creating it is a no-op and changing it an error."""

    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    partial: Mapping[str, Any] | None = None

    def options(self) -> Document:
        """Keyword arguments of ``Collection.create_index`` besides the keys."""
        options: Document = {"name": self.name, "unique": self.unique}
        if self.partial is not None:
            options["partialFilterExpression"] = dict(self.partial)
        return options

    def document(self) -> Document:
        """The index as a ``createIndexes`` command lists it: ``key`` then the options."""
        return {"key": dict(self.keys), **self.options()}


class CollectionSpec(NamedTuple):
    """A ledger collection: the model its documents follow and the indexes it needs."""

    model: type[BaseModel]
    indexes: tuple[IndexSpec, ...]


_UP, _DOWN = ASCENDING, DESCENDING


def _extent_keys(first: str, second: str) -> tuple[tuple[str, int], ...]:
    """An extent index led by one longitude (the range a search bounds), then the others."""
    names = (first, second, "south", "north")
    return (("status", _UP), *((f"{asset_filters.EXTENT}.{name}", _UP) for name in names))


COLLECTIONS: Final[Mapping[str, CollectionSpec]] = MappingProxyType(
    {
        "batches": CollectionSpec(
            BatchDocument,
            (
                IndexSpec(
                    "manifest_key_etag_unique",
                    (("manifest_key", _UP), ("manifest_etag", _UP)),
                    unique=True,
                ),
                IndexSpec("status", (("status", _UP),)),
                # listings of people (the web catalogue): batch_filters' fields, newest first
                IndexSpec("received_at_id", batch_filters.NEWEST_FIRST),
                IndexSpec("status_received_at_id", (("status", _UP), *batch_filters.NEWEST_FIRST)),
                IndexSpec(
                    "uploader_received_at_id",
                    ((batch_filters.UPLOADER, _UP), *batch_filters.NEWEST_FIRST),
                ),
                IndexSpec(
                    "project_received_at_id",
                    ((batch_filters.PROJECT, _UP), *batch_filters.NEWEST_FIRST),
                ),
            ),
        ),
        "runs": CollectionSpec(
            RunDocument,
            (IndexSpec("batch_id", (("batch_id", _UP),)), IndexSpec("status", (("status", _UP),))),
        ),
        "assets": CollectionSpec(
            AssetDocument,
            (
                IndexSpec(
                    "intent_dataset_version_unique",
                    (("intent", _UP), ("dataset", _UP), ("version", _UP)),
                    unique=True,
                    partial=_SLOT_HOLDERS,
                ),
                IndexSpec("s3_key_unique", (("s3_key", _UP),), unique=True, partial=_SLOT_HOLDERS),
                IndexSpec(
                    "intent_dataset_sha256_unique",
                    (("intent", _UP), ("dataset", _UP), ("sha256", _UP)),
                    unique=True,
                    partial=_SLOT_HOLDERS,
                ),
                IndexSpec("status", (("status", _UP),)),
                IndexSpec(
                    "intent_dataset_status_version",
                    (("intent", _UP), ("dataset", _UP), ("status", _UP), ("version", _DOWN)),
                ),
                IndexSpec("sha256", (("sha256", _UP),)),
                IndexSpec("status_catalogued_at", (("status", _UP), ("catalogued_at", _UP))),
                IndexSpec("run_id", (("run_id", _UP),)),
                IndexSpec("batch_id", (("batch_id", _UP),)),
                # searches of people (assets list/show): asset_filters' fields
                IndexSpec("status_committed_at", (("status", _UP), ("committed_at", _DOWN))),
                IndexSpec(
                    "project_status_committed_at",
                    (("provenance.project", _UP), ("status", _UP), ("committed_at", _DOWN)),
                ),
                IndexSpec("status_extent_west", _extent_keys("west", "east")),
                IndexSpec("status_extent_east", _extent_keys("east", "west")),
                IndexSpec(
                    "duplicate_of", (("duplicate_of", _UP),), partial={"status": "duplicate"}
                ),
            ),
        ),
    }
)
"""Every ledger collection by name: ``batches``, ``runs``, ``assets``."""


def collection_commands(existing: Set[str] = frozenset()) -> list[Document]:
    """The commands that give every collection its validator, in ``COLLECTIONS`` order.

    A collection in ``existing`` gets ``collMod`` (its validator is replaced), any other gets
    ``create``. Both carry the same validator, ``validationLevel: strict`` and
    ``validationAction: error``, so a document the models refuse never reaches the disk.
    """
    commands: list[Document] = []
    for name, spec in COLLECTIONS.items():
        verb = "collMod" if name in existing else "create"
        commands.append(
            {
                verb: name,
                "validator": {"$jsonSchema": mongo_json_schema(spec.model)},
                "validationLevel": "strict",
                "validationAction": "error",
            }
        )
    return commands


def index_commands() -> list[Document]:
    """The ``createIndexes`` commands equivalent to :func:`ensure_indexes`, one per collection.

    Pure, like :func:`collection_commands`: what ``spatial-etl ledger init --dry-run`` prints.
    """
    return [
        {"createIndexes": name, "indexes": [index.document() for index in spec.indexes]}
        for name, spec in COLLECTIONS.items()
    ]


def ensure_indexes(db: Database[Document]) -> list[str]:
    """Create every collection's indexes; existing identical indexes are left alone.

    One ``create_index`` per index rather than ``create_indexes``: the same command on a
    server, but mongomock's ``create_indexes`` drops ``partialFilterExpression``.
    """
    done: list[str] = []
    for name, spec in COLLECTIONS.items():
        for index in spec.indexes:
            db[name].create_index(list(index.keys), **index.options())
        done.append(f"indexes of {name}: {', '.join(index.name for index in spec.indexes)}")
    return done


def init_ledger(db: Database[Document]) -> list[str]:
    """Create or update the ledger's collections, validators and indexes; idempotent.

    The commands come from :func:`collection_commands` (pure, what tests assert) and are sent
    with ``db.command``; indexes come from :func:`ensure_indexes`. mongomock implements
    neither ``create`` with a validator nor ``collMod``, which is why the two halves are
    separate. Returns one line per action, for the operator.
    """
    existing = set(db.list_collection_names())
    done: list[str] = []
    for command in collection_commands(existing):
        verb, name = next(iter(command.items()))
        db.command(command)
        done.append(f"{'updated the validator of' if verb == 'collMod' else 'created'} {name}")
    return done + ensure_indexes(db)


# --- Reads and writes ---------------------------------------------------------------------------

_BATCH_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "received": frozenset({"rejected", "running", "failed"}),
        "running": frozenset({"running", "succeeded", "failed"}),
        "succeeded": frozenset({"running"}),
        "failed": frozenset({"running"}),
        "rejected": frozenset(),
    }
)
"""Allowed batch status changes; a re-execution takes a finished batch back to running."""

_REPLACEABLE: Final = frozenset({"received", "rejected", "failed"})
"""Batch statuses a re-uploaded manifest (new ETag) may replace."""

_ASSET_ORDER: Final = (("created_at", ASCENDING), ("dataset", ASCENDING), ("version", ASCENDING))
"""How a batch's or a run's assets are listed: in the order they were published."""


def _inserted(collection: Collection[Document], document: Document) -> bool:
    """Insert unless a unique index already holds an equal key; tell which happened."""
    try:
        collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _to_bson(doc: BaseModel) -> Document:
    """What the ledger stores: the Python-mode dump by alias (datetimes stay datetimes).

    The document is validated again first: ``model_copy(update=...)`` skips validation, and
    a copy is the natural way to derive one ledger document from another.
    """
    return _revalidate(doc, {}).model_dump(by_alias=True)


def _revalidate(doc: _D, changes: Mapping[str, Any]) -> _D:
    """The document with ``changes`` applied, validated whole (cross-field rules included)."""
    return type(doc).model_validate({**doc.model_dump(by_alias=False), **changes})


class Ledger:
    """The run's reads and writes of the ledger, over a pymongo ``Database``.

    Every write validates a whole document with the models before it is sent; status changes
    are compare-and-set on the current status, so two writers cannot both win a transition.
    """

    def __init__(self, db: Database[Document], *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.db = db
        self._clock = clock
        # BSON dates carry no zone; reading them as aware UTC keeps the models' rule.
        options: CodecOptions[Document] = CodecOptions(tz_aware=True)
        self._batches = db.get_collection("batches", codec_options=options)
        self._runs = db.get_collection("runs", codec_options=options)
        self._assets = db.get_collection("assets", codec_options=options)

    @classmethod
    def from_settings(
        cls,
        settings: LedgerSettings | None = None,
        *,
        server_selection_timeout_s: float | None = None,
    ) -> Ledger:
        """A ledger on the configured database; the client connects on first use.

        ``server_selection_timeout_s`` bounds how long an operation waits for a reachable
        server before raising ``ServerSelectionTimeoutError`` (pymongo's default is 30 s;
        the command line uses a few seconds). ``None`` keeps the URI's or pymongo's value.
        """
        settings = settings if settings is not None else LedgerSettings()
        options: dict[str, Any] = {}
        if server_selection_timeout_s is not None:
            if server_selection_timeout_s <= 0:
                raise ValueError(
                    f"server_selection_timeout_s must be positive, not {server_selection_timeout_s}"
                )
            options["serverSelectionTimeoutMS"] = round(server_selection_timeout_s * 1000)
        client: MongoClient[Document] = MongoClient(
            settings.mongodb_uri.get_secret_value(),
            tz_aware=True,
            connect=False,
            appname="spatial-etl",
            **options,
        )
        return cls(client[settings.mongodb_database])

    def close(self) -> None:
        """Close the client's connections."""
        self.db.client.close()

    # batches

    def record_batch(self, doc: BatchDocument) -> bool:
        """Record a manifest the sensor saw; False when this manifest object is already recorded.

        The same manifest seen again (same key and ETag) is a no-op. A re-uploaded manifest
        may replace a batch that was rejected, failed, or is still waiting for its files (a
        correction or a retry); reusing the id of a running or succeeded batch raises
        :class:`DuplicateBatchError`.
        """
        stored = _to_bson(doc)
        if _inserted(self._batches, stored):
            return True
        existing = self.get_batch(doc.batch_id)
        if existing is None:
            raise DuplicateBatchError(
                f"manifest {doc.manifest_key} (ETag {doc.manifest_etag}) is recorded under "
                "another batch id"
            )
        if (existing.manifest_key, existing.manifest_etag) == (doc.manifest_key, doc.manifest_etag):
            return self._note_reupload(existing, doc)
        if existing.status not in _REPLACEABLE:
            raise DuplicateBatchError(
                f"batch {doc.batch_id!r} is already {existing.status} with another manifest; "
                "upload the new one under a new batch id"
            )
        guard = {
            "_id": doc.batch_id,
            "status": existing.status,
            "manifest_etag": existing.manifest_etag,
        }
        if self._batches.replace_one(guard, stored).matched_count == 0:
            raise LedgerError(f"batch {doc.batch_id!r} changed while it was replaced; retry")
        return True

    def _note_reupload(self, existing: BatchDocument, doc: BatchDocument) -> bool:
        """The same bytes uploaded again: a retry, unless the batch is running.

        Records the new modification time (so the upload is told apart from the one already
        examined) and returns True; returns False for the very object already recorded, and
        for a running batch (its run will settle this manifest).
        """
        if (
            doc.manifest_modified is None
            or doc.manifest_modified == existing.manifest_modified
            or existing.status == "running"
        ):
            return False
        guard = {"_id": existing.batch_id, "status": existing.status}
        changes = {"manifest_modified": doc.manifest_modified, "updated_at": self._clock()}
        self._batches.update_one(guard, {"$set": changes})
        return True

    def update_batch_status(
        self,
        batch_id: str,
        status: BatchStatus,
        *,
        problems: Sequence[Problem] = (),
        run_id: str | None = None,
    ) -> BatchDocument:
        """Move a batch to ``status`` (see ``_BATCH_TRANSITIONS``), adding ``run_id`` if given.

        ``problems`` replaces the batch's problems: required when rejecting, refused otherwise.
        """
        current = self._load(self._batches, BatchDocument, batch_id)
        if status not in _BATCH_TRANSITIONS[current.status]:
            raise LedgerError(f"batch {batch_id!r} is {current.status}; it cannot become {status}")
        changes: dict[str, Any] = {
            "status": status,
            "problems": list(problems),
            "updated_at": self._clock(),
        }
        if status != "running":
            changes["lease"] = None
        added = {"run_ids": run_id} if run_id is not None else {}
        return self._apply(self._batches, current, current.status, changes, added=added)

    def acquire_batch(self, batch_id: str, run_id: str) -> BatchDocument:
        """Lease the batch to ``run_id`` (status ``running``); compare-and-set, so one run wins.

        A batch already leased to ``run_id`` is returned unchanged (a retried call). A batch
        leased to another run raises :class:`BatchBusyError` naming it: only the reconciler,
        once that run is dead, frees the batch (:meth:`release_batch` or
        :meth:`update_batch_status`).
        """
        current = self._load(self._batches, BatchDocument, batch_id)
        if current.status == "running":
            holder = current.lease.run_id if current.lease else None
            if holder == run_id:
                return current
            raise BatchBusyError(batch_id, holder or ", ".join(current.run_ids) or "unknown")
        if "running" not in _BATCH_TRANSITIONS[current.status]:
            raise LedgerError(f"batch {batch_id!r} is {current.status}; it cannot run")
        now = self._clock()
        changes = {
            "status": "running",
            "problems": [],
            "updated_at": now,
            "lease": BatchLease(run_id=run_id, acquired_at=now),
        }
        try:
            return self._apply(
                self._batches, current, current.status, changes, added={"run_ids": run_id}
            )
        except LedgerError:
            latest = self.get_batch(batch_id)
            holder = latest.lease.run_id if latest and latest.lease else "another run"
            raise BatchBusyError(batch_id, holder) from None

    def release_batch(
        self, batch_id: str, run_id: str, status: Literal["succeeded", "failed"]
    ) -> BatchDocument:
        """End ``run_id``'s lease with the batch's outcome; idempotent for the same outcome.

        A batch still ``received`` may become failed: its run failed before it took the lease
        (the ledger was unreachable, the intent was gone).

        Raises :class:`LedgerError` when another run holds the batch: a run whose lease was
        taken from it (declared dead by the reconciler) must not overwrite the outcome.
        """
        current = self._load(self._batches, BatchDocument, batch_id)
        if current.status == status and current.lease is None:
            return current
        holder = current.lease.run_id if current.lease else None
        never_leased = current.status == "received" and status == "failed"
        if not never_leased and (current.status != "running" or holder not in (run_id, None)):
            raise LedgerError(
                f"batch {batch_id!r} is {current.status}"
                + (f", held by run {holder}" if holder else "")
                + f"; run {run_id} cannot settle it"
            )
        changes = {"status": status, "lease": None, "updated_at": self._clock()}
        return self._apply(self._batches, current, current.status, changes)

    def get_batch(self, batch_id: str) -> BatchDocument | None:
        """The batch, or None when it was never recorded."""
        return self._find(self._batches, BatchDocument, {"_id": batch_id})

    def batches_in(self, status: BatchStatus, limit: int = 1000) -> list[BatchDocument]:
        """Batches in ``status`` (index ``status``), oldest change first: the reconciler's view."""
        order = [("updated_at", ASCENDING), ("_id", ASCENDING)]
        return self._find_all(self._batches, BatchDocument, {"status": status}, order, limit)

    def list_batches(
        self,
        *,
        status: BatchStatus | None = None,
        uploader: str | None = None,
        project: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: batch_filters.BatchKey | None = None,
        limit: int = 100,
    ) -> list[BatchDocument]:
        """Batches newest first (``received_at``, then id, both descending), at most ``limit``.

        Criteria (all must hold; :mod:`~spatial_etl.backends.batch_filters` has the rules):
        ``uploader`` and ``project`` (the manifest's ``metadata.project``) match exactly;
        ``since`` (inclusive) and ``until`` (exclusive) bound ``received_at``; ``after`` is the
        :class:`~spatial_etl.backends.batch_filters.BatchKey` of the last batch of the previous
        page. Each criterion has an index ending in the listing order. A bad window raises
        :class:`~spatial_etl.errors.BatchQueryError`.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        query = batch_filters.batch_filter(
            status=status,
            uploader=uploader,
            project=project,
            since=since,
            until=until,
            after=after,
        )
        order = list(batch_filters.NEWEST_FIRST)
        return self._find_all(self._batches, BatchDocument, query, order, limit)

    # runs

    def start_run(self, doc: RunDocument) -> None:
        """Record a run that has started; a run id is recorded once."""
        if doc.status != "running":
            raise ValueError(f"start_run takes a running run, not a {doc.status} one")
        try:
            self._runs.insert_one(_to_bson(doc))
        except DuplicateKeyError:
            raise LedgerError(f"run {doc.run_id!r} is already recorded") from None

    def finish_run(
        self,
        run_id: str,
        status: Literal["succeeded", "failed"],
        *,
        error: RunError | None = None,
        outputs: Sequence[str] | None = None,
        inputs: Sequence[InputRecord] | None = None,
        timings: Mapping[str, float] | None = None,
        steps: Sequence[StepRecord] = (),
        finished_at: datetime | None = None,
        cleanup_errors: Sequence[str] = (),
    ) -> RunDocument:
        """Finish a running run: its outcome, error (for a failure), outputs and timings.

        ``outputs`` and ``inputs`` replace the recorded ones when given (a run learns its
        inputs' digests while staging); ``timings`` is merged into the
        recorded ones. Finishing a run that is not running raises :class:`LedgerError`.
        """
        current = self._load(self._runs, RunDocument, run_id)
        if current.status != "running":
            raise LedgerError(f"run {run_id!r} already finished: {current.status}")
        changes: dict[str, Any] = {
            "status": status,
            "error": error,
            "finished_at": finished_at or self._clock(),
            "timings": {**current.timings, **(timings or {})},
        }
        if outputs is not None:
            changes["outputs"] = list(outputs)
        if inputs is not None:
            changes["inputs"] = list(inputs)
        if cleanup_errors:
            changes["cleanup_errors"] = [*current.cleanup_errors, *filter(None, cleanup_errors)]
        if steps:
            changes["steps"] = [*current.steps, *steps][:MAX_RECORDED_STEPS]
        return self._apply(self._runs, current, current.status, changes)

    def get_run(self, run_id: str) -> RunDocument | None:
        """The run, or None when it was never recorded."""
        return self._find(self._runs, RunDocument, {"_id": run_id})

    def running_runs(self, limit: int = 1000) -> list[RunDocument]:
        """Runs recorded as running (index ``status``), oldest first: the reconciler's view."""
        order = [("started_at", ASCENDING), ("_id", ASCENDING)]
        return self._find_all(self._runs, RunDocument, {"status": "running"}, order, limit)

    def add_run_output(self, run_id: str, asset_id: str) -> None:
        """List an asset among a run's outputs (the reconciler committing a dead run's asset)."""
        self._runs.update_one({"_id": run_id}, {"$addToSet": {"outputs": asset_id}})

    def add_cleanup_errors(self, run_id: str, errors: Sequence[str]) -> None:
        """Attach cleanup failures to a run, whatever its status (they never change it)."""
        kept = [text for text in errors if text]
        if kept:
            self._runs.update_one({"_id": run_id}, {"$push": {"cleanup_errors": {"$each": kept}}})

    # assets

    def insert_pending_asset(self, doc: AssetDocument) -> None:
        """Record an asset about to be uploaded, claiming its version and key.

        Raises :class:`DuplicateAssetError` when a pending or committed asset already holds
        the same (intent, dataset, version), the same key, or the same id: the publish lost a
        race or is a retry. The caller then uploads nothing; it looks for committed content
        with the same hash (:meth:`find_committed_by_sha256`, a duplicate to record) or else
        takes :meth:`next_version` and tries again.
        """
        if doc.status != "pending":
            raise ValueError(f"insert_pending_asset takes a pending asset, not a {doc.status} one")
        try:
            self._assets.insert_one(_to_bson(doc))
        except DuplicateKeyError as error:
            raise DuplicateAssetError(
                f"{doc.intent}/{doc.dataset} version {doc.version} (key {doc.s3_key}, id "
                f"{doc.asset_id}) is already held by another asset: {error.details or error}"
            ) from None

    def record_duplicate(self, doc: AssetDocument) -> None:
        """Record that a run reproduced a committed asset (``doc.duplicate_of``); no upload."""
        if doc.status != "duplicate" or doc.duplicate_of is None:
            raise ValueError("record_duplicate takes a duplicate asset naming its original")
        original = self.get_asset(doc.duplicate_of)
        if original is None or original.status != "committed":
            raise LedgerError(f"asset {doc.duplicate_of} is not a committed asset")
        try:
            self._assets.insert_one(_to_bson(doc))
        except DuplicateKeyError:
            raise DuplicateAssetError(f"asset id {doc.asset_id} is already recorded") from None

    def commit_asset(self, asset_id: str, committed_at: datetime) -> AssetDocument:
        """Mark a pending asset committed (its object is uploaded and verified)."""
        return self._settle(asset_id, {"status": "committed", "committed_at": committed_at})

    def fail_asset(self, asset_id: str, reason: str) -> AssetDocument:
        """Mark a pending asset failed; it frees its version and key for a retry."""
        return self._settle(asset_id, {"status": "failed", "failure": reason})

    def pending_assets(self, limit: int = 1000) -> list[AssetDocument]:
        """Assets still pending (index ``status``), oldest first: the reconciler's view."""
        order = [("created_at", ASCENDING), ("_id", ASCENDING)]
        return self._find_all(self._assets, AssetDocument, {"status": "pending"}, order, limit)

    def get_asset(self, asset_id: str) -> AssetDocument | None:
        """The asset in whatever status, or None; readers must check ``status``."""
        return self._find(self._assets, AssetDocument, {"_id": asset_id})

    def latest_committed(self, intent: str, dataset: str) -> AssetDocument | None:
        """The committed asset with the highest version of a dataset, or None."""
        query = {"intent": intent, "dataset": dataset, "status": "committed"}
        return self._find(self._assets, AssetDocument, query, newest=True)

    def find_committed_by_sha256(
        self, intent: str, dataset: str, sha256: str
    ) -> AssetDocument | None:
        """The newest committed version of a dataset with this content hash, or None."""
        query = {"intent": intent, "dataset": dataset, "status": "committed", "sha256": sha256}
        return self._find(self._assets, AssetDocument, query, newest=True)

    def next_version(self, intent: str, dataset: str) -> int:
        """The version a new publish should claim: one above every pending or committed one.

        Pending versions count: a run that died mid-publish keeps its claim, and skipping it
        is cheaper than guessing whether its upload finished.
        """
        query = {"intent": intent, "dataset": dataset, **_SLOT_HOLDERS}
        top = self._find(self._assets, AssetDocument, query, newest=True)
        return 1 if top is None else top.version + 1

    # the STAC catalogue's view

    def committed_versions(self, intent: str, dataset: str) -> list[AssetDocument]:
        """Every committed version of a dataset, oldest first: what its Collection lists."""
        query = {"intent": intent, "dataset": dataset, "status": "committed"}
        return self._find_all(self._assets, AssetDocument, query, [("version", ASCENDING)])

    def committed_datasets(self) -> list[tuple[str, str]]:
        """Every (intent, dataset) with a committed version, sorted: what the Catalog lists."""
        pipeline: list[Document] = [
            {"$match": {"status": "committed"}},
            {"$group": {"_id": {"intent": "$intent", "dataset": "$dataset"}}},
        ]
        found = self._assets.aggregate(pipeline, allowDiskUse=True)
        return sorted((str(raw["_id"]["intent"]), str(raw["_id"]["dataset"])) for raw in found)

    def search_committed(
        self,
        *,
        datasets: Sequence[tuple[str, str]] | None = None,
        versions: Sequence[tuple[str, str, int]] | None = None,
        bbox: SearchBox | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        after: tuple[str, str, int] | None = None,
        limit: int = 100,
    ) -> list[AssetDocument]:
        """Committed versions for the STAC API's item search, by (intent, dataset, version).

        ``datasets`` and ``versions`` restrict to those (an empty sequence matches nothing);
        ``created_from``/``created_to`` bound ``created_at`` (the Item's ``datetime``), both
        ends closed as STAC intervals are; ``after`` resumes past that key (keyset paging over
        the index ``intent_dataset_status_version``, stable while versions are added).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if (datasets is not None and not datasets) or (versions is not None and not versions):
            return []
        clauses: list[Document] = [asset_filters.asset_filter(status="committed", bbox=bbox)]
        if datasets is not None:
            clauses.append({"$or": [{"intent": i, "dataset": d} for i, d in datasets]})
        if versions is not None:
            clauses.append(
                {"$or": [{"intent": i, "dataset": d, "version": v} for i, d, v in versions]}
            )
        created: Document = {}
        if created_from is not None:
            created["$gte"] = created_from
        if created_to is not None:
            created["$lte"] = created_to
        if created:
            clauses.append({"created_at": created})
        if after is not None:
            intent, dataset, version = after
            clauses.append(
                {
                    "$or": [
                        {"intent": {"$gt": intent}},
                        {"intent": intent, "dataset": {"$gt": dataset}},
                        {"intent": intent, "dataset": dataset, "version": {"$gt": version}},
                    ]
                }
            )
        order = [("intent", _UP), ("dataset", _UP), ("version", _UP)]
        return self._find_all(self._assets, AssetDocument, {"$and": clauses}, order, limit)

    def uncatalogued_assets(self, limit: int = 1000) -> list[AssetDocument]:
        """Committed versions not yet in their Collection (index ``status_catalogued_at``)."""
        query = {"status": "committed", "catalogued_at": None}
        return self._find_all(self._assets, AssetDocument, query, _ASSET_ORDER, limit)

    def mark_catalogued(self, asset_ids: Sequence[str], when: datetime) -> int:
        """Record that the Collection and Catalog written at ``when`` include these versions.

        Only committed versions not yet marked change; returns how many did.
        """
        if not asset_ids:
            return 0
        result = self._assets.update_many(
            {"_id": {"$in": list(asset_ids)}, "status": "committed", "catalogued_at": None},
            {"$set": {"catalogued_at": utc_millis(when)}},
        )
        return int(result.modified_count)

    # reads for people (the command line)

    def runs_of_batch(self, batch_id: str) -> list[RunDocument]:
        """Every run of a batch, oldest first (index ``batch_id`` of ``runs``)."""
        query = {"batch_id": batch_id}
        order = [("started_at", ASCENDING), ("_id", ASCENDING)]
        return self._find_all(self._runs, RunDocument, query, order)

    def assets_of_run(self, run_id: str) -> list[AssetDocument]:
        """Every asset document a run wrote, in any status (index ``run_id``)."""
        return self._find_all(self._assets, AssetDocument, {"run_id": run_id}, _ASSET_ORDER)

    def assets_of_batch(self, batch_id: str, *, limit: int = 0) -> list[AssetDocument]:
        """Every asset document of a batch's runs, in any status (index ``batch_id``).

        Readers must check ``status``: only committed assets exist in the lake. ``limit``
        bounds the documents returned (0: all of them).
        """
        query = {"batch_id": batch_id}
        return self._find_all(self._assets, AssetDocument, query, _ASSET_ORDER, limit)

    def list_assets(
        self,
        *,
        intent: str | None = None,
        dataset: str | None = None,
        status: AssetStatus = "committed",
        latest_only: bool = True,
        limit: int = 100,
        project: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        bbox: SearchBox | None = None,
    ) -> list[AssetDocument]:
        """Assets in ``status``, by intent and dataset, newest version first.

        Criteria (all must hold; :mod:`~spatial_etl.backends.asset_filters` has the rules):
        ``project`` is ``provenance.project``; ``since`` (inclusive) and ``until``
        (exclusive) bound ``committed_at``, so only committed assets fall in a window;
        ``bbox`` keeps assets whose WGS84 extent intersects it, across the antimeridian too.
        A bad window raises :class:`~spatial_etl.errors.AssetQueryError`.

        ``latest_only`` keeps the highest version of each (intent, dataset) among the assets
        the criteria keep (a ``$group`` over the index ``intent_dataset_status_version``,
        whose order the sort follows): with ``until``, the lake as it was then. ``limit``
        bounds the documents returned (datasets, when ``latest_only``).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        query = asset_filters.asset_filter(
            status=status,
            intent=intent,
            dataset=dataset,
            project=project,
            since=since,
            until=until,
            bbox=bbox,
        )
        order = {"intent": _UP, "dataset": _UP, "status": _UP, "version": _DOWN}
        if not latest_only:
            return self._find_all(self._assets, AssetDocument, query, list(order.items()), limit)
        pipeline: list[Document] = [
            {"$match": query},
            {"$sort": order},
            {
                "$group": {
                    "_id": {"intent": "$intent", "dataset": "$dataset"},
                    "latest": {"$first": "$$ROOT"},
                }
            },
            {"$replaceRoot": {"newRoot": "$latest"}},
            {"$sort": {"intent": ASCENDING, "dataset": ASCENDING}},
            {"$limit": limit},
        ]
        cursor = self._assets.aggregate(pipeline, allowDiskUse=True)
        return [AssetDocument.model_validate(raw) for raw in cursor]

    def dataset_versions(
        self, intent: str, dataset: str, *, limit: int = 100
    ) -> list[AssetDocument]:
        """A dataset's committed versions, newest first.

        Served by the index ``intent_dataset_status_version``.
        """
        query = {"intent": intent, "dataset": dataset, "status": "committed"}
        return self._find_all(self._assets, AssetDocument, query, [("version", DESCENDING)], limit)

    def duplicates_of(self, asset_id: str, *, limit: int = 100) -> list[AssetDocument]:
        """The duplicate records of runs that reproduced an asset, oldest first.

        The query names ``status`` so it can use the partial index ``duplicate_of``.
        """
        query = {"duplicate_of": asset_id, "status": "duplicate"}
        order = [("created_at", ASCENDING), ("_id", ASCENDING)]
        return self._find_all(self._assets, AssetDocument, query, order, limit)

    def search_assets(
        self,
        *,
        text: str | None = None,
        intent: str | None = None,
        project: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        bbox: SearchBox | None = None,
        latest_only: bool = True,
        offset: int = 0,
        limit: int = 100,
        max_time_s: float | None = None,
    ) -> list[AssetDocument]:
        """Committed assets for the web catalogue's search: newest commit first, by pages.

        The criteria of :meth:`list_assets`, plus ``text`` (in the dataset, title or
        description, ignoring case, literally: :func:`~spatial_etl.backends.asset_filters.
        text_filter`). ``latest_only`` keeps each dataset's highest version among the
        versions the criteria keep. The order (``committed_at`` then ``_id``, both
        descending) is total, so ``offset`` pages never repeat or skip a result while the
        ledger is unchanged. ``max_time_s`` bounds the server's work (``maxTimeMS``); a
        search that needs more raises :class:`AssetQueryError` asking for a narrower one.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, not {offset}")
        criteria = asset_filters.asset_filter(
            status="committed", intent=intent, project=project, since=since, until=until, bbox=bbox
        )
        query = criteria if text is None else {"$and": [criteria, asset_filters.text_filter(text)]}
        newest: Document = {"committed_at": DESCENDING, "_id": DESCENDING}
        pipeline: list[Document] = [{"$match": query}]
        if latest_only:
            pipeline += [
                {"$sort": {"intent": _UP, "dataset": _UP, "status": _UP, "version": _DOWN}},
                {
                    "$group": {
                        "_id": {"intent": "$intent", "dataset": "$dataset"},
                        "latest": {"$first": "$$ROOT"},
                    }
                },
                {"$replaceRoot": {"newRoot": "$latest"}},
            ]
        pipeline += [{"$sort": newest}, {"$skip": offset}, {"$limit": limit}]
        options: Document = {"allowDiskUse": True}
        if max_time_s is not None:
            options["maxTimeMS"] = max(1, round(max_time_s * 1000))
        try:
            return [
                AssetDocument.model_validate(raw)
                for raw in self._assets.aggregate(pipeline, **options)
            ]
        except ExecutionTimeout:
            raise AssetQueryError(
                f"the search needs more than {max_time_s:g} s: narrow it (text, intent, "
                "project, dates or box)"
            ) from None

    # helpers

    def _find_all(
        self,
        collection: Collection[Document],
        model: type[_D],
        query: Mapping[str, Any],
        sort: Sequence[tuple[str, int]],
        limit: int = 0,
    ) -> list[_D]:
        cursor = collection.find(dict(query), sort=list(sort), limit=limit)
        return [model.model_validate(raw) for raw in cursor]

    def _settle(self, asset_id: str, changes: Mapping[str, Any]) -> AssetDocument:
        """Move a pending asset to committed or failed; any other status is an error."""
        current = self._load(self._assets, AssetDocument, asset_id)
        if current.status != "pending":
            raise LedgerError(
                f"asset {asset_id} is {current.status}; only a pending asset can become "
                f"{changes['status']}"
            )
        return self._apply(self._assets, current, current.status, changes)

    def _find(
        self,
        collection: Collection[Document],
        model: type[_D],
        query: Mapping[str, Any],
        *,
        newest: bool = False,
    ) -> _D | None:
        sort = [("version", DESCENDING)] if newest else None
        raw = collection.find_one(dict(query), sort=sort)
        return None if raw is None else model.model_validate(raw)

    def _load(self, collection: Collection[Document], model: type[_D], doc_id: str) -> _D:
        found = self._find(collection, model, {"_id": doc_id})
        if found is None:
            raise LedgerError(f"no {collection.name} document {doc_id!r}")
        return found

    def _apply(
        self,
        collection: Collection[Document],
        current: _D,
        status: str,
        changes: Mapping[str, Any],
        *,
        added: Mapping[str, str] | None = None,
    ) -> _D:
        """Validate ``current`` with ``changes`` (and ``added`` list items), then write them.

        The update is guarded by ``status``, the status read, so a concurrent transition makes
        this one fail instead of overwriting it; ``added`` items go through ``$addToSet``.
        """
        added = added or {}
        appended = {
            key: [*getattr(current, key), item]
            for key, item in added.items()
            if item not in getattr(current, key)
        }
        stored = _revalidate(current, {**changes, **appended}).model_dump(by_alias=True)
        update: Document = {"$set": {key: stored[key] for key in changes}}
        if added:
            update["$addToSet"] = dict(added)
        guard = {"_id": stored["_id"], "status": status}
        raw = collection.find_one_and_update(guard, update, return_document=ReturnDocument.AFTER)
        if raw is None:
            raise LedgerError(
                f"{collection.name} document {stored['_id']!r} changed meanwhile; retry"
            )
        return type(current).model_validate(raw)
