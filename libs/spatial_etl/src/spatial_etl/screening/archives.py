"""Check a zip input's central directory before GDAL reads it through ``/vsizip/``.

GDAL never extracts a zip to disk, so a member named ``../x.shp`` cannot overwrite anything;
but such names, links, nested archives and bombs have no place in an honest upload and make
GDAL (and anyone who later unzips the lake's lineage) see files that are not in the batch.
Only the central directory is read: nothing is decompressed, so the check costs the same for
a 4 KB bomb and a 4 GB national shapefile.
"""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Final

from spatial_etl.errors import UnsafeArchiveError
from spatial_etl.settings import ArchiveSettings

MIB: Final = 1024 * 1024
RATIO_MIN_SIZE: Final = MIB
"""Members smaller than this are not ratio-checked: tiny files have meaningless ratios."""

NESTED_SUFFIXES: Final = frozenset(
    {".zip", ".shz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".kmz"}
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_ENCRYPTED: Final = 0x1
_SYMLINK_TYPES: Final = frozenset({stat.S_IFLNK})


def check_zip(path: Path, label: str, settings: ArchiveSettings) -> list[str]:
    """Check the zip at ``path``; return its member names, or raise naming the member and rule.

    Raises:
        UnsafeArchiveError: the archive is unreadable, or a member or size breaks a rule.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnsafeArchiveError(f"{label} is not a readable zip archive: {error}") from None
    if len(members) > settings.archive_max_members:
        raise UnsafeArchiveError(
            f"{label} holds {len(members)} entries, more than "
            f"SPATIAL_ETL_ARCHIVE_MAX_MEMBERS={settings.archive_max_members}"
        )
    total = 0
    for member in members:
        _check_member(member, label, settings)
        total += member.file_size
    cap = settings.archive_max_uncompressed_mb * MIB
    if total > cap:
        raise UnsafeArchiveError(
            f"{label} declares {total / MIB:.0f} MiB uncompressed, more than "
            f"SPATIAL_ETL_ARCHIVE_MAX_UNCOMPRESSED_MB={settings.archive_max_uncompressed_mb}"
        )
    return [member.filename for member in members]


def _check_member(member: zipfile.ZipInfo, label: str, settings: ArchiveSettings) -> None:
    name = member.filename
    where = f"{label}: member {name!r}"
    problem = unsafe_member_name(name)
    if problem:
        raise UnsafeArchiveError(f"{where} {problem}; zip the files without folders above them")
    mode = member.external_attr >> 16
    if mode and stat.S_IFMT(mode) in _SYMLINK_TYPES:
        raise UnsafeArchiveError(f"{where} is a symbolic link; archive the files themselves")
    if member.flag_bits & _ENCRYPTED:
        raise UnsafeArchiveError(f"{where} is encrypted; upload an unencrypted zip")
    if PurePosixPath(name.lower()).suffix in NESTED_SUFFIXES:
        raise UnsafeArchiveError(f"{where} is an archive inside the archive; upload it unnested")
    if member.file_size >= RATIO_MIN_SIZE:
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > settings.archive_max_ratio:
            raise UnsafeArchiveError(
                f"{where} expands {ratio:.0f} times ({member.file_size / MIB:.0f} MiB), more "
                f"than SPATIAL_ETL_ARCHIVE_MAX_RATIO={settings.archive_max_ratio:g}"
            )


def unsafe_member_name(name: str) -> str | None:
    """Why ``name`` may not be an archive member's name, or None when it is safe."""
    if "\\" in name:
        return "contains a backslash"
    if any(ord(char) < 32 for char in name):
        return "contains a control character"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if ".." in PurePosixPath(name).parts:
        return "has a '..' segment"
    return None
