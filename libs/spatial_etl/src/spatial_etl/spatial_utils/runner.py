"""Run GDAL command-line programs safely: argument lists, a timeout, stderr kept and logged.

The Dagster ``GDALResource`` hands this runner out. Commands are argument lists handed to
``subprocess.Popen`` (never a shell), stderr is streamed line by line to the logger as it
arrives and its tail is kept for the error a user reads, and a command that outlives its
timeout is killed with its whole process group. :class:`GdalRunner` is the interface the rest
of the platform depends on, so tests can substitute ``spatial_etl.testing.FakeGdalRunner``.

GDAL parses hostile files, so its processes are contained:

- **Environment**: a child sees only the variables of :data:`ENV_ALLOWED` and
  :data:`ENV_ALLOWED_PREFIXES` from the parent's environment (never ``AWS_*`` nor
  ``SPATIAL_ETL_*``, which hold the platform's S3 secret and database URIs), plus the runner's
  and the call's explicit ``env``, which are the only way to hand GDAL a credential.
- **Parent death**: every child starts as ``setpriv --pdeathsig KILL -- prlimit ... -- gdal``
  (util-linux, present on every Debian and Ubuntu image), so the kernel kills it when the
  thread that started it dies, even by SIGKILL; it can never finish a load into an orphaned
  schema. ``preexec_fn`` would do the same but is unsafe in a threaded process (Dagster). A
  machine without these two programs fails every command with :class:`GdalSandboxError`
  rather than run GDAL uncontained.
- **OS limits**: ``prlimit`` caps the child's address space (RLIMIT_AS), CPU time (RLIMIT_CPU,
  all threads together) and core files; a child stopped by a limit raises
  :class:`GdalResourceLimitError` naming the limit and the setting that raises it.
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

from spatial_etl.errors import (
    GdalCommandError,
    GdalError,
    GdalNotFoundError,
    GdalResourceLimitError,
    GdalSandboxError,
    GdalTimeoutError,
)
from spatial_etl.models.programs import GdalProgram
from spatial_etl.settings import GdalSettings

PROGRAMS: Final[frozenset[str]] = frozenset(
    {p.value for p in GdalProgram}
    | {"gdalinfo", "ogrinfo", "gdalsrsinfo", "gdallocationinfo", "gdal_create", "gdalmanage"}
)
"""The programs the runner agrees to start: GDAL's, and nothing else."""

STDERR_TAIL_LINES: Final = 40

ENV_ALLOWED: Final[frozenset[str]] = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "LD_LIBRARY_PATH",
        "PROJ_LIB",
        "PROJ_DATA",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)
"""Variables a GDAL child inherits from the parent's environment: locale, paths, CA bundles."""

ENV_ALLOWED_PREFIXES: Final = ("LC_", "GDAL_", "CPL_", "OGR_", "PROJ_", "GTIFF_", "VSI_")
"""GDAL's and PROJ's own configuration (GDAL_DATA, GDAL_CACHEMAX, CPL_DEBUG...) is inherited too,
so a deployment can tune GDAL through the environment; names that look like credentials
(:data:`_CREDENTIAL_NAME`, e.g. GDAL_HTTP_USERPWD) are not, whatever their prefix."""

_CREDENTIAL_NAME = re.compile(
    r"SECRET|PASSWORD|PASSWD|TOKEN|USERPWD|AUTH|HEADER|COOKIE|CREDENTIAL|KEY", re.IGNORECASE
)

