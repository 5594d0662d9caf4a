"""SubprocessGdalRunner against the real GDAL command-line tools (and its refusals, without)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from spatial_etl.errors import (
    GdalCommandError,
    GdalError,
    GdalNotFoundError,
    GdalResourceLimitError,
    GdalSandboxError,
    GdalTimeoutError,
    SpatialEtlError,
)
from spatial_etl.settings import GdalSettings
from spatial_etl.spatial_utils import runner as runner_module
from spatial_etl.spatial_utils.runner import (
    STDERR_TAIL_LINES,
    CommandResult,
    SubprocessGdalRunner,
    redact,
)
from spatial_etl.spatial_utils.vectorinfo import read_vector_info

RUNNER_LOGGER = "spatial_etl.spatial_utils.runner"
PG_SOURCE = "PG:host=127.0.0.1 port=1 dbname=x user=u password=hunter2"


@pytest.fixture
def runner() -> SubprocessGdalRunner:
    return SubprocessGdalRunner(timeout_s=60)


@pytest.fixture
def no_debug_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure GDAL debug output is off unless a test turns it on."""
    monkeypatch.delenv("CPL_DEBUG", raising=False)


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Record the processes the runner starts; kill any survivor after the test."""
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process: subprocess.Popen[bytes] = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        return process

    # The runner calls subprocess.Popen through the subprocess module: patch it there.
    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _write_geojson(path: Path, count: int = 2) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"id": i, "name": f"parcel {i}", "area": i + 0.5},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[i, 0.0], [i + 1.0, 0.0], [i + 1.0, 1.0], [i, 0.0]]],
            },
        }
        for i in range(count)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# ----------------------------------------------------------------------------- success


@pytest.mark.gdal
def test_version_runs_and_is_recorded(runner: SubprocessGdalRunner, no_debug_env: None) -> None:
    result = runner.run(["gdalinfo", "--version"])

    assert isinstance(result, CommandResult)
    assert result.returncode == 0
    assert result.stdout.startswith("GDAL ")
    assert "released" in result.stdout
    assert result.argv == ("gdalinfo", "--version")
    assert result.stderr == ""
    assert result.duration_s >= 0


@pytest.mark.gdal
def test_bin_dir_holding_the_programs_is_used() -> None:
    found = shutil.which("gdalinfo")
    assert found is not None
    runner = SubprocessGdalRunner(bin_dir=Path(found).parent)

    assert runner.executable("gdalinfo") == found
    assert runner.run(["gdalinfo", "--version"]).stdout.startswith("GDAL ")


@pytest.mark.gdal
def test_ogr2ogr_converts_geojson_to_geopackage(
    runner: SubprocessGdalRunner, tmp_path: Path
) -> None:
    source = _write_geojson(tmp_path / "parcels.geojson", count=3)
    target = tmp_path / "out" / "parcels.gpkg"
    target.parent.mkdir()

    result = runner.run(["ogr2ogr", "-f", "GPKG", str(target), str(source), "-nln", "parcels"])

    assert result.returncode == 0
    assert result.argv == ("ogr2ogr", "-f", "GPKG", str(target), str(source), "-nln", "parcels")
    assert target.is_file()
    assert target.read_bytes()[:16] == b"SQLite format 3\x00"
    layer = read_vector_info(runner, str(target)).layer("parcels")
    assert layer.feature_count == 3
    assert layer.geometry_type == "Polygon"


@pytest.mark.gdal
def test_large_stdout_is_read_completely(runner: SubprocessGdalRunner, tmp_path: Path) -> None:
    # Far more than a pipe buffer (64 KiB): the runner must drain stdout while waiting.
    source = _write_geojson(tmp_path / "many.geojson", count=3000)

    result = runner.run(["ogrinfo", "-ro", "-al", str(source)])

    assert len(result.stdout) > 256 * 1024
    assert result.stdout.count("OGRFeature(many):") == 3000
    assert "OGRFeature(many):2999" in result.stdout


# ----------------------------------------------------------------------------- failure


@pytest.mark.gdal
def test_failing_command_raises_with_stderr_tail(
    runner: SubprocessGdalRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.tif"

    with pytest.raises(GdalCommandError) as caught:
        runner.run(["gdalinfo", str(missing)])

    error = caught.value
    assert isinstance(error, GdalError)
    assert isinstance(error, SpatialEtlError)
    assert error.returncode != 0
    assert error.returncode == 1
    assert error.argv == ["gdalinfo", str(missing)]
    assert "No such file" in error.stderr_tail
    assert str(missing) in error.stderr_tail
    assert str(error).startswith("gdalinfo exited with status 1: ")
    assert "No such file" in str(error)


@pytest.mark.gdal
def test_failing_command_with_check_false_returns_the_result(
    runner: SubprocessGdalRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.tif"

    result = runner.run(["gdalinfo", str(missing)], check=False)

    assert result.returncode == 1
    assert result.argv == ("gdalinfo", str(missing))
    assert "No such file" in result.stderr
    assert result.stdout == ""
    assert result.duration_s >= 0


@pytest.mark.gdal
def test_stderr_tail_keeps_the_last_lines(
    runner: SubprocessGdalRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RUNNER_LOGGER)
    # gdalbuildvrt warns once per unreadable input, then fails: 50 distinct stderr lines.
    inputs = [str(tmp_path / f"missing{i:02d}.tif") for i in range(1, 51)]

    with pytest.raises(GdalCommandError) as caught:
        runner.run(["gdalbuildvrt", str(tmp_path / "out.vrt"), *inputs])

    tail = caught.value.stderr_tail.splitlines()
    assert len(tail) == STDERR_TAIL_LINES == 40
    assert "missing11.tif" in tail[0]
    assert "missing50.tif" in tail[-1]
    assert "missing10.tif" not in caught.value.stderr_tail
    # Every line was logged as it arrived, not only the tail.
    warned = [r.getMessage() for r in caplog.records if "Can't open" in r.getMessage()]
    assert len(warned) == 50
    assert warned[0].startswith("gdalbuildvrt: Warning 1: Can't open ")
    assert "missing01.tif" in warned[0]


# ----------------------------------------------------------------------------- logging


@pytest.mark.gdal
def test_stderr_lines_are_logged_by_the_module_logger(
    runner: SubprocessGdalRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RUNNER_LOGGER)
    missing = tmp_path / "missing.tif"

    runner.run(["gdalinfo", str(missing)], check=False)

    ours = [r for r in caplog.records if r.name == RUNNER_LOGGER]
    messages = [r.getMessage() for r in ours]
    assert messages[0] == f"running gdalinfo {missing}"
    assert any(
        m.startswith("gdalinfo: ERROR 4: ") and "No such file or directory" in m for m in messages
    )
    assert all(r.levelno == logging.INFO for r in ours)


@pytest.mark.gdal
def test_stderr_lines_go_to_the_given_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "spatial_etl_tests.gdal"
    caplog.set_level(logging.INFO, logger=name)
    runner = SubprocessGdalRunner(log=logging.getLogger(name))
    missing = tmp_path / "missing.tif"

    runner.run(["gdalinfo", str(missing)], check=False)

    messages = [r.getMessage() for r in caplog.records if r.name == name]
    assert messages[0] == f"running gdalinfo {missing}"
    assert any("No such file or directory" in m for m in messages[1:])
    assert not [r for r in caplog.records if r.name == RUNNER_LOGGER]


# ----------------------------------------------------------------------------- timeout


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("make_runner", "call_timeout_s"),
    [
        pytest.param(lambda: SubprocessGdalRunner(timeout_s=60), 1.0, id="per-call"),
        pytest.param(lambda: SubprocessGdalRunner(timeout_s=1), None, id="runner-default"),
        pytest.param(
            lambda: SubprocessGdalRunner.from_settings(GdalSettings(gdal_timeout_s=1)),
            None,
            id="from-settings",
        ),
    ],
)
def test_timeout_kills_the_process_group(
    make_runner: Callable[[], SubprocessGdalRunner],
    call_timeout_s: float | None,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    fifo = tmp_path / "blocked.tif"
    os.mkfifo(fifo)  # opening it for reading blocks until a writer appears: never
    runner = make_runner()

    started = time.monotonic()
    with pytest.raises(GdalTimeoutError) as caught:
        runner.run(["gdalinfo", str(fifo)], timeout_s=call_timeout_s)
    elapsed = time.monotonic() - started

    assert 1.0 <= elapsed < 5.0
    error = caught.value
    assert isinstance(error, GdalError)
    assert error.timeout_s == 1
    assert error.argv == ["gdalinfo", str(fifo)]
    assert str(error).startswith("gdalinfo was killed after 1 s")
    assert len(spawned) == 1
    process = spawned[0]
    assert process.returncode == -signal.SIGKILL  # killed and reaped
    assert not Path(f"/proc/{process.pid}").exists()  # no zombie left behind
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing left in its process group either


@pytest.mark.gdal
def test_an_interrupt_kills_the_process_group(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    fifo = tmp_path / "blocked.tif"
    os.mkfifo(fifo)

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            SubprocessGdalRunner(timeout_s=60).run(["gdalinfo", str(fifo)])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    [process] = spawned
    assert process.returncode == -signal.SIGKILL  # killed and reaped, not left running
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["ls"], id="ls"),
        pytest.param(["sh", "-c", "gdalinfo --version"], id="shell"),
        pytest.param(["python3", "-c", "print(1)"], id="python"),
        pytest.param(["gdalinfo --version"], id="command-line-as-one-string"),
    ],
)
def test_only_gdal_programs_are_started(
    argv: list[str], spawned: list[subprocess.Popen[bytes]]
) -> None:
    with pytest.raises(GdalError, match="not a GDAL program") as caught:
        SubprocessGdalRunner().run(argv)

    assert type(caught.value) is GdalError
    assert repr(argv[0]) in str(caught.value)
    assert spawned == []


@pytest.mark.parametrize("argv", [pytest.param([], id="list"), pytest.param((), id="tuple")])
def test_empty_command_is_refused(argv: list[str], spawned: list[subprocess.Popen[bytes]]) -> None:
    with pytest.raises(GdalError, match="empty command") as caught:
        SubprocessGdalRunner().run(argv)

    assert type(caught.value) is GdalError
    assert spawned == []


def test_bin_dir_without_the_programs_explains_the_fix(tmp_path: Path) -> None:
    runner = SubprocessGdalRunner(bin_dir=tmp_path)

    with pytest.raises(GdalNotFoundError) as caught:
        runner.run(["gdalinfo", "--version"])

    message = str(caught.value)
    assert message.startswith(f"gdalinfo not found in {tmp_path}")
    assert "apt-get install gdal-bin" in message
    assert "SPATIAL_ETL_GDAL_BIN_DIR" in message


def test_bin_dir_from_settings_is_searched(tmp_path: Path) -> None:
    runner = SubprocessGdalRunner.from_settings(GdalSettings(gdal_bin_dir=tmp_path))

    assert runner.bin_dir == tmp_path
    with pytest.raises(GdalNotFoundError, match="apt-get install gdal-bin"):
        runner.run(["ogr2ogr", "--version"])


def test_program_missing_from_path_explains_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(GdalNotFoundError) as caught:
        SubprocessGdalRunner().run(["gdalinfo", "--version"])

    message = str(caught.value)
    assert message.startswith("gdalinfo not found on PATH")
    assert "apt-get install gdal-bin" in message
    assert "SPATIAL_ETL_GDAL_BIN_DIR" in message


# ----------------------------------------------------------------------------- secrets


@pytest.mark.gdal
def test_password_never_reaches_the_error_or_the_log(
    runner: SubprocessGdalRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RUNNER_LOGGER)

    with pytest.raises(GdalCommandError) as caught:
        runner.run(["ogrinfo", "-ro", "-so", PG_SOURCE])

    error = caught.value
    assert error.returncode != 0
    assert "hunter2" not in str(error)
    assert "hunter2" not in " ".join(error.argv)
    assert "hunter2" not in error.stderr_tail
    assert error.argv[-1] == "PG:host=127.0.0.1 port=1 dbname=x user=u password=***"
    assert "password=***" in caplog.text
    assert "hunter2" not in caplog.text


@pytest.mark.gdal
def test_password_is_redacted_in_an_unchecked_result(runner: SubprocessGdalRunner) -> None:
    result = runner.run(["ogrinfo", "-ro", "-so", PG_SOURCE], check=False)

    assert result.returncode != 0
    assert result.argv[-1].endswith("password=***")
    assert "hunter2" not in " ".join(result.argv)
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("password=hunter2", "password=***", id="password"),
        pytest.param("PASSWORD=hunter2 user=u", "PASSWORD=*** user=u", id="upper-case"),
        pytest.param("secret=abc", "secret=***", id="secret"),
        pytest.param(
            "AWS_SECRET_ACCESS_KEY=abc/def+1 x", "AWS_SECRET_ACCESS_KEY=*** x", id="aws-key"
        ),
        pytest.param("user=u dbname=x", "user=u dbname=x", id="nothing-secret"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


# ----------------------------------------------------------------------------- environment


@pytest.mark.gdal
def test_extra_env_of_a_call_reaches_the_child(
    runner: SubprocessGdalRunner, make_raster: Callable[..., Path], no_debug_env: None
) -> None:
    raster = make_raster("debug.tif")

    quiet = runner.run(["gdalinfo", str(raster)])
    loud = runner.run(["gdalinfo", str(raster)], env={"CPL_DEBUG": "ON"})

    assert quiet.stderr == ""
    assert "GDALOpen(" in loud.stderr
    assert "succeeds as GTiff" in loud.stderr
    assert quiet.stdout == loud.stdout


@pytest.mark.gdal
def test_runner_env_reaches_the_child_and_a_call_env_overrides_it(
    make_raster: Callable[..., Path], no_debug_env: None
) -> None:
    raster = make_raster("debug.tif")
    runner = SubprocessGdalRunner(env={"CPL_DEBUG": "ON"})

    loud = runner.run(["gdalinfo", str(raster)])
    quiet = runner.run(["gdalinfo", str(raster)], env={"CPL_DEBUG": "OFF"})

    assert "succeeds as GTiff" in loud.stderr
    assert quiet.stderr == ""
    assert runner.env == {"CPL_DEBUG": "ON"}


@pytest.mark.gdal
def test_process_environment_is_inherited(
    make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    raster = make_raster("debug.tif")
    monkeypatch.setenv("CPL_DEBUG", "ON")

    result = SubprocessGdalRunner().run(["gdalinfo", str(raster)])

    assert "succeeds as GTiff" in result.stderr


def test_from_settings_uses_the_timeout_and_bin_dir() -> None:
    runner = SubprocessGdalRunner.from_settings(GdalSettings(gdal_timeout_s=5))

    assert runner.timeout_s == 5
    assert runner.bin_dir is None
    assert runner.env == {}


def test_from_settings_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIAL_ETL_GDAL_TIMEOUT_S", "7.5")
    monkeypatch.delenv("SPATIAL_ETL_GDAL_BIN_DIR", raising=False)

    runner = SubprocessGdalRunner.from_settings(env={"AWS_HTTPS": "NO"})

    assert runner.timeout_s == 7.5
    assert runner.bin_dir is None
    assert runner.env == {"AWS_HTTPS": "NO"}


def test_runner_defaults() -> None:
    runner = SubprocessGdalRunner()

    assert runner.timeout_s == 3600.0
    assert runner.bin_dir is None
    assert runner.env == {}
    assert runner.log is runner_module.logger


# ----------------------------------------------------------------------------- containment


class _ToolRunner(SubprocessGdalRunner):
    """Test-only: also starts ``env`` and ``cat``, through the same wrapper chain as GDAL."""

    def executable(self, program: str) -> str:
        if program in {"env", "cat"}:
            found = shutil.which(program)
            assert found is not None
            return found
        return super().executable(program)


def test_secrets_in_the_process_environment_never_reach_the_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = {
        "AWS_SECRET_ACCESS_KEY": "aws-hunter2",
        "AWS_ACCESS_KEY_ID": "aws-id-hunter2",
        "SPATIAL_ETL_S3_SECRET_ACCESS_KEY": "s3-hunter2",
        "SPATIAL_ETL_MONGODB_URI": "mongodb://etl:mongo-hunter2@db/x",
        "SPATIAL_ETL_POSTGIS_DSN": "postgresql://etl:pg-hunter2@db/x",
        "GDAL_HTTP_USERPWD": "user:http-hunter2",
        "PGPASSWORD": "pgpass-hunter2",
        "SOME_OTHER_VARIABLE": "other-hunter2",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GDAL_CACHEMAX", "256")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    runner = _ToolRunner(env={"AWS_S3_ENDPOINT": "minio:9000"})

    shown = runner.run(["env"], env={"PG_USE_COPY": "YES"}).stdout

    child = dict(line.split("=", 1) for line in shown.splitlines())
    assert "hunter2" not in shown
    assert not set(secrets) & set(child)
    assert child["GDAL_CACHEMAX"] == "256"
    assert child["LC_ALL"] == "C.UTF-8"
    assert child["PATH"] == os.environ["PATH"]
    assert child["AWS_S3_ENDPOINT"] == "minio:9000"  # the runner's explicit env
    assert child["PG_USE_COPY"] == "YES"  # the call's explicit env


def test_an_explicit_env_is_the_only_way_to_hand_gdal_a_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "inherited")

    shown = _ToolRunner().run(["env"], env={"AWS_ACCESS_KEY_ID": "given"}).stdout

    assert "AWS_ACCESS_KEY_ID=given" in shown.splitlines()
    assert "inherited" not in shown


def test_every_child_runs_under_the_configured_os_limits() -> None:
    runner = _ToolRunner(max_memory_mb=3000, max_cpu_s=120)

    limits = runner.run(["cat", "/proc/self/limits"]).stdout

    rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
    assert rows["Max address space"][:2] == [str(3000 * 1024 * 1024)] * 2
    assert rows["Max cpu time"][:2] == ["120", "125"]  # SIGXCPU first, SIGKILL 5 s later
    assert rows["Max core file size"][:2] == ["0", "0"]


def test_zero_means_no_os_limit() -> None:
    limits = _ToolRunner(max_memory_mb=0, max_cpu_s=0).run(["cat", "/proc/self/limits"]).stdout

    rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
    assert rows["Max address space"][0] == "unlimited"
    assert rows["Max cpu time"][0] == "unlimited"


def test_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIAL_ETL_GDAL_MAX_MEMORY_MB", "1234")
    monkeypatch.setenv("SPATIAL_ETL_GDAL_MAX_CPU_S", "56")

    runner = SubprocessGdalRunner.from_settings()

    assert (runner.max_memory_mb, runner.max_cpu_s) == (1234, 56)
    assert (SubprocessGdalRunner().max_memory_mb, SubprocessGdalRunner().max_cpu_s) == (
        GdalSettings.model_fields["gdal_max_memory_mb"].default,
        GdalSettings.model_fields["gdal_max_cpu_s"].default,
    )
    with pytest.raises(ValueError, match="0 \\(no limit\\) or positive"):
        SubprocessGdalRunner(max_cpu_s=-1)


@pytest.mark.gdal
def test_the_cpu_limit_stops_gdal_with_a_clear_error(tmp_path: Path) -> None:
    runner = SubprocessGdalRunner(timeout_s=120, max_cpu_s=1)
    # Deflating a 900-megapixel raster takes far more than a second of CPU.
    argv = ["gdal_create", "-outsize", "30000", "30000", "-burn", "7", "-co", "COMPRESS=DEFLATE"]

    started = time.monotonic()
    with pytest.raises(GdalResourceLimitError) as caught:
        runner.run([*argv, str(tmp_path / "big.tif")])

    assert time.monotonic() - started < 60
    error = caught.value
    assert isinstance(error, GdalCommandError)
    assert error.returncode == -signal.SIGXCPU
    assert error.setting == "SPATIAL_ETL_GDAL_MAX_CPU_S"
    assert str(error).startswith(
        "gdal_create was stopped by the CPU-time limit of 1 s "
        "(raise SPATIAL_ETL_GDAL_MAX_CPU_S if the input is legitimate)"
    )
    assert not list(tmp_path.glob("core*"))  # no core dump left behind


@pytest.mark.gdal
def test_the_memory_limit_stops_gdal_with_a_clear_error() -> None:
    runner = SubprocessGdalRunner(timeout_s=60, max_memory_mb=512)
    # A 10-gigabyte in-memory raster: refused by the address-space limit, not by the machine.
    argv = ["gdal_create", "-of", "MEM", "-outsize", "100000", "100000", "mem"]

    with pytest.raises(GdalResourceLimitError) as caught:
        runner.run(argv)

    error = caught.value
    assert error.setting == "SPATIAL_ETL_GDAL_MAX_MEMORY_MB"
    assert str(error).startswith(
        "gdal_create was stopped by the memory (address-space) limit of 512 MiB "
        "(raise SPATIAL_ETL_GDAL_MAX_MEMORY_MB if the input is legitimate)"
    )
    assert "cannot allocate" in error.stderr_tail
    # The same command under no limit fails differently or not at all: never blamed on a limit.
    unlimited = SubprocessGdalRunner(timeout_s=60, max_memory_mb=0)
    with contextlib.suppress(GdalCommandError):
        result = unlimited.run(["gdal_create", "-of", "MEM", "-outsize", "1000", "1000", "m"])
        assert result.returncode == 0


def test_without_util_linux_gdal_is_not_started_uncontained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[subprocess.Popen[bytes]]
) -> None:
    found = shutil.which("gdalinfo")
    assert found is not None
    (tmp_path / "gdalinfo").symlink_to(found)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(runner_module, "_SYSTEM_PATH", str(tmp_path))

    with pytest.raises(GdalSandboxError) as caught:
        SubprocessGdalRunner().run(["gdalinfo", "--version"])

    assert str(caught.value).startswith("setpriv and prlimit not found")
    assert "apt-get install util-linux" in str(caught.value)
    assert spawned == []


# ----------------------------------------------------------------------------- parent death

_PARENT = """
import pathlib, signal, sys
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner

