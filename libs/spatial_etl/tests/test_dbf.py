"""The shapefile attribute-table checker, on .dbf files written byte by byte (no GDAL needed)."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from spatial_etl.errors import AttributeTableError, InputError
from spatial_etl.spatial_utils.dbf import (
    check_dbf,
    check_shapefile_attributes,
    dbf_encoding,
    read_dbf_header,
)

FIELDS = (("NAME", "C", 10), ("AREA", "N", 8), ("RATIO", "F", 6), ("DAY", "D", 8), ("OK", "L", 1))
GOOD_ROWS = (
    (b"Lyon", b"  123.5", b"-1e3", b"20240131", b"T"),
    ("M\u00e2con".encode(), b"", b"", b"", b"?"),
    (b"", b"********", b".5", b"        ", b" "),
)


def dbf_bytes(
    fields: Sequence[tuple[str, str, int]],
    rows: Sequence[Sequence[bytes]],
    *,
    declared: int | None = None,
    ldid: int = 0,
) -> bytes:
    """A dBASE III table: header, descriptors, space-padded records, end-of-file mark."""
    header_length = 32 + 32 * len(fields) + 1
    record_length = 1 + sum(width for _, _, width in fields)
    count = len(rows) if declared is None else declared
    head = bytearray(struct.pack("<B3BIHH", 3, 124, 1, 1, count, header_length, record_length))
    head += bytes(20)
    head[29] = ldid
    for name, kind, width in fields:
        head += name.encode().ljust(11, b"\0") + kind.encode() + bytes(4)
        head += bytes([width, 0]) + bytes(14)
    head += b"\r"
    for row in rows:
        head += b" " + b"".join(
            value.rjust(width) if kind in "NF" else value.ljust(width)
            for value, (_, kind, width) in zip(row, fields, strict=True)
        )
    return bytes(head) + b"\x1a"


def check(data: bytes, **options: object) -> object:
    path_like = _Stream(data)
    return check_dbf(path_like, label="t.shp", size=len(data), **options)  # type: ignore[arg-type]


class _Stream:
    """A readable byte stream that returns at most 1000 bytes per read, like a zip member."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        size = min(size if size >= 0 else len(self.data), 1000)
        part = self.data[self.position : self.position + size]
        self.position += len(part)
        return part


def test_a_valid_table_passes_and_its_header_is_read() -> None:
    data = dbf_bytes(FIELDS, GOOD_ROWS)

    header = check(data, cpg="UTF-8")

    assert header.record_count == 3  # type: ignore[attr-defined]
    assert [f.name for f in header.fields] == ["NAME", "AREA", "RATIO", "DAY", "OK"]  # type: ignore[attr-defined]


def test_a_header_claiming_millions_of_records_is_refused_with_the_numbers() -> None:
    data = dbf_bytes(FIELDS, GOOD_ROWS, declared=5_000_000)

    with pytest.raises(AttributeTableError) as caught:
        check(data)

    message = str(caught.value)
    assert isinstance(caught.value, InputError)
    assert "5000000 records of 34 bytes" in message
    assert f"the file holds {len(data)} bytes" in message
    assert message.startswith("t.shp: ")


def test_a_shx_that_disagrees_with_the_dbf_is_refused() -> None:
    data = dbf_bytes(FIELDS, GOOD_ROWS)

    with pytest.raises(AttributeTableError, match=r"indexes 7 shapes but the \.dbf declares 3"):
        check(data, shx_size=100 + 7 * 8)
    assert check(data, shx_size=100 + 3 * 8) is not None


def test_latin1_bytes_under_a_utf8_cpg_fail_naming_field_and_row() -> None:
    rows = [*GOOD_ROWS, (b"Besan\xe7on", b"1", b"2", b"", b"F")]

    with pytest.raises(AttributeTableError) as caught:
        check(dbf_bytes(FIELDS, rows), cpg="UTF-8\r\n")

    message = str(caught.value)
    assert "field 'NAME', row 4" in message
    assert "b'\\xe7'" in message
    assert "utf-8" in message


@pytest.mark.parametrize("cpg", ["1252", "88591", "ISO-8859-1", None])
def test_the_same_bytes_decode_under_a_single_byte_encoding(cpg: str | None) -> None:
    rows = [*GOOD_ROWS, (b"Besan\xe7on", b"1", b"2", b"", b"F")]

    assert check(dbf_bytes(FIELDS, rows), cpg=cpg) is not None


def test_a_utf8_sequence_split_across_two_fields_is_refused() -> None:
    fields = (("A", "C", 3), ("B", "C", 3))
    rows = [(b"ab\xc3", b"\xa9cd")]  # whole record decodes; neither field does

    with pytest.raises(AttributeTableError, match="field 'A', row 1"):
        check(dbf_bytes(fields, rows), cpg="UTF-8")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(b"12abc", "b'   12abc'", id="garbage"),
        pytest.param(b"3,14", "b'    3,14'", id="decimal-comma"),
        pytest.param(b"1.2.3", "b'   1.2.3'", id="two-points"),
        pytest.param(b"nan", "b'     nan'", id="nan"),
        pytest.param(b"\xff\xfe", "b'      \\xff\\xfe'", id="binary"),
    ],
)
def test_garbage_in_a_numeric_field_fails_naming_field_and_row(value: bytes, shown: str) -> None:
    rows = [*GOOD_ROWS, (b"x", value, b"", b"", b"")]

    with pytest.raises(AttributeTableError) as caught:
        check(dbf_bytes(FIELDS, rows), cpg="UTF-8")

    assert "field 'AREA', row 4" in str(caught.value)
    assert shown in str(caught.value)
    assert "is not a number" in str(caught.value)


