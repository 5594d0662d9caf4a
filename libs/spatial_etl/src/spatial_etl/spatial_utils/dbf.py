"""Check a shapefile's attribute table (.dbf) before GDAL loads it, so no value is silently wrong.

GDAL reads a .dbf leniently: a numeric field holding ``3,14`` or garbage becomes 3 or 0, bytes
that do not decode in the declared encoding are replaced or dropped with a warning nobody reads,
and a header claiming more records than the file holds makes readers allocate or loop for
nothing. This module reads the table itself, streaming in chunks of records, and refuses:

- a header whose ``records x record length + header length`` exceeds the file's size, or
  whose fields do not fit the record; a ``.shx`` whose record count differs from the .dbf's;
- a character field whose bytes do not decode in the declared encoding (:func:`dbf_encoding`);
- a numeric or float field that is not a number, blank (spaces or NULs) or ``*``-filled (null);
  a date field that is not 8 digits or blank; a logical field not one of ``?YyNnTtFf`` or blank.

Each refusal names the file, the field and the 1-based row. Records marked deleted are checked
too: their bytes are part of the input the ledger records.

Speed: a chunk is split into per-field columns with ``struct.iter_unpack`` and each column is
validated whole (one strict decode, one regular expression) at C speed; only a column that fails
is walked value by value, to name the row.
"""

from __future__ import annotations

import codecs
import re
import struct
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Final

from spatial_etl.errors import AttributeTableError

CHUNK_BYTES: Final = 8 * 1024 * 1024
"""Bytes of records read and checked at a time: memory stays bounded whatever the file."""

DEFAULT_ENCODING: Final = "latin-1"
"""GDAL's fallback for a .dbf with neither a .cpg nor a language driver id: ISO-8859-1, which
maps every byte, so such a table always decodes (it cannot be wrong, only differently read)."""

_HEADER_SIZE: Final = 32
_DESCRIPTOR_SIZE: Final = 32
_SHX_HEADER: Final = 100
_SHX_RECORD: Final = 8

_NUMBER: Final = rb" *(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)? *|\**|\x00*"
_NUMERIC_VALUE: Final = re.compile(_NUMBER)
# Atomic per value: once a value and its newline matched, a later failure cannot backtrack
# into it (without this, a bad value deep in a chunk takes exponential time to report).
_NUMERIC_COLUMN: Final = re.compile(rb"(?>(?:" + _NUMBER + rb")\n)*+")
_DATE_VALUE: Final = re.compile(rb"\d{8}| {8}|\x00{8}")
_DATE_COLUMN: Final = re.compile(rb"(?:\d{8}| {8}|\x00{8})*")
_LOGICAL: Final = re.compile(rb"[?YyNnTtFf \x00]*")

_CPG_ALIASES: Final = {
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "65001": "utf-8",
    "1252": "cp1252",
    "CP1252": "cp1252",
    "WINDOWS-1252": "cp1252",
    "ANSI 1252": "cp1252",
    "88591": "latin-1",
    "8859-1": "latin-1",
    "ISO-8859-1": "latin-1",
    "ISO88591": "latin-1",
    "LATIN1": "latin-1",
}
_LDID_CODE_PAGES: Final = {
    0x01: "cp437",
    0x02: "cp850",
    0x03: "cp1252",
    0x08: "cp865",
    0x0A: "cp850",
    0x0B: "cp437",
    0x0D: "cp437",
    0x0E: "cp850",
    0x0F: "cp437",
    0x10: "cp850",
    0x13: "cp932",
    0x1F: "cp852",
    0x22: "cp852",
    0x23: "cp852",
    0x24: "cp860",
    0x25: "cp850",
    0x26: "cp866",
    0x37: "cp850",
    0x40: "cp852",
    0x4D: "cp936",
    0x4E: "cp949",
    0x4F: "cp950",
    0x50: "cp874",
    0x57: "latin-1",
    0x58: "cp1252",
    0x59: "cp1252",
    0x64: "cp852",
    0x65: "cp866",
    0x66: "cp865",
    0x67: "cp861",
    0x6A: "cp737",
    0x6B: "cp857",
    0x78: "cp950",
    0x79: "cp949",
    0x7A: "cp936",
    0x7B: "cp932",
    0x7C: "cp874",
    0xC8: "cp1250",
    0xC9: "cp1251",
    0xCA: "cp1254",
    0xCB: "cp1253",
    0xCC: "cp1257",
}


@dataclass(frozen=True)
class DbfField:
    """One field descriptor: its name, dBASE type letter, width, and offset in a record."""

    name: str
    type: str
    width: int
    offset: int


@dataclass(frozen=True)
class DbfHeader:
    """What a .dbf header declares."""

    record_count: int
    header_length: int
    record_length: int
    language_driver: int
    fields: tuple[DbfField, ...]


