"""Each scanned file's manifest entry: a type and driver, a sidecar, or a problem.

Problems name the request's parameters (``exclude``, ``format_overrides``) in their words and
are located by the file's relative path; a front end adds its own option names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Final

from spatial_etl.models.drivers import EXTENSION_FORMATS
from spatial_etl.models.kinds import FileType
from spatial_etl.models.landing import LANDING_BUCKET, parse_landing_path
from spatial_etl.models.problems import Problem
from spatial_etl.uploads.plan import PlannedUpload
from spatial_etl.uploads.request import UploadRequest
from spatial_etl.uploads.sidecars import missing_sidecars, sidecar_suffix

MAX_KEY_BYTES: Final = 1024
"""S3's limit on the length of a key, in UTF-8 bytes."""


def classify(
    files: Sequence[tuple[str, Path]], request: UploadRequest, problems: list[Problem]
) -> list[PlannedUpload]:
    """Give each file its type and driver, or mark it a sidecar; record what cannot be."""
    shapefiles = {
        relative[: -len(".shp")]
        for relative, _ in files
        if relative.lower().endswith(".shp") and request.override_for(relative) is None
    }
    uploads: list[PlannedUpload] = []
    for relative, path in files:
        suffix = PurePosixPath(relative).suffix.lower()
        default = EXTENSION_FORMATS.get(suffix)
        override = request.override_for(relative)
        kind: FileType | None = None
        driver: str | None = None
        if override is not None:
            kind, driver = override.file_type(default[0] if default else None), override.format
            if kind is None:
                problems.append(
                    Problem(
                        loc=relative,
                        code="type_ambiguous",
                        message=f"{driver!r} reads raster and vector data: write "
                        f"'{override.pattern}=raster:{driver}' or '...=vector:{driver}'",
                    )
                )
                continue
        elif default is not None:
            kind, driver = default
        else:
            sidecar = sidecar_suffix(relative)
            if sidecar is None:
                problems.append(_unknown(relative, suffix))
                continue
            if relative[: -len(sidecar)] not in shapefiles:
                problems.append(
                    Problem(
                        loc=relative,
                        code="orphan_sidecar",
                        message=f"a shapefile {sidecar} without "
                        f"{PurePosixPath(relative[: -len(sidecar)]).name}.shp beside it "
                        "(same name, same folder); exclude it or add the .shp",
                    )
                )
                continue
        if driver == "ESRI Shapefile" and suffix == ".shp":
            missing = missing_sidecars(relative[: -len(".shp")], files)
            if missing:
                problems.append(
                    Problem(
                        loc=relative,
                        code="shapefile_incomplete",
                        message=f"the shapefile's {', '.join(missing)} sidecar(s) are missing "
                        "beside it (same name, same folder); add them or upload it zipped",
                    )
                )
        uploads.append(
            PlannedUpload(
                source=path,
                relative=relative,
                key=f"{request.batch_id}/{relative}",
                size=path.stat().st_size,
                type=kind,
                format=driver,
            )
        )
    return uploads


def key_problems(item: PlannedUpload) -> Iterable[Problem]:
    """Why ``item``'s key cannot be a landing key (the manifest's path rules, S3's length)."""
    try:
        parse_landing_path(f"s3://{LANDING_BUCKET}/{item.key}")
    except ValueError as error:
        yield Problem(
            loc=item.relative, code="bad_key", message=f"cannot be a landing key: {error}"
        )
        return
    if len(item.key.encode()) > MAX_KEY_BYTES:
        yield Problem(
            loc=item.relative,
            code="key_too_long",
            message=f"its key is longer than S3's {MAX_KEY_BYTES} bytes",
        )


def _unknown(relative: str, suffix: str) -> Problem:
    known = ", ".join(sorted(EXTENSION_FORMATS))
    what = f"extension {suffix!r}" if suffix else "no extension"
    return Problem(
        loc=relative,
        code="unknown_file_type",
        message=f"{what} is not a known data file ({known}, or a shapefile sidecar): "
        "exclude it, or declare its driver with a format override (PATTERN=DRIVER)",
    )