DEFAULT_MAX_MEMORY_MB: Final = 8192
"""Address space of one GDAL child; see ``GdalSettings.gdal_max_memory_mb``."""
DEFAULT_MAX_CPU_S: Final = 14400
"""CPU seconds of one GDAL child (all its threads); see ``GdalSettings.gdal_max_cpu_s``."""
CPU_KILL_GRACE_S: Final = 5
"""The hard CPU limit sits this far above the soft one: SIGXCPU (which the runner recognises)
comes first, SIGKILL only if GDAL ignored it."""
_SYSTEM_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MEMORY_SIGNS: Final = (
    "out of memory",
    "cannot allocate",
    "bad_alloc",
    "failed to map segment",
    "memory allocation failed",
)
_SECRET = re.compile(
    r"\b(password|secret|[A-Z_]*(?:SECRET|PASSWORD|TOKEN)[A-Z_]*)=('[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)
_SECRET_OPTION = re.compile(r"(SECRET|PASSWORD|TOKEN)", re.IGNORECASE)
_SKIP_NOISE = re.compile(
    r"(?:Warning \d+: )?Unable to find driver \S+ to unload from GDAL_SKIP environment variable\.?"
)
"""GDAL's warning for a GDAL_SKIP name this build lacks: the skip list names drivers of
several GDAL releases, so the warning says nothing about the input and stays out of errors."""

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


def child_environment(
    inherited: Mapping[str, str], *explicit: Mapping[str, str] | None
) -> dict[str, str]:
    """The environment of a GDAL child: the allowed part of ``inherited``, then ``explicit``.

    Explicit mappings (the runner's, then the call's) are taken whole: they are how the platform
    deliberately hands GDAL a setting or a credential for one purpose.
    """
    merged = {
        name: value
        for name, value in inherited.items()
        if (name in ENV_ALLOWED or name.startswith(ENV_ALLOWED_PREFIXES))
        and not _CREDENTIAL_NAME.search(name)
    }
    for extra in explicit:
        merged.update(extra or {})
    return merged


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
        max_memory_mb: int = DEFAULT_MAX_MEMORY_MB,
        max_cpu_s: int = DEFAULT_MAX_CPU_S,
    ) -> None:
        """Configure the runner.

        Args:
            bin_dir: Directory holding the GDAL programs; ``None`` searches ``PATH``.
            timeout_s: Default time limit of a command, in seconds.
            env: Variables added to every command's environment (GDAL configuration such as
                ``AWS_S3_ENDPOINT``); only the allowed part of the process environment is
                inherited underneath (:func:`child_environment`).
            log: Logger that receives stderr lines; the module logger by default.
            max_memory_mb: Address-space limit of each child in MiB; 0 for none.
            max_cpu_s: CPU-time limit of each child in seconds (all threads); 0 for none.
        """
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        if max_memory_mb < 0 or max_cpu_s < 0:
            raise ValueError("max_memory_mb and max_cpu_s must be 0 (no limit) or positive")
        self.bin_dir = bin_dir
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.log = log or logger
        self.max_memory_mb = max_memory_mb
        self.max_cpu_s = max_cpu_s

    @classmethod
    def from_settings(
        cls, settings: GdalSettings | None = None, *, env: Mapping[str, str] | None = None
    ) -> SubprocessGdalRunner:
        """Build a runner from ``SPATIAL_ETL_GDAL_*`` settings."""
        settings = settings if settings is not None else GdalSettings()
        return cls(
            bin_dir=settings.gdal_bin_dir,
            timeout_s=settings.gdal_timeout_s,
            env=env,
            max_memory_mb=settings.gdal_max_memory_mb,
            max_cpu_s=settings.gdal_max_cpu_s,
        )

    def containment(self) -> list[str]:
        """The wrapper chain put before every GDAL program: parent-death signal, OS limits."""
        search = os.environ.get("PATH") or _SYSTEM_PATH
        found = {
            tool: shutil.which(tool, path=search) or shutil.which(tool, path=_SYSTEM_PATH)
            for tool in ("setpriv", "prlimit")
        }
        missing = [tool for tool, path in found.items() if path is None]
        if missing:
            raise GdalSandboxError(
                f"{' and '.join(missing)} not found; GDAL programs only run contained (killed "
                "with their parent, under OS limits): install util-linux (Debian/Ubuntu: "
                "apt-get install util-linux)"
            )
        limits = ["--core=0"]
        if self.max_memory_mb:
            limits.append(f"--as={self.max_memory_mb * 1024 * 1024}")
        if self.max_cpu_s:
            limits.append(f"--cpu={self.max_cpu_s}:{self.max_cpu_s + CPU_KILL_GRACE_S}")
        setpriv, prlimit = str(found["setpriv"]), str(found["prlimit"])
        return [setpriv, "--pdeathsig", "KILL", "--", prlimit, *limits, "--"]

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
        args = [*self.containment(), self.executable(argv[0]), *argv[1:]]
        shown = redact_argv(argv)
        limit = timeout_s if timeout_s is not None else self.timeout_s
        merged = child_environment(os.environ, self.env, env)
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
        if check:
            self._check_limits(result)
        return check_result(result) if check else result

    def _check_limits(self, result: CommandResult) -> None:
        """Raise :class:`GdalResourceLimitError` when a limit, not the input, stopped GDAL."""
        code = result.returncode
        if code == 0:
            return
        if self.max_cpu_s and code == -signal.SIGXCPU:
            raise GdalResourceLimitError(
                result.argv,
                code,
                result.stderr,
                limit=f"CPU-time limit of {self.max_cpu_s} s",
                setting="SPATIAL_ETL_GDAL_MAX_CPU_S",
            )
        lowered = result.stderr.lower()
        if self.max_memory_mb and any(sign in lowered for sign in _MEMORY_SIGNS):
            raise GdalResourceLimitError(
                result.argv,
                code,
                result.stderr,
                limit=f"memory (address-space) limit of {self.max_memory_mb} MiB",
                setting="SPATIAL_ETL_GDAL_MAX_MEMORY_MB",
            )


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
                stripped = _SKIP_NOISE.sub("", line).rstrip()
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