def read_dbf_header(stream: IO[bytes], label: str) -> DbfHeader:
    """Read the header and field descriptors; raise :class:`AttributeTableError` if broken."""
    head = stream.read(_HEADER_SIZE)
    if len(head) < _HEADER_SIZE:
        raise AttributeTableError(f"{label}: the .dbf is shorter than its 32-byte header")
    record_count, header_length, record_length = struct.unpack("<IHH", head[4:12])
    descriptors = stream.read(max(0, header_length - _HEADER_SIZE))
    fields: list[DbfField] = []
    offset = 1  # the deletion flag comes first
    for start in range(0, len(descriptors) - _DESCRIPTOR_SIZE + 1, _DESCRIPTOR_SIZE):
        raw = descriptors[start : start + _DESCRIPTOR_SIZE]
        if raw[0] == 0x0D:
            break
        kind = chr(raw[11]).upper()
        # shapelib's rule: a numeric width is one byte; others use the decimals byte as high byte.
        width = raw[16] if kind in "NF" else raw[16] + raw[17] * 256
        name = raw[:11].split(b"\x00", 1)[0].decode("latin-1").strip()
        fields.append(DbfField(name=name, type=kind, width=width, offset=offset))
        offset += width
    if offset > record_length:
        raise AttributeTableError(
            f"{label}: the .dbf's fields need {offset} bytes per record but its header declares "
            f"records of {record_length} bytes"
        )
    return DbfHeader(
        record_count=record_count,
        header_length=header_length,
        record_length=record_length,
        language_driver=head[29],
        fields=tuple(fields),
    )


def dbf_encoding(cpg: str | None, language_driver: int) -> str:
    """The Python codec of a .dbf's character fields, by GDAL's order of precedence.

    The ``.cpg`` sidecar wins (``UTF-8``/``65001``, ``1252``, ``88591``/``ISO-8859-1``, any
    other code page number as ``cpNNN``, or a codec name Python knows); then the header's
    language driver id (byte 29, the dBASE code-page table); then ISO-8859-1. A ``.cpg`` naming
    an encoding nobody knows is refused rather than guessed.
    """
    if cpg is not None and cpg.strip():
        declared = cpg.strip().upper()
        if declared in _CPG_ALIASES:
            return _CPG_ALIASES[declared]
        if declared.startswith("8859"):
            declared = f"ISO-8859-{declared[4:].lstrip('-')}"
        elif declared.isdigit():
            declared = f"cp{declared}"
        try:
            return codecs.lookup(declared).name
        except LookupError:
            raise AttributeTableError(
                f"the .cpg declares the encoding {cpg.strip()!r}, which is not known"
            ) from None
    return _LDID_CODE_PAGES.get(language_driver, DEFAULT_ENCODING)