def stop(signum, frame):
    sys.exit(143)

signal.signal(signal.SIGTERM, stop)
try:
    SubprocessGdalRunner(timeout_s=600).run(["gdalinfo", sys.argv[1]])
finally:
    pathlib.Path(sys.argv[2]).write_text("finally ran")
"""


def _start_parent(tmp_path: Path) -> tuple[subprocess.Popen[bytes], psutil.Process, Path]:
    """A Python process running the runner on gdalinfo blocked on a FIFO; and that child."""
    fifo = tmp_path / "blocked.tif"
    os.mkfifo(fifo)
    marker = tmp_path / "finally.txt"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(fifo), str(marker)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = psutil.Process(parent.pid).children(recursive=True)
        gdal = [c for c in children if c.name() == "gdalinfo"]
        if gdal:
            return parent, gdal[0], marker
        time.sleep(0.05)
    parent.kill()
    raise AssertionError("gdalinfo never started under the parent")


def _gone(process: psutil.Process, within_s: float = 10) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.gdal
def test_sigkill_of_the_parent_kills_the_gdal_child(tmp_path: Path) -> None:
    parent, child, marker = _start_parent(tmp_path)
    try:
        assert child.is_running()

        parent.kill()  # SIGKILL: no handler, no finally, no chance to clean up
        parent.wait()

        assert _gone(child), "the GDAL child outlived its parent"
        assert not marker.exists()
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@pytest.mark.gdal
def test_sigterm_of_the_parent_kills_the_child_and_runs_finally(tmp_path: Path) -> None:
    parent, child, marker = _start_parent(tmp_path)
    try:
        parent.send_signal(signal.SIGTERM)

        assert parent.wait(timeout=30) == 143
        assert marker.read_text() == "finally ran"
        assert _gone(child, within_s=1)  # the runner killed and reaped it before unwinding
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
