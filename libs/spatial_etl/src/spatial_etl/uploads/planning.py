"""The offline half of an upload: decide every key and write and validate the manifest.

Everything that can be wrong is found before a byte is sent, and reported at once: a user
fixing one problem per attempt would upload the same gigabytes many times.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spatial_etl.errors import UploadError
from spatial_etl.models.landing import MANIFESTS_PREFIX, batch_id_problem
from spatial_etl.models.problems import Problem
from spatial_etl.plugins.registry import IntentCatalog
from spatial_etl.run.validation import ManifestReport, check_manifest
from spatial_etl.uploads.classify import classify, key_problems
from spatial_etl.uploads.crs_probe import CrsReader, crs_of_files
from spatial_etl.uploads.manifest_building import build_manifest, locate
from spatial_etl.uploads.plan import UploadPlan
from spatial_etl.uploads.request import UploadRequest
from spatial_etl.uploads.scan import scan_directory


def plan_upload(
    directory: Path,
    request: UploadRequest,
    *,
    landing_bucket: str,
    catalog: IntentCatalog | None = None,
    crs_of: CrsReader | None = None,
) -> UploadPlan:
    """Decide what to upload from ``directory`` and write the manifest; send nothing.

    Every regular file below ``directory`` is uploaded, except hidden files and folders and
    files matching ``request.exclude``. The manifest lists the data files in path order with
    the type and driver of their extension (or of a format override) and ``request.crs``, or
    the file's own CRS read with ``crs_of``. The manifest is then validated as the sensor
    will validate it (against ``catalog`` when given: intent, accepted drivers, parameters).

    Problems are located by the file's relative path, by the manifest field (``intent``,
    ``metadata.parameters.x``) or by the request's parameter (``batch_id``, ``crs``,
    ``format_overrides``).

    Raises:
        UploadError: Listing every problem: unknown file types, a sidecar without its
            ``.shp`` or a ``.shp`` without its ``.shx``/``.dbf``, keys S3 or the manifest
            rules refuse, an override matching nothing, a missing CRS, and then every
            problem of the generated manifest.
    """
    problem = batch_id_problem(request.batch_id)
    if problem:
        raise UploadError(
            "invalid batch id", [Problem(loc="batch_id", code="batch_id", message=problem)]
        )
    if not directory.is_dir():
        raise UploadError(
            f"{directory} is not a directory",
            [Problem(loc=str(directory), code="not_a_directory", message="not a directory")],
        )
    problems: list[Problem] = []
    files = scan_directory(directory, request.exclude)
    uploads = classify(files, request, problems)
    for item in uploads:
        problems.extend(key_problems(item))
    for override in request.format_overrides:
        if not any(override.matches(relative) for relative, _ in files):
            problems.append(
                Problem(
                    loc="format_overrides",
                    code="override_unused",
                    message=f"{override.pattern!r} matches no file",
                )
            )
    listed = [item for item in uploads if item.listed]
    if not listed and not problems:
        problems.append(
            Problem(loc=str(directory), code="no_data_files", message="no data file to upload")
        )
    crs_by_file = crs_of_files(listed, request.crs, crs_of, problems)
    if problems:
        raise UploadError(summary(problems), problems)

    plan = UploadPlan(
        batch_id=request.batch_id,
        bucket=landing_bucket,
        manifest_key=f"{MANIFESTS_PREFIX}/{request.batch_id}.json",
        manifest=build_manifest(request, listed, crs_by_file, catalog),
        uploads=tuple(uploads),
    )
    report = check_upload(plan, catalog)
    if not report.valid:
        problems = [locate(item, listed) for item in report.problems]
        raise UploadError(f"the generated manifest is invalid: {summary(problems)}", problems)
    return plan


def check_upload(plan: UploadPlan, catalog: IntentCatalog | None) -> ManifestReport:
    """Validate the plan's manifest bytes as the sensor will: named ``<batch_id>.json``."""
    return check_manifest(plan.manifest_bytes(), source=f"{plan.batch_id}.json", catalog=catalog)


def summary(problems: Sequence[Problem]) -> str:
    """All problems on one line, for the exception's message."""
    return f"{len(problems)} problem(s): " + "; ".join(str(problem) for problem in problems)
