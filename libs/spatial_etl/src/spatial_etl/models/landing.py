"""Rules for the object keys a manifest may reference in the landing zone.

A manifest path is attacker-controlled text that later reaches GDAL, S3 and a shell-free
command line. It is therefore parsed strictly, before any I/O: only
``s3://landing-zone/<batch_id>/<key...>`` is allowed, and anything GDAL would interpret
specially (``/vsi...`` prefixes, ``PG:`` connection strings, URLs) is rejected with a message
naming the rule.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

LANDING_BUCKET: Final = "landing-zone"
"""The landing-zone bucket named by the upload protocol (README, "The upload protocol")."""

MANIFESTS_PREFIX: Final = "manifests"
"""Top-level folder of the landing zone that holds manifests; never a batch id."""

BATCH_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
"""A batch id: 1-128 characters, letters, digits, ``_ . -``, starting alphanumeric."""

_BATCH_ID = re.compile(BATCH_ID_PATTERN)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class LandingPath(NamedTuple):
    """A parsed landing-zone path: its bucket, batch id and key within the bucket."""

    bucket: str
    batch_id: str
    key: str

    @property
    def uri(self) -> str:
        """The path as the manifest writes it."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        """The last segment of the key (the file name)."""
        return self.key.rsplit("/", 1)[-1]


def batch_id_problem(batch_id: str) -> str | None:
    """Explain why ``batch_id`` is not a safe batch identifier, or return ``None``."""
    if batch_id == MANIFESTS_PREFIX:
        return f"'{MANIFESTS_PREFIX}' is reserved for the manifests folder"
    if ".." in batch_id:
        return "must not contain '..'"
    if not _BATCH_ID.fullmatch(batch_id):
        return (
            "must be 1-128 characters of letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return None


def parse_landing_path(path: str) -> LandingPath:
    """Parse ``s3://landing-zone/<batch>/<key>``; raise ``ValueError`` saying which rule failed.

    The batch segment is returned as found; checking that it equals the manifest's batch id is
    the manifest's job, since only the manifest knows it.
    """
    _refuse_special(path)
    bucket, _, key = path.removeprefix("s3://").partition("/")
    if bucket != LANDING_BUCKET:
        raise ValueError(f"bucket {bucket!r} is not allowed; files must be in {LANDING_BUCKET!r}")
    segments = key.split("/")
    if any(segment == "" for segment in segments):
        raise ValueError("path has an empty segment ('//' or a trailing '/')")
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("'.' and '..' segments are not allowed")
    if len(segments) < 2:
        raise ValueError(
            "path must name a file inside a batch folder: s3://landing-zone/<batch_id>/<file>"
        )
    return LandingPath(bucket=bucket, batch_id=segments[0], key=key)


def _refuse_special(path: str) -> None:
    """Refuse what is not an ``s3://`` URL, naming what GDAL or a shell would make of it."""
    if not path:
        raise ValueError("path is empty")
    if path != path.strip():
        raise ValueError("path has leading or trailing whitespace")
    if _CONTROL.search(path):
        raise ValueError("path contains control characters")
    lowered = path.lower()
    if lowered.startswith("/vsi"):
        raise ValueError("GDAL virtual file system paths (/vsi...) are not allowed; use s3://")
    if lowered.startswith("pg:"):
        raise ValueError("database connection strings (PG:) are not allowed; upload files")
    if path.startswith("/"):
        raise ValueError("absolute local paths are not allowed; use s3://landing-zone/...")
    if "\\" in path:
        raise ValueError("backslashes are not allowed in paths")
    if not path.startswith("s3://"):
        scheme = _URL_SCHEME.match(path)
        if scheme:
            raise ValueError(f"URL scheme {scheme.group(0)!r} is not allowed; use s3://")
        raise ValueError("path must start with s3://landing-zone/")
