"""``spatial-etl upload DIR``: send a directory as a batch, files first, manifest last."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn, cast

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from spatial_etl.cli import connect
from spatial_etl.cli.output import (
    catalog,
    console,
    errors,
    print_items,
    print_json,
    print_trimmed,
    size,
    warn_failures,
)

if TYPE_CHECKING:
    from spatial_etl.models.problems import Problem
    from spatial_etl.uploads import PlannedUpload, UploadPlan, UploadProgress, UploadResult


def upload(  # noqa: PLR0917 - typer passes options by parameter
    directory: Path = typer.Argument(
        ...,
        exists=True,
        file_okay=False,
        readable=True,
        metavar="DIR",
        help="Directory of the batch's files.",
    ),
    intent: str = typer.Option(
        ..., "--intent", metavar="INTENT", help="Intent that processes the batch."
    ),
    batch_id: str = typer.Option(
        ..., "--batch-id", metavar="ID", help="Batch id: letters, digits, _ . -"
    ),
    uploader: str | None = typer.Option(
        None,
        "--uploader",
        metavar="NAME",
        help="Who uploads (manifest 'uploader'). Default: your login name.",
    ),
    project: str = typer.Option(
        ..., "--project", metavar="NAME", help="Project of the batch (metadata.project)."
    ),
    description: str = typer.Option(
        "", "--description", metavar="TEXT", help="What the batch holds (metadata.description)."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", metavar="NAME", help="Lake dataset name (metadata.dataset)."
    ),
    crs: str | None = typer.Option(
        None,
        "--crs",
        metavar="CRS",
        help="CRS of every file (EPSG:XXXX, WKT or PROJJSON). Default: each file's own, "
        "read with GDAL.",
    ),
    format_override: list[str] = typer.Option(
        [],
        "--format-override",
        metavar="PATTERN=DRIVER",
        help="Files matching the glob PATTERN are DRIVER files (e.g. '*.asc=AAIGrid'); "
        "PATTERN=raster:DRIVER or vector:DRIVER for a driver that reads both. Repeatable.",
    ),
    exclude: list[str] = typer.Option(
        [],
        "--exclude",
        metavar="GLOB",
        help="Glob of files or folders not to upload (e.g. '*.xml'). Repeatable.",
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        metavar="KEY=VALUE",
        help="Intent parameter (metadata.parameters). Repeatable.",
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Upload even if the batch's manifest is already committed."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the manifest and the planned uploads; touch nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON; no progress bar."),
) -> None:
    """Upload DIR's files under s3://landing-zone/BATCH_ID/, then commit the manifest.

    Every file below DIR is uploaded (hidden ones and --exclude matches skipped) to the
    same relative path under the batch folder. Files are typed by extension: .tif/.tiff
    GTiff, .jp2 JP2OpenJPEG, .gpkg GPKG, .geojson/.json GeoJSON, .fgb FlatGeobuf, .shp,
    .zip and .shz ESRI Shapefile (.shx, .dbf, .prj, .cpg... go along, unlisted); others
    need --format-override or --exclude. The generated manifest is validated against the
    installed plugins before anything is sent, and uploaded last, only if every file
    arrived: after a failure nothing runs, and the same command can simply be run again.

    Exits 1 when the upload is refused or a file failed, 2 when S3 cannot be used.
    """
    from spatial_etl.errors import BatchCommittedError, StorageError, UploadError  # noqa: PLC0415
    from spatial_etl.settings import GdalSettings, StorageSettings  # noqa: PLC0415
    from spatial_etl.spatial_utils import SubprocessGdalRunner  # noqa: PLC0415
    from spatial_etl.uploads import (  # noqa: PLC0415
        FormatOverride,
        UploadRequest,
        execute_upload,
        parse_assignment,
        plan_upload,
        read_file_crs,
    )

    try:
        overrides = tuple(FormatOverride.parse(text) for text in format_override)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--format-override") from None
    try:
        parameters = dict(parse_assignment(text) for text in param)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--param") from None
    storage = connect.settings(StorageSettings)
    loaded = catalog()
    if not as_json:
        warn_failures(loaded)
    request = UploadRequest(
        batch_id=batch_id,
        intent=intent,
        uploader=uploader if uploader is not None else _login(),
        project=project,
        description=description,
        dataset=dataset,
        crs=crs,
        parameters=parameters,
        format_overrides=overrides,
        exclude=tuple(exclude),
    )
    crs_of = None
    if crs is None:
        runner = SubprocessGdalRunner.from_settings(connect.settings(GdalSettings))
        crs_of = partial(read_file_crs, runner)
    try:
        plan = plan_upload(
            directory,
            request,
            landing_bucket=storage.landing_bucket,
            catalog=loaded,
            crs_of=crs_of,
        )
    except UploadError as error:
        _refuse(directory, error.problems, as_json)
    if dry_run:
        _print_plan(plan, as_json)
        return

    store = connect.open_store(storage)
    try:
        if as_json:
            result = execute_upload(store, plan, replace=replace)
        else:
            result = _with_progress(
                plan,
                lambda bar: execute_upload(store, plan, replace=replace, progress=bar),
            )
    except StorageError as error:
        connect.fail(f"cannot use the landing bucket; nothing was uploaded: {error}", 2)
    except UploadError as error:
        committed = isinstance(error, BatchCommittedError)
        connect.fail(f"{error} with --replace" if committed else str(error))
    except KeyboardInterrupt:
        connect.fail(
            "interrupted before the manifest was committed (unless it was being sent), so "
            "nothing will run; run the same command again to finish",
            130,
        )
    _report(plan, result, as_json)
    if not result.committed:
        raise typer.Exit(1)


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        connect.fail("cannot tell who you are: pass --uploader", 2)


def _refuse(directory: Path, problems: list[object], as_json: bool) -> NoReturn:
    found = cast("list[Problem]", problems)
    if as_json:
        print_json({"valid": False, "problems": [p.model_dump(mode="json") for p in found]})
    else:
        errors.print(
            f"[red]error:[/] cannot upload {escape(str(directory))}: {len(found)} problem(s); "
            "nothing was uploaded"
        )
        print_items((escape(describe_problem(problem)) for problem in found), target=errors)
    raise typer.Exit(1)


def _print_plan(plan: UploadPlan, as_json: bool) -> None:
    if as_json:
        print_json({"dry_run": True, **plan.describe()})
        return
    console.print(
        f"Planned uploads to s3://{escape(plan.bucket)}/{escape(plan.batch_id)}/ "
        f"({len(plan.uploads)} file(s), {size(plan.total_size)}):"
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")  # the path last: folded under itself, never cut
    for item in plan.uploads:
        entry = f"{item.type.value} {item.format}" if item.type else "sidecar (not listed)"
        grid.add_row(size(item.size), escape(entry), escape(item.relative))
    print_trimmed(Padding(grid, (0, 0, 0, 2), expand=False))
    console.print(
        f"\nThen, last, the manifest s3://{escape(plan.bucket)}/{escape(plan.manifest_key)}:"
    )
    typer.echo(plan.manifest_bytes().decode(), nl=False)
    console.print("[dim]Dry run: nothing was uploaded.[/]")


class _Bar:
    """Draws the upload on stderr: bytes sent within each file, failures as they happen."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task
        self._sent: dict[str, int] = {}

    def started(self, item: PlannedUpload) -> None:
        self._sent[item.key] = 0
        self.progress.update(self.task, description=escape(item.relative))

    def sent(self, item: PlannedUpload, amount: int) -> None:
        self._sent[item.key] = self._sent.get(item.key, 0) + amount
        self.progress.advance(self.task, amount)

    def finished(self, item: PlannedUpload, error: str | None) -> None:
        # A failed file's bytes count as done, and so does anything a callback did not tell.
        self.progress.advance(self.task, item.size - self._sent.pop(item.key, 0))
        if error is not None:
            self.progress.console.print(f"[red]failed[/] {escape(item.key)}: {escape(error)}")