def check_dbf(
    stream: IO[bytes],
    *,
    label: str,
    size: int,
    cpg: str | None = None,
    shx_size: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> DbfHeader:
    """Check a .dbf read from ``stream`` (``size`` bytes long); see the module docstring.

    Raises :class:`LimitExceededError` for a header the file cannot hold and
    :class:`AttributeTableError` for a value that is not valid for its field.
    """
    header = read_dbf_header(stream, label)
    needed = header.header_length + header.record_count * header.record_length
    if needed > size:
        raise AttributeTableError(
            f"{label}: the .dbf header declares {header.record_count} records of "
            f"{header.record_length} bytes after a {header.header_length}-byte header "
            f"({needed} bytes) but the file holds {size} bytes"
        )
    if shx_size is not None:
        shx_records = (shx_size - _SHX_HEADER) // _SHX_RECORD
        if shx_size < _SHX_HEADER or shx_records != header.record_count:
            raise AttributeTableError(
                f"{label}: the .shx indexes {max(shx_records, 0)} shapes but the .dbf declares "
                f"{header.record_count} records"
            )
    encoding = dbf_encoding(cpg, header.language_driver)
    per_chunk = max(1, chunk_bytes // max(1, header.record_length))
    first_row = 1
    for chunk in _chunks(stream, header, per_chunk, label):
        _check_chunk(chunk, header, encoding, first_row, label)
        first_row += len(chunk) // header.record_length
    return header


def check_shapefile_attributes(gdal_path: str, *, label: str, layer: str | None = None) -> None:
    """Check the .dbf of a staged shapefile: a plain ``.shp`` or a ``/vsizip/`` archive.

    In an archive, the .dbf whose stem is ``layer`` is checked, or every .dbf when none is.
    A shapefile without a .dbf has no attributes to check.
    """
    if gdal_path.startswith("/vsizip/"):
        _check_zipped(Path(gdal_path[len("/vsizip/") :]), label, layer)
        return
    shp = Path(gdal_path)
    siblings = {p.suffix.lower(): p for p in shp.parent.glob(f"{glob_escape(shp.stem)}.*")}
    dbf = siblings.get(".dbf")
    if dbf is None:
        return
    cpg = siblings.get(".cpg")
    shx = siblings.get(".shx")
    with dbf.open("rb") as stream:
        check_dbf(
            stream,
            label=label,
            size=dbf.stat().st_size,
            cpg=cpg.read_text("latin-1") if cpg else None,
            shx_size=shx.stat().st_size if shx else None,
        )


def glob_escape(text: str) -> str:
    """Escape glob metacharacters in a file stem."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _check_zipped(archive: Path, label: str, layer: str | None) -> None:
    with zipfile.ZipFile(archive) as zipped:
        members = {m.filename.lower(): m for m in zipped.infolist() if not m.is_dir()}
        tables = [m for name, m in members.items() if name.endswith(".dbf")]
        if layer is not None:
            chosen = [m for m in tables if PurePosixPath(m.filename).stem.lower() == layer.lower()]
            tables = chosen or tables
        for table in tables:
            stem = table.filename[: -len(".dbf")].lower()
            cpg = members.get(stem + ".cpg")
            shx = members.get(stem + ".shx")
            with ExitStack() as stack:
                stream = stack.enter_context(zipped.open(table))
                check_dbf(
                    stream,
                    label=f"{label} ({table.filename})",
                    size=table.file_size,
                    cpg=_read_small(zipped, cpg),
                    shx_size=shx.file_size if shx else None,
                )


def _read_small(zipped: zipfile.ZipFile, member: zipfile.ZipInfo | None) -> str | None:
    if member is None:
        return None
    with zipped.open(member) as stream:
        return stream.read(1024).decode("latin-1")


def _chunks(stream: IO[bytes], header: DbfHeader, per_chunk: int, label: str) -> Iterator[bytes]:
    remaining = header.record_count
    while remaining > 0:
        count = min(per_chunk, remaining)
        wanted = count * header.record_length
        chunk = _read_exactly(stream, wanted)
        if len(chunk) < wanted:
            row = header.record_count - remaining + 1 + len(chunk) // header.record_length
            raise AttributeTableError(f"{label}: the .dbf ends inside record {row}")
        remaining -= count
        yield chunk


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    missing = size
    while missing > 0:
        part = stream.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _check_chunk(
    chunk: bytes, header: DbfHeader, encoding: str, first_row: int, label: str
) -> None:
    checked = [f for f in header.fields if f.type in "CNFDL" and f.width > 0]
    if not checked:
        return
    layout = []
    position = 0
    for field in checked:
        layout.append(f"{field.offset - position}x{field.width}s")
        position = field.offset + field.width
    layout.append(f"{header.record_length - position}x")
    columns = list(zip(*struct.iter_unpack("<" + "".join(layout), chunk), strict=True))
    for field, column in zip(checked, columns, strict=True):
        _check_column(field, column, encoding, first_row, label)


def _check_column(
    field: DbfField, column: tuple[bytes, ...], encoding: str, first_row: int, label: str
) -> None:
    if field.type == "C":
        joined = b"\n".join(column)  # \n never sits inside a multi-byte sequence
        try:
            joined.decode(encoding)
        except UnicodeDecodeError as error:
            row = first_row + joined.count(b"\n", 0, error.start)
            bad = joined[error.start : error.end]
            raise AttributeTableError(
                f"{label}: field {field.name!r}, row {row}: bytes {bad!r} are not valid "
                f"{encoding} (the encoding the .cpg or the .dbf header declares)"
            ) from None
        return
    if field.type in "NF":
        joined = b"\n".join(column) + b"\n"
        if joined.count(b"\n") == len(column) and _NUMERIC_COLUMN.fullmatch(joined):
            return
        for index, value in enumerate(column):
            if b"\n" in value or not _NUMERIC_VALUE.fullmatch(value):
                raise AttributeTableError(
                    f"{label}: field {field.name!r}, row {first_row + index}: {value!r} is not "
                    "a number (nor blank, nor a *-filled null)"
                )
        return
    if field.type == "D":
        if _DATE_COLUMN.fullmatch(b"".join(column)):
            return
        for index, value in enumerate(column):
            if not _DATE_VALUE.fullmatch(value):
                raise AttributeTableError(
                    f"{label}: field {field.name!r}, row {first_row + index}: {value!r} is not "
                    "a date (8 digits YYYYMMDD, or blank)"
                )
        return
    joined = b"".join(column)
    match = _LOGICAL.match(joined)
    if match is not None and match.end() < len(joined):
        position = match.end() // max(1, field.width)
        raise AttributeTableError(
            f"{label}: field {field.name!r}, row {first_row + position}: "
            f"{column[position]!r} is not a logical value (one of ?YyNnTtFf or blank)"
        )
