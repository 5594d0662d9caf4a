"""``spatial-etl local``: the platform on one machine, with embedded services (typer + rich).

Progress goes to stderr, the summary to stdout. Exit status: 0 when every manifest succeeded,
1 when any was rejected or failed, 2 when the run could not start (the message says what to
install or set), 128 + the signal's number when interrupted (130 for Ctrl-C). The heavy
imports (Dagster, moto) happen when ``run`` runs, not when the command line is built.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from spatial_etl.cli.help import Command, Group

if TYPE_CHECKING:  # loaded when ``run`` runs: every ``spatial-etl`` command loads this module
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from spatial_etl.cli.output import Record

    from spatial_etl_dagster.local.runner import Outcome, Result

app = typer.Typer(
    name="local",
    help="Run the platform on one machine: embedded S3, PostGIS and ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)

_STYLES = {"succeeded": "green", "failed": "red", "rejected": "red"}


@app.callback()
def _group() -> None:
    """Run the real sensor and job on one machine, with embedded services."""


@app.command("run", cls=Command)
def run(  # noqa: PLR0917 - typer passes options by parameter
    landing_dir: Path = typer.Argument(
        ...,
        metavar="LANDING_DIR",
        help="A mirror of the landing-zone bucket: batch folders and manifests/*.json.",
        show_default=False,
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        metavar="DIR",
        help="Where to write the lake, the final landing zone, objects.json and the ledger "
        "(replaced if it holds an earlier run's output).",
        show_default=False,
    ),
    postgis_dsn: str | None = typer.Option(
        None,
        "--postgis-dsn",
        envvar="SPATIAL_ETL_POSTGIS_DSN",
        metavar="DSN",
        help="A database with PostGIS to compute in; unset starts a throw-away cluster.",
        show_default=False,
    ),
    pg_bin_dir: Path | None = typer.Option(
        None,
        "--pg-bin-dir",
        envvar="SPATIAL_ETL_LOCAL_PG_BIN_DIR",
        metavar="DIR",
        help="PostgreSQL server programs for the throw-away cluster "
        "(default: the newest /usr/lib/postgresql/*/bin, else PATH).",
        show_default=False,
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also print the platform's log and Dagster's events."
    ),
    wide: bool = typer.Option(
        False, "--wide", help="Summarise the manifests in one table instead of records."
    ),
    serve: bool = typer.Option(
        False,
        "--serve",
        help="After the run, serve its web catalogue on 127.0.0.1 until Ctrl-C.",
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=0,
        max=65535,
        metavar="N",
        help="The catalogue's port with --serve (default 8080; 0: any free port).",
        show_default=False,
    ),
) -> None:
    """Upload LANDING_DIR to an embedded S3, run the sensor and every run it requests.

    Files go up before manifests: a manifest naming a missing file is rejected at once.
    With --serve, the catalogue of the run then serves on 127.0.0.1 until Ctrl-C/SIGTERM.
    Exit status 0: every manifest succeeded. 1: any was rejected or failed. 2: cannot run.
    """
    # Dagster, moto and the core load when the command runs, not when the CLI is built.
    from spatial_etl_dagster.local.embedded import CannotRun  # noqa: PLC0415
    from spatial_etl_dagster.local.runner import Options, local_run  # noqa: PLC0415

    if port is not None and not serve:
        raise typer.BadParameter("needs --serve", param_hint="'--port'")
    errors = Console(stderr=True, highlight=False)
    options = Options(
        landing_dir=landing_dir,
        out_dir=out,
        postgis_dsn=postgis_dsn or None,
        pg_bin_dir=pg_bin_dir,
        verbose=verbose,
        serve_port=(8080 if port is None else port) if serve else None,
    )
    errors.print(f"[bold]spatial-etl local run[/] {escape(str(landing_dir))} -> {escape(str(out))}")
    try:
        with _signals_as_interrupt() as received, _progress(errors) as reporter:
            try:
                result = local_run(
                    options, reporter, exported=lambda done: _before_serving(reporter, done, wide)
                )
            except KeyboardInterrupt:
                # Ctrl-C, or a signal turned into it; Dagster maps SIGTERM onto SIGINT while
                # a run executes, so which one it was is not always known: 130 then.
                signum = received[-1] if received else signal.SIGINT
                raise typer.Exit(128 + signum) from None
    except CannotRun as error:
        errors.print("[red]cannot run:[/]")
        for problem in error.problems:
            errors.print(f"  - {escape(problem)}")
        raise typer.Exit(2) from None
    except typer.Exit as stop:
        errors.print("[yellow]interrupted:[/] embedded services stopped, nothing exported")
        raise stop
    if not serve:  # with --serve, printed before serving
        _print_summary(result, wide)
    raise typer.Exit(result.exit_status)


def _before_serving(reporter: _RichReporter, result: Result, wide: bool) -> None:
    """The run is exported: end the progress display and print the summary, then serve."""
    reporter.close()
    _print_summary(result, wide)


class _RichReporter:
    """The runner's progress as rich progress bars, one per phase."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def note(self, text: str) -> None:
        self._progress.console.print(f"  {escape(text)}")

    def phase(self, text: str, total: int | None = None) -> None:
        self.finish()
        self._task = self._progress.add_task(text, total=total, detail="")

    def advance(self, completed: int, text: str | None = None) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=completed, detail=escape(text or ""))

    def close(self) -> None:
        """Finish the current phase and stop drawing (notes still print)."""
        self.finish()
        self._progress.stop()

    def finish(self) -> None:
        """Mark the current phase done."""
        if self._task is None:
            return
        task = self._progress.tasks[self._task]
        if task.total is None:
            self._progress.update(self._task, total=1, completed=1)
        self._progress.update(self._task, detail="")
        self._progress.stop_task(self._task)


