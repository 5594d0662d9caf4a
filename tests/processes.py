"""Child processes for fault tests: spawn a fresh interpreter, find its descendants, kill them.

A run that is SIGKILLed must be a process of its own, not a fork of pytest (a fork would share
pytest's state and the mongomock ledger). :func:`spawn` starts ``python -m child_entry`` with
``tests/`` on ``sys.path``; it calls ``module:function`` with a JSON payload and exits 0, or 1
after printing the traceback, both streams going to a log file. Each child leads its own
session, so :func:`kill_tree` reaches every descendant even once the child itself is dead.

:func:`checkpoint` lets a target announce a moment (e.g. "the object is uploaded, the ledger
not yet committed") and wait there to be killed; :func:`wait_for_checkpoint` waits for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import psutil

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
CHECKPOINT_DIR_ENV = "FAULT_KIT_CHECKPOINT_DIR"
"""The directory where :func:`checkpoint` writes its marker files (set by :func:`spawn`)."""

_T = TypeVar("_T")


class Child(subprocess.Popen[bytes]):
    """A spawned child: a ``Popen`` that knows its log, result file and checkpoint directory."""

    log: Path
    result_path: Path
    checkpoints: Path

    def log_tail(self, lines: int = 40) -> str:
        """The end of the child's log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def result(self) -> Any:
        """The JSON value the target returned (the child must have exited 0)."""
        return json.loads(self.result_path.read_text())


def spawn(
    target: str,
    payload: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    log: Path,
) -> Child:
    """Run ``target`` ("module:function") with ``payload`` in a new interpreter.

    ``env`` is added to (overrides) this process's environment. The function's return value,
    if JSON-serialisable, is written next to the log (``Child.result()``).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    result_path = log.with_suffix(log.suffix + ".result.json")
    checkpoints = log.with_suffix(log.suffix + ".checkpoints")
    checkpoints.mkdir(exist_ok=True)
    python_path = os.pathsep.join(
        p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH", "")) if p
    )
    child_env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": python_path,
        CHECKPOINT_DIR_ENV: str(checkpoints),
    }
    argv = [
        sys.executable,
        "-m",
        "child_entry",
        target,
        json.dumps(dict(payload)),
        str(result_path),
    ]
    with log.open("ab") as out:
        proc = Child(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=ROOT,
            start_new_session=True,
        )
    proc.log = log
    proc.result_path = result_path
    proc.checkpoints = checkpoints
    return proc


def wait_until(
    predicate: Callable[[], _T],
    timeout: float,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition not met",
) -> _T:
    """Poll ``predicate`` until it returns a truthy value (returned); TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"after {timeout:.1f}s: {text}")
        time.sleep(interval)


def _matches(process: psutil.Process, names: set[str]) -> bool:
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if process.name() in names:
            return True
        argv = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return bool(argv) and Path(argv[0]).name in names


def wait_for_descendant(
    proc: subprocess.Popen[Any], names: set[str], timeout: float
) -> psutil.Process:
    """The first live descendant of ``proc`` named (or argv[0]-named) one of ``names``.

    Raises TimeoutError with the log's tail when none appears in time or ``proc`` exits first.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = [
                p for p in psutil.Process(proc.pid).children(recursive=True) if _matches(p, names)
            ]
        except psutil.NoSuchProcess:
            found = []
        if found:
            return found[0]
        code = proc.poll()
        if code is not None or time.monotonic() >= deadline:
            why = f"exited with {code}" if code is not None else f"still running after {timeout}s"
            raise TimeoutError(
                f"no descendant named {sorted(names)} of pid {proc.pid} ({why}); log:\n"
                + _tail(proc)
            )
        time.sleep(0.02)


def _tail(proc: subprocess.Popen[Any]) -> str:
    return proc.log_tail() if isinstance(proc, Child) else "(not a spawned child: no log)"


def kill(proc: subprocess.Popen[Any]) -> int:
    """SIGKILL ``proc`` alone (its descendants live on, as after a crash); reap it; its code."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    return proc.wait()


def kill_tree(proc: subprocess.Popen[Any], timeout: float = 5.0) -> list[int]:
    """SIGKILL ``proc``, every descendant and its session; reap them; the pids killed.

    Descendants orphaned earlier (after :func:`kill`) are still reached through the session.
    """
    victims: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(proc.pid)
        victims[root.pid] = root
        victims.update({p.pid: p for p in root.children(recursive=True)})
    except psutil.NoSuchProcess:
        pass
    victims.update({p.pid: p for p in _session_members(proc.pid)})
    for process in victims.values():
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    others = [p for pid, p in victims.items() if pid != proc.pid]
    psutil.wait_procs(others, timeout=timeout)
    return sorted(victims)


def _session_members(session: int) -> list[psutil.Process]:
    members: list[psutil.Process] = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session and process.pid != os.getpid():
                members.append(process)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return members


def descendants_alive(pids: Iterable[int]) -> list[int]:
    """The pids among ``pids`` that still run (zombies count as dead)."""
    alive: list[int] = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def checkpoint(name: str, *, hold_s: float = 0.0) -> None:
    """In a child: announce ``name`` (a marker file), then wait ``hold_s`` seconds.

    Holding lets the test kill the child at exactly this point. Outside :func:`spawn` (no
    checkpoint directory) it does nothing.
    """
    directory = os.environ.get(CHECKPOINT_DIR_ENV)
    if not directory:
        return
    marker = Path(directory) / name
    marker.write_text(str(os.getpid()))
    if hold_s > 0:
        time.sleep(hold_s)


def wait_for_checkpoint(proc: Child, name: str, timeout: float) -> None:
    """Wait until the child reached :func:`checkpoint` ``name``; fail fast if it exited."""

    def reached() -> bool:
        if (proc.checkpoints / name).exists():
            return True
        if proc.poll() is not None:
            raise AssertionError(
                f"child exited with {proc.returncode} before checkpoint {name!r}; log:\n"
                + proc.log_tail()
            )
        return False

    wait_until(reached, timeout, message=lambda: f"checkpoint {name!r}; log:\n{proc.log_tail()}")
