"""Run work directories: created per run, labelled with the run id, removed whatever happens.

A run downloads its inputs and writes its products in a directory of its own. ``finally``
removes it; a process killed with SIGKILL never gets there, so each directory carries a small
label naming its run, and the reconciler removes the directories of runs that are no longer
alive (:func:`remove_dead_workdirs`), as the PostGIS janitor does for run schemas.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

PREFIX: Final = "spatial-etl-run-"
LABEL: Final = ".spatial-etl-run.json"

logger = logging.getLogger(__name__)


def workdir_root(root: Path | None) -> Path:
    """Where run directories live: ``root``, else the system's temporary directory."""
    return root if root is not None else Path(tempfile.gettempdir())


@contextmanager
def run_workdir(
    run_id: str, root: Path | None, on_cleanup_error: Callable[[str], None]
) -> Iterator[Path]:
    """A fresh directory for ``run_id`` under ``root``, labelled, removed on exit.

    A failed removal never masks what happened in the block: it is logged and reported to
    ``on_cleanup_error`` (the run records it; the reconciler removes the directory later).
    """
    base = workdir_root(root)
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    label = {"run_id": run_id, "pid": os.getpid(), "created_at": datetime.now(UTC).isoformat()}
    (path / LABEL).write_text(json.dumps(label), encoding="utf-8")
    try:
        yield path
    finally:
        error = _remove(path)
        if error is not None:
            logger.warning("run %s: %s", run_id, error)
            on_cleanup_error(error)


def labelled_workdirs(root: Path | None) -> list[tuple[Path, str, int | None]]:
    """Every run directory under ``root`` with the run id and process id its label names."""
    found: list[tuple[Path, str, int | None]] = []
    for path in sorted(workdir_root(root).glob(f"{PREFIX}*")):
        label = _label(path / LABEL)
        if label is not None and path.is_dir() and not path.is_symlink():
            found.append((path, *label))
    return found


def remove_dead_workdirs(
    root: Path | None, is_alive: Callable[[str], bool]
) -> tuple[list[str], list[str]]:
    """Remove the run directories whose run is not alive; return (removed, errors).

    This process's own directories are judged by ``is_alive`` alone.

    Directories without a readable label are left alone: they were not made by a run. So is a
    directory whose creating process still exists on this host, whatever ``is_alive`` says: a
    local run and a deployment sharing a temporary directory never remove each other's work.
    """
    removed: list[str] = []
    errors: list[str] = []
    for path, run_id, pid in labelled_workdirs(root):
        if is_alive(run_id) or (pid is not None and pid != os.getpid() and process_exists(pid)):
            continue
        error = _remove(path)
        if error is None:
            removed.append(str(path))
        else:
            errors.append(error)
    return removed, errors


def _label(label: Path) -> tuple[str, int | None] | None:
    try:
        data: Any = json.loads(label.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    run_id, pid = data.get("run_id"), data.get("pid")
    if not isinstance(run_id, str) or not run_id:
        return None
    return run_id, pid if isinstance(pid, int) and pid > 0 else None


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this host (a zombie counts until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> str | None:
    """Remove a directory tree; the error as text, or None when it is gone."""
    failures: list[str] = []

    def record(_function: object, failed: str, exc_info: tuple[object, ...]) -> None:
        failures.append(f"{failed}: {exc_info[1]}")

    shutil.rmtree(path, onerror=record)  # Python 3.11: onexc is 3.12
    if path.exists():
        detail = "; ".join(failures[:3]) or "it still exists"
        return f"could not remove work directory {path}: {detail}"
    return None
