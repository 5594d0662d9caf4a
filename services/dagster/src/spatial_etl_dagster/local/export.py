"""Write what a local run left in the embedded services to a directory people can read.

The layout of the output directory::

    data-lake/<key>          every lake object (GeoParquet, COG)
    landing-zone/<key>       the final landing zone: batch files, moved manifests, reports
    objects.json             every object of both buckets: bucket, key, size, sha256, etag,
                             last_modified and S3 user metadata
    ledger/<collection>.json every ledger document, MongoDB Extended JSON (relaxed mode)
    logs/run.log             the core's log; logs/<batch>.<run_id>.log, each run's Dagster events
    summary.json             what the command printed, as data
    .spatial-etl-local-run   marks the directory as a local run's output

The directory is built beside its final place and renamed into it once complete, so an
interrupted export leaves the previous output (or nothing) rather than half of one. An existing
directory is replaced only when it is empty or carries the marker.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # boto3 and pymongo load with the run, not with the command line's checks
    from pymongo.database import Database
    from spatial_etl.backends.storage import ObjectStore

MARKER: Final = ".spatial-etl-local-run"
"""File that marks a directory as the output of a local run (and so replaceable by the next)."""


def replaceable(out_dir: Path) -> bool:
    """Whether the output may go to ``out_dir``: absent, empty, or an earlier run's output."""
    if not out_dir.exists():
        return True
    if not out_dir.is_dir():
        return False
    return (out_dir / MARKER).is_file() or not any(out_dir.iterdir())


def export(
    out_dir: Path,
    *,
    store: ObjectStore,
    buckets: Iterable[str],
    ledger_db: Database[dict[str, Any]],
    summary: Mapping[str, Any],
    logs: Mapping[str, str],
) -> dict[str, int]:
    """Write buckets, ledger, logs and summary to ``out_dir``; return the objects per bucket.

    The ledger is written as relaxed Extended JSON: numbers stay numbers, dates are
    ``{"$date": "<ISO 8601>"}``.
    """
    from bson import json_util  # noqa: PLC0415 - see the imports
    from spatial_etl.backends.ledger import COLLECTIONS  # noqa: PLC0415

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        objects: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for bucket in buckets:
            counts[bucket] = 0
            for item in store.iter_objects(bucket):
                stored = store.download(bucket, item.key, _inside(staging / bucket, item.key))
                objects.append(
                    {
                        "bucket": bucket,
                        "key": item.key,
                        "size": stored.size,
                        "sha256": stored.sha256,
                        "etag": stored.etag,
                        "last_modified": stored.last_modified.isoformat()
                        if stored.last_modified
                        else None,
                        "metadata": dict(sorted(stored.metadata.items())),
                    }
                )
                counts[bucket] += 1
        _write(staging / "objects.json", json.dumps(objects, indent=2) + "\n")
        names = sorted(set(COLLECTIONS) | set(ledger_db.list_collection_names()))
        for name in names:
            documents = list(ledger_db[name].find().sort("_id", 1))
            text = json_util.dumps(documents, json_options=json_util.RELAXED_JSON_OPTIONS, indent=2)
            _write(staging / "ledger" / f"{name}.json", text + "\n")
        for name, text in logs.items():
            _write(_inside(staging / "logs", name), text)
        _write(staging / "summary.json", json.dumps(summary, indent=2) + "\n")
        _write(staging / MARKER, "written by spatial-etl local run; replaced by the next one\n")
        _swap(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def _swap(staging: Path, out_dir: Path) -> None:
    """Put the finished directory in place of the old one (checked replaceable before)."""
    if out_dir.exists():
        if not replaceable(out_dir):  # it changed since the run was checked
            raise RuntimeError(f"{out_dir} is no longer replaceable; the output is not written")
        trash = out_dir.with_name(f".{out_dir.name}.old-{staging.name.rsplit('.', 1)[-1]}")
        out_dir.rename(trash)
        staging.rename(out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(out_dir)


def _inside(base: Path, key: str) -> Path:
    """``base/<key>``, refusing keys that would leave ``base`` (absolute, ``..``, empty parts)."""
    parts = key.split("/")
    if key.startswith("/") or any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"object key {key!r} cannot be written below {base}")
    return base.joinpath(*parts)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
