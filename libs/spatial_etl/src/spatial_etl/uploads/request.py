"""What a user asks an upload for: the batch's identity, its metadata, how to read the files.

The field names are the parameter names problems are located by (``crs``,
``format_overrides``...); a front end (the command line) maps them to its own options.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.models.drivers import FILE_DRIVERS
from spatial_etl.models.kinds import FileType
from spatial_etl.uploads.scan import glob_matches


class FormatOverride(BaseModel):
    """``PATTERN=[TYPE:]DRIVER``: files matching ``PATTERN`` are ``DRIVER`` files.

    ``PATTERN`` is a glob matched against the path relative to the directory or, when it holds
    no ``/``, against each name in that path (a file name, or a folder's). ``TYPE``
    (``raster`` or ``vector``) is needed only for a driver that reads both, when the
    extension does not tell.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(min_length=1)
    type: FileType | None = None
    format: str

    @classmethod
    def parse(cls, text: str) -> FormatOverride:
        """Parse ``PATTERN=[TYPE:]DRIVER``; raise ``ValueError`` saying what is wrong."""
        pattern, sep, target = text.partition("=")
        if not sep or not pattern or not target:
            raise ValueError(f"{text!r} is not PATTERN=DRIVER (e.g. '*.asc=AAIGrid')")
        kind: FileType | None = None
        head, colon, driver = target.partition(":")
        if colon and head in {t.value for t in FileType}:
            kind = FileType(head)
        else:
            driver = target
        if driver not in FILE_DRIVERS:
            matches = [name for name in FILE_DRIVERS if name.lower() == driver.lower()]
            hint = f" (did you mean {matches[0]!r}?)" if matches else ""
            raise ValueError(f"{driver!r} is not a GDAL file driver short name{hint}")
        if kind is not None and kind not in FILE_DRIVERS[driver]:
            raise ValueError(f"{driver!r} does not read {kind.value} data")
        return cls(pattern=pattern, type=kind, format=driver)

    def matches(self, relative: str) -> bool:
        """Whether the file at ``relative`` (POSIX, relative to the directory) matches."""
        return glob_matches(self.pattern, relative)

    def file_type(self, default: FileType | None) -> FileType | None:
        """The type a matching file is declared as; None when that is left open.

        The override's own type, else the driver's only type, else the extension's type when
        the driver reads it.
        """
        if self.type is not None:
            return self.type
        types = FILE_DRIVERS[self.format]
        if len(types) == 1:
            return next(iter(types))
        return default if default in types else None


class UploadRequest(BaseModel):
    """What the user asks for: the batch's identity, metadata and how to read the files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    intent: str
    uploader: str
    project: str | None = Field(default=None, description="None leaves the manifest invalid.")
    description: str = ""
    dataset: str | None = None
    crs: str | None = Field(default=None, description="CRS of every file; None reads each's.")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Intent parameters as the user typed them."
    )
    format_overrides: tuple[FormatOverride, ...] = ()
    exclude: tuple[str, ...] = Field(default=(), description="Globs of files not to upload.")

    def override_for(self, relative: str) -> FormatOverride | None:
        """The first override matching the file at ``relative``, if any."""
        return next((o for o in self.format_overrides if o.matches(relative)), None)


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``key=value`` (the value may contain ``=``); raise ``ValueError`` otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{text!r} is not key=value")
    return key.strip(), value