@contextlib.contextmanager
def _progress(console: Console) -> Iterator[_RichReporter]:
    from rich.progress import (  # noqa: PLC0415 - see the imports
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[detail]}[/]"),
        console=console,
        transient=False,
    )
    reporter = _RichReporter(progress)
    with progress:
        yield reporter
        reporter.finish()


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[list[int]]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so every ``finally`` cleans up.

    Yields the signals received (Ctrl-C raises KeyboardInterrupt by itself and is not listed).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, _frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    watched = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in watched}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_summary(result: Result, wide: bool) -> None:
    from spatial_etl.cli.output import print_records, print_wide  # noqa: PLC0415

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=200)  # a log file need not wrap at 80
    if wide:
        print_wide(_summary_table(result), target=console)
    else:
        console.print("[bold]manifests[/]")
        print_records((_summary_record(outcome) for outcome in result.outcomes), target=console)
        console.print()
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    verdict = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"{verdict}; exit status {result.exit_status}")
    out = escape(str(result.out_dir))
    lake, landing = result.objects.get("data-lake", 0), result.objects.get("landing-zone", 0)
    console.print(f"results in {out}/")
    console.print(f"  data-lake/      {lake} lake object(s): GeoParquet, COG")
    console.print(
        f"  landing-zone/   {landing} object(s): batch files; manifests/processed, failed, "
        "rejected (with reports)"
    )
    console.print("  objects.json    every object: bucket, key, size, sha256, S3 metadata")
    console.print("  ledger/         batches, runs, assets (MongoDB Extended JSON, relaxed)")
    console.print("  logs/           the run log and each Dagster run's events; summary.json")
    timings = result.timings
    parts = ", ".join(
        f"{name} {timings[name]:.1f} s"
        for name in ("services", "upload", "runs", "export")
        if name in timings
    )
    console.print(f"took {timings.get('total', 0.0):.1f} s ({parts})")


def _summary_record(outcome: Outcome) -> Record:
    """One manifest: its batch and outcome on the title line, then what it made or why not."""
    style = _STYLES.get(outcome.status, "default")
    title = f"{escape(outcome.batch_id)}: [{style}]{outcome.status}[/]"
    fields = [("intent", escape(outcome.intent or "-"))]
    fields += [("output", escape(output)) for output in outcome.outputs]
    if outcome.reason:
        fields.append(("reason", escape(outcome.reason)))
    return title, fields


def _summary_table(result: Result) -> Table:
    from rich.table import Table  # noqa: PLC0415 - see the imports

    table = Table(title="manifests", title_justify="left", show_lines=True)
    for column in ("batch", "intent", "outcome", "outputs", "reason"):
        table.add_column(column, no_wrap=True)
    for outcome in result.outcomes:
        style = _STYLES.get(outcome.status, "default")
        table.add_row(
            escape(outcome.batch_id),
            escape(outcome.intent or "-"),
            f"[{style}]{outcome.status}[/]",
            escape("\n".join(outcome.outputs) or "-"),
            escape(outcome.reason or ""),
        )
    return table
