"""Benchmark ``spatial-etl local run`` and ``spatial-etl intents list`` as whole processes.

The local runner's cost is mostly fixed (interpreter, imports, embedded services), so it is
measured from outside, start to exit, the way a user meets it:

* **local run, small vector**: a landing of one 10-polygon GeoPackage (ingest_vector_boundary);
* **local run, small raster**: a landing of one 64 x 64 x 3 GeoTIFF (ingest_satellite_raster);
* **local run, large**: both at full size in one landing (``--polygons`` polygons and a
  ``--raster-size``² raster, two manifests): the peak memory row;
* **intents list**: ``spatial-etl intents list``.

Figures per row (medians over ``--repeat``): wall seconds; the runner's own peak (``VmHWM``
of the ``spatial-etl`` process, sampled from ``/proc`` every 20 ms, and its ``ru_maxrss``
from ``wait4``, which cannot read below this script's own size at the fork); the largest
other Python process of the tree (the embedded S3 server) and the largest of all processes
(GDAL programs, PostgreSQL of a throw-away cluster included), by their sampled ``VmHWM``.

The inputs are those of ``bench/run_bench.py`` (same generators, same seed). PostGIS: the
database of ``SPATIAL_ETL_POSTGIS_DSN`` when set (``make bench`` starts one), else each run
starts a throw-away cluster, as ``make demo`` does; ``--throwaway`` forces the latter. Like
run_bench.py this is a measurement, not a test. Usage::

    .venv/bin/python bench/local_runner.py [--repeat 3] [--cases small-vector small-raster
        large intents] [--polygons 200000] [--raster-size 8000] [--throwaway] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import CRS, TreeSampler, make_geopackage, make_geotiff

CASES: Final = ("small-vector", "small-raster", "large", "intents")
SPATIAL_ETL: Final = Path(sys.executable).with_name("spatial-etl")


@dataclass(frozen=True)
class Run:
    """One whole process and what it held."""

    case: str
    wall_s: float
    exit_status: int
    runner_peak_mib: float
    runner_ru_maxrss_mib: float
    s3_server_peak_mib: float
    largest_mib: float
    largest_program: str


def _manifest(batch: str, intent: str, name: str, kind: str, fmt: str) -> dict[str, Any]:
    return {
        "batch_id": batch,
        "uploader": "bench",
        "intent": intent,
        "files": [
            {"path": f"s3://landing-zone/{batch}/{name}", "type": kind, "format": fmt, "crs": CRS}
        ],
        "metadata": {"project": "BENCH", "description": f"local runner benchmark: {batch}"},
    }


def make_landing(root: Path, *, polygons: int | None, raster_size: int | None) -> Path:
    """A landing directory with a GeoPackage and/or a GeoTIFF and their manifests."""
    (root / "manifests").mkdir(parents=True)
    if polygons is not None:
        (root / "parcels").mkdir()
        make_geopackage(root / "parcels" / "parcels.gpkg", polygons)
        doc = _manifest("parcels", "ingest_vector_boundary", "parcels.gpkg", "vector", "GPKG")
        (root / "manifests" / "parcels.json").write_text(json.dumps(doc))
    if raster_size is not None:
        (root / "scene").mkdir()
        make_geotiff(root / "scene" / "scene.tif", raster_size)
        doc = _manifest("scene", "ingest_satellite_raster", "scene.tif", "raster", "GTiff")
        (root / "manifests" / "scene.json").write_text(json.dumps(doc))
    return root


def measure(case: str, argv: Sequence[str], env: dict[str, str]) -> Run:
    """Run ``argv`` to its end; wall time and the peaks of its processes."""
    started = time.perf_counter()
    child = subprocess.Popen(
        list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    _wait_exec(child.pid)  # the sampler names the root by its name after exec
    with TreeSampler(child.pid) as sampler:
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    root = [hwm for (pid, _), hwm in sampler.hwm_kb.items() if pid == child.pid]
    python = [
        hwm
        for (pid, name), hwm in sampler.hwm_kb.items()
        if pid != child.pid and name.startswith("python")
    ]
    largest = max(sampler.hwm_kb.items(), key=lambda item: item[1], default=((0, "-"), 0))
    return Run(
        case=case,
        wall_s=wall,
        exit_status=child.returncode,
        runner_peak_mib=max(root, default=0) / 1024,
        runner_ru_maxrss_mib=usage.ru_maxrss / 1024,
        s3_server_peak_mib=max(python, default=0) / 1024,
        largest_mib=largest[1] / 1024,
        largest_program=largest[0][1],
    )


def _comm(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _wait_exec(pid: int, timeout_s: float = 2.0) -> None:
    """Wait until ``pid`` has exec'd: its name is no longer ours.

    TreeSampler skips descendants named like the root; named before the exec, the root would
    be "python", and the S3 server would be skipped as a fork of it.
    """
    own = _comm("self")
    deadline = time.monotonic() + timeout_s
    while _comm(pid) == own and time.monotonic() < deadline:
        time.sleep(0.001)


def _summary(runs: Sequence[Run]) -> dict[str, Any]:
    def med(values: Sequence[float]) -> float:
        return statistics.median(values)

    return {
        "case": runs[0].case,
        "runs": len(runs),
        "exit_status": sorted({r.exit_status for r in runs}),
        "wall_s": med([r.wall_s for r in runs]),
        "runner_peak_mib": med([r.runner_peak_mib for r in runs]),
        "runner_ru_maxrss_mib": med([r.runner_ru_maxrss_mib for r in runs]),
        "s3_server_peak_mib": med([r.s3_server_peak_mib for r in runs]),
        "largest_mib": med([r.largest_mib for r in runs]),
        "largest_program": max(runs, key=lambda r: r.largest_mib).largest_program,
    }


def _table(summaries: Sequence[dict[str, Any]]) -> str:
    header = [
        "case",
        "s",
        "runner peak MiB",
        "runner ru_maxrss MiB",
        "S3 server peak MiB",
        "largest process MiB",
        "exit",
    ]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for s in summaries:
        row = [
            s["case"],
            f"{s['wall_s']:.2f}",
            f"{s['runner_peak_mib']:.0f}",
            f"{s['runner_ru_maxrss_mib']:.0f}",
            f"{s['s3_server_peak_mib']:.0f}" if s["s3_server_peak_mib"] else "-",
            f"{s['largest_mib']:.0f} ({s['largest_program']})",
            ",".join(map(str, s["exit_status"])),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="spatial-etl local run / intents list, timed.")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case; medians shown")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--polygons", type=int, default=200_000, help="polygons, large case")
    parser.add_argument("--raster-size", type=int, default=8000, help="raster side, large case")
    parser.add_argument("--throwaway", action="store_true", help="no DSN: throw-away clusters")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--workdir", type=Path, help="where landings and outputs go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Make the landings, run each case ``--repeat`` times in turn, print the medians."""
    args = _parse(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPATIAL_ETL_S3_")}
    if args.throwaway:
        env.pop("SPATIAL_ETL_POSTGIS_DSN", None)
    tmp = Path(tempfile.mkdtemp(prefix="spatial-etl-bench-local-", dir=args.workdir))
    try:
        landings = {
            "small-vector": {"polygons": 10, "raster_size": None},
            "small-raster": {"polygons": None, "raster_size": 64},
            "large": {"polygons": args.polygons, "raster_size": args.raster_size},
        }
        commands: dict[str, list[str]] = {}
        for case in args.cases:
            if case == "intents":
                commands[case] = [str(SPATIAL_ETL), "intents", "list"]
                continue
            print(f"bench: making the {case} landing ...", file=sys.stderr, flush=True)
            landing = make_landing(tmp / case, **landings[case])
            out = tmp / f"{case}-out"
            commands[case] = [str(SPATIAL_ETL), "local", "run", str(landing), "--out", str(out)]
        runs: dict[str, list[Run]] = {case: [] for case in commands}
        for rep in range(args.repeat):
            for case, command in commands.items():  # interleaved: drift hits every case
                run = measure(case, command, env)
                print(
                    f"bench: {rep + 1}/{args.repeat} {case}: {run.wall_s:.2f} s, runner "
                    f"{run.runner_peak_mib:.0f} MiB, exit {run.exit_status}",
                    file=sys.stderr,
                    flush=True,
                )
                runs[case].append(run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summaries = [_summary(case_runs) for case_runs in runs.values()]
    print(_table(summaries) if args.markdown else json.dumps(summaries, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summaries}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