def test_a_bad_date_and_a_bad_logical_fail_naming_field_and_row() -> None:
    bad_date = [*GOOD_ROWS, (b"x", b"", b"", b"2024-1-1", b"")]
    bad_logical = [*GOOD_ROWS, (b"x", b"", b"", b"", b"X")]

    with pytest.raises(AttributeTableError, match=r"field 'DAY', row 4: b'2024-1-1' is not a date"):
        check(dbf_bytes(FIELDS, bad_date))
    with pytest.raises(AttributeTableError, match=r"field 'OK', row 4: b'X' is not a logical"):
        check(dbf_bytes(FIELDS, bad_logical))


def test_rows_are_numbered_across_chunks() -> None:
    rows = [(f"n{i}".encode(), str(i).encode(), b"", b"", b"T") for i in range(1, 1001)]
    rows[876] = (b"n877", b"oops", b"", b"", b"T")
    data = dbf_bytes(FIELDS, rows)

    with pytest.raises(AttributeTableError, match="field 'AREA', row 877: "):
        check(data, chunk_bytes=34 * 100)  # ten chunks of 100 records
    rows[876] = (b"n\xff", b"1", b"", b"", b"T")
    with pytest.raises(AttributeTableError, match="field 'NAME', row 877: "):
        check(dbf_bytes(FIELDS, rows), cpg="UTF-8", chunk_bytes=34 * 7)


def test_fields_wider_than_the_record_are_refused() -> None:
    data = bytearray(dbf_bytes(FIELDS, GOOD_ROWS))
    data[10:12] = struct.pack("<H", 20)  # record length 20, fields need 34

    with pytest.raises(AttributeTableError, match=r"need 34 bytes per record .* records of 20"):
        read_dbf_header(_Stream(bytes(data)), "t.shp")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cpg", "ldid", "codec"),
    [
        ("UTF-8", 0, "utf-8"),
        ("65001", 0x57, "utf-8"),
        (" utf8 ", 0, "utf-8"),
        ("1252", 0, "cp1252"),
        ("88591", 0, "latin-1"),
        ("8859-15", 0, "iso8859-15"),
        ("ISO-8859-2", 0, "iso8859-2"),
        ("1251", 0, "cp1251"),
        (None, 0x03, "cp1252"),
        (None, 0x57, "latin-1"),
        (None, 0xC9, "cp1251"),
        ("", 0, "latin-1"),
        (None, 0, "latin-1"),
    ],
)
def test_encoding_rule(cpg: str | None, ldid: int, codec: str) -> None:
    assert dbf_encoding(cpg, ldid) == codec


def test_an_unknown_cpg_is_refused_not_guessed() -> None:
    with pytest.raises(AttributeTableError, match="'KLINGON', which is not known"):
        dbf_encoding("KLINGON", 0)


def test_plain_shapefile_sidecars_are_found_whatever_their_case(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS, (b"Besan\xe7on", b"1", b"2", b"", b"F")]
    (tmp_path / "parcels.shp").write_bytes(b"")
    (tmp_path / "parcels.DBF").write_bytes(dbf_bytes(FIELDS, rows))
    (tmp_path / "parcels.shx").write_bytes(bytes(100 + 4 * 8))

    check_shapefile_attributes(str(tmp_path / "parcels.shp"), label="s3://b/parcels.shp")
    (tmp_path / "parcels.CPG").write_text("UTF-8")
    with pytest.raises(AttributeTableError, match=r"^s3://b/parcels.shp: field 'NAME', row 4"):
        check_shapefile_attributes(str(tmp_path / "parcels.shp"), label="s3://b/parcels.shp")


def test_a_zipped_table_is_read_from_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "parcels.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("data/other.dbf", dbf_bytes(FIELDS, GOOD_ROWS, declared=9_000_000))
        zipped.writestr("data/parcels.shp", b"")
        zipped.writestr("data/parcels.shx", bytes(100 + 4 * 8))
        zipped.writestr("data/parcels.cpg", "UTF-8")
        zipped.writestr(
            "data/parcels.dbf", dbf_bytes(FIELDS, [*GOOD_ROWS, (b"\xe7", b"", b"", b"", b"")])
        )

    with pytest.raises(AttributeTableError) as caught:
        check_shapefile_attributes(f"/vsizip/{archive}", label="s3://b/p.zip", layer="parcels")
    assert str(caught.value).startswith("s3://b/p.zip (data/parcels.dbf): field 'NAME', row 4")
    with pytest.raises(AttributeTableError, match=r"\(data/other.dbf\): the .dbf header declares"):
        check_shapefile_attributes(f"/vsizip/{archive}", label="s3://b/p.zip", layer=None)
    assert not (tmp_path / "data").exists()  # nothing extracted
