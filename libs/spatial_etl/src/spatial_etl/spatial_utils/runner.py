"""Run GDAL command-line programs safely: argument lists, a timeout, stderr kept and logged.

This is the core of the seed's ``GDALResource``. Commands are argument lists handed to
``subprocess.Popen`` (never a shell), stderr is streamed line by line to the logger as it
arrives and its tail is kept for the error a user reads, and a command that outlives its
timeout is killed with its whole process group. :class:`GdalRunner` is the interface the rest
of the platform depends on, so tests can substitute ``spatial_etl.testing.FakeGdalRunner``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.errors import GdalCommandError, GdalError, GdalNotFoundError, GdalTimeoutError
from spatial_etl.models.steps import GdalProgram
from spatial_etl.settings import GdalSettings

PROGRAMS: Final[frozenset[str]] = frozenset(
    {p.value for p in GdalProgram}
    | {"gdalinfo", "ogrinfo", "gdalsrsinfo", "gdallocationinfo", "gdal_create", "gdalmanage"}
)
"""The programs the runner agrees to start: GDAL's, and nothing else."""

STDERR_TAIL_LINES: Final = 40
_SECRET = re.compile(
    r"\b(password|secret|[A-Z_]*(?:SECRET|PASSWORD|TOKEN)[A-Z_]*)=('[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)
_SECRET_OPTION = re.compile(r"(SECRET|PASSWORD|TOKEN)", re.IGNORECASE)

logger = logging.getLogger(__name__)


class CommandResult(BaseModel):
    """The outcome of one GDAL command."""

    model_config = ConfigDict(frozen=True)

    argv: tuple[str, ...] = Field(description="The command as run (secrets redacted).")
    returncode: int
    stdout: str
    stderr: str = Field(description="The last lines of stderr.")
    duration_s: float


class GdalRunner(Protocol):
    """Runs a GDAL program; the platform's only way to start one."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run ``argv`` (``argv[0]`` names the program); raise on failure when ``check``."""


def redact(text: str) -> str:
    """Hide ``password=...``-style secrets before text reaches a log or an error."""
    return _SECRET.sub(r"\1=***", text)


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Redact each argument, and the value of ``--config KEY VALUE`` when KEY names a secret."""
    shown: list[str] = []
    for index, arg in enumerate(argv):
        secret_value = (
            index >= 2 and argv[index - 2] == "--config" and _SECRET_OPTION.search(argv[index - 1])
        )
        shown.append("***" if secret_value else redact(arg))
    return tuple(shown)


def check_result(result: CommandResult) -> CommandResult:
    """Raise :class:`GdalCommandError` for a non-zero exit; shared by real and fake runners."""
    if result.returncode != 0:
        raise GdalCommandError(result.argv, result.returncode, result.stderr)
    return result


class SubprocessGdalRunner:
    """Runs GDAL programs as child processes."""

    def __init__(
        self,
        *,
        bin_dir: Path | None = None,
        timeout_s: float = 3600.0,
        env: Mapping[str, str] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        """Configure the runner.

        Args:
            bin_dir: Directory holding the GDAL programs; ``None`` searches ``PATH``.
            timeout_s: Default time limit of a command, in seconds.
            env: Variables added to every command's environment (GDAL configuration such as
                ``AWS_S3_ENDPOINT``); the process environment is inherited underneath.
            log: Logger that receives stderr lines; the module logger by default.
        """
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        self.bin_dir = bin_dir
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.log = log or logger

    @classmethod
    def from_settings(
        cls, settings: GdalSettings | None = None, *, env: Mapping[str, str] | None = None
    ) -> SubprocessGdalRunner:
        """Build a runner from ``SPATIAL_ETL_GDAL_*`` settings."""
        settings = settings if settings is not None else GdalSettings()
        return cls(bin_dir=settings.gdal_bin_dir, timeout_s=settings.gdal_timeout_s, env=env)

    def executable(self, program: str) -> str:
        """Resolve a program name to an executable path, or explain how to install it."""
        if program not in PROGRAMS:
            raise GdalError(f"{program!r} is not a GDAL program the runner may start")
        found = shutil.which(program, path=str(self.bin_dir) if self.bin_dir else None)
        if found is None:
            where = f"in {self.bin_dir}" if self.bin_dir else "on PATH"
            raise GdalNotFoundError(
                f"{program} not found {where}; install the GDAL command-line tools "
                "(Debian: apt-get install gdal-bin) or set SPATIAL_ETL_GDAL_BIN_DIR"
            )
        return found

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run one command and wait for it; see :class:`GdalRunner`."""
        if not argv:
            raise GdalError("empty command")
        args = [self.executable(argv[0]), *argv[1:]]
        shown = redact_argv(argv)
        limit = timeout_s if timeout_s is not None else self.timeout_s
        merged = {**os.environ, **self.env, **(env or {})}
        self.log.info("running %s", " ".join(shown))
        started = time.monotonic()
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=merged,
            start_new_session=True,  # so a timeout can kill the whole process group
        )
        out = _Drain(process.stdout, keep_all=True)
        err = _Drain(process.stderr, keep_all=False, log=self.log, prefix=argv[0])
        try:
            returncode = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            err.join()
            out.join()
            raise GdalTimeoutError(shown, limit, redact(err.text)) from None
        except BaseException:  # an interrupt (Ctrl-C, SIGTERM): the child must not outlive it
            _kill_group(process)
            raise
        out.join()
        err.join()
        result = CommandResult(
            argv=shown,
            returncode=returncode,
            stdout=redact(out.text),
            stderr=redact(err.text),
            duration_s=time.monotonic() - started,
        )
        return check_result(result) if check else result


class _Drain:
    """Reads one pipe on a thread, so neither pipe can fill up and block the child."""

    def __init__(
        self,
        pipe: IO[bytes] | None,
        *,
        keep_all: bool,
        log: logging.Logger | None = None,
        prefix: str = "",
    ) -> None:
        self._chunks: list[str] = []
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._keep_all = keep_all
        self._log = log
        self._prefix = prefix
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[bytes] | None) -> None:
        if pipe is None:
            return
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                if self._keep_all:
                    self._chunks.append(line)
                    continue
                stripped = line.rstrip()
                if stripped:
                    self._tail.append(stripped)
                    if self._log is not None:
                        self._log.info("%s: %s", self._prefix, redact(stripped))

    def join(self) -> None:
        self._thread.join()

    @property
    def text(self) -> str:
        return "".join(self._chunks) if self._keep_all else "\n".join(self._tail)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