def _with_progress(plan: UploadPlan, run: Callable[[UploadProgress], UploadResult]) -> UploadResult:
    """Run the upload under a progress bar on stderr (bytes sent, current file)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task("starting", total=plan.total_size or None)
        return run(_Bar(progress, task))


OPTION_OF: Final = {
    "batch_id": "--batch-id",
    "uploader": "--uploader",
    "intent": "--intent",
    "crs": "--crs",
    "format_overrides": "--format-override",
    "exclude": "--exclude",
    "metadata.project": "--project",
    "metadata.description": "--description",
    "metadata.dataset": "--dataset",
    "metadata.parameters": "--param",
}
"""The option behind each parameter or manifest field an upload problem is located by."""

_HINTS: Final = {
    "unknown_file_type": "leave it out with --exclude PATTERN or declare it with "
    "--format-override PATTERN=DRIVER",
    "crs_required": "pass --crs",
    "crs_missing": "pass --crs",
    "crs_unreadable": "pass --crs",
}


def describe_problem(problem: Problem) -> str:
    """An upload problem in the command line's words: located by option, with a hint."""
    loc = problem.loc
    for field, option in OPTION_OF.items():
        if loc == field or loc.startswith(f"{field}."):
            loc = f"{loc} ({option})"
            break
    hint = _HINTS.get(problem.code)
    return f"{loc or '(document)'}: {problem.message}" + (f" ({hint})" if hint else "")


def _report(plan: UploadPlan, result: UploadResult, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "committed": result.committed,
                "bucket": result.bucket,
                "manifest_key": plan.manifest_key if result.committed else None,
                "uploaded": [
                    {"key": stored.key, "size": stored.size, "sha256": stored.sha256}
                    for stored in result.uploaded
                ],
                "failures": [failure.model_dump(mode="json") for failure in result.failures],
                "stale_keys": result.stale_keys,
            }
        )
        return
    sent = sum(stored.size for stored in result.uploaded)
    console.print(
        f"Uploaded {len(result.uploaded)} of {len(plan.uploads)} file(s) ({size(sent)}) to "
        f"s3://{escape(plan.bucket)}/{escape(plan.batch_id)}/"
    )
    if result.stale_keys:
        listing = ", ".join(result.stale_keys[:10]) + (
            " ..." if len(result.stale_keys) > 10 else ""
        )
        errors.print(
            f"[yellow]warning:[/] the batch folder also holds {len(result.stale_keys)} object(s) "
            f"this upload did not write (not in the manifest, but a shapefile's run fetches "
            f"every <name>.* beside its .shp): {escape(listing)}"
        )
    if result.committed:
        console.print(
            f"[green]Committed[/] s3://{escape(plan.bucket)}/{escape(plan.manifest_key)}: the "
            f"platform will pick the batch up. Follow it with: spatial-etl status "
            f"{escape(plan.batch_id)}"
        )
        return
    errors.print(f"[red]error:[/] {len(result.failures)} upload(s) failed:")
    for failure in result.failures:
        errors.print(f"  - {escape(failure.key)}: {escape(failure.message)}", soft_wrap=True)
    errors.print(
        "[red]The manifest was NOT committed, so nothing will run.[/] Fix the cause and run "
        "the same command again."
    )
