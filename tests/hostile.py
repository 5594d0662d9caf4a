"""Generators of hostile inputs for the screening tests: every file is written by the test.

No binary fixture is stored: each generator writes the smallest file that exercises one
attack, so reading it says what the attack is.
"""

from __future__ import annotations

import sqlite3
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path


def raw_band_vrt(target: Path, source: str, *, relative: bool = False) -> Path:
    """A VRT whose one band is the raw bytes of ``source`` (e.g. ``/etc/passwd``)."""
    flag = "1" if relative else "0"
    target.write_text(
        '<VRTDataset rasterXSize="16" rasterYSize="4">\n'
        '  <VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">\n'
        f'    <SourceFilename relativeToVRT="{flag}">{source}</SourceFilename>\n'
        "    <ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>"
        "<LineOffset>16</LineOffset>\n"
        "  </VRTRasterBand>\n"
        "</VRTDataset>\n"
    )
    return target


def simple_source_vrt(target: Path, source: str, *, relative: bool = False) -> Path:
    """A VRT whose band is band 1 of ``source`` (a path, ``/vsis3/...`` or ``/vsicurl/...``)."""
    flag = "1" if relative else "0"
    target.write_text(
        '<VRTDataset rasterXSize="16" rasterYSize="4">\n'
        "  <SRS>EPSG:32633</SRS>\n"
        "  <GeoTransform>500000, 10, 0, 5500040, 0, -10</GeoTransform>\n"
        '  <VRTRasterBand dataType="Byte" band="1">\n'
        "    <SimpleSource>\n"
        f'      <SourceFilename relativeToVRT="{flag}">{source}</SourceFilename>\n'
        "      <SourceBand>1</SourceBand>\n"
        "    </SimpleSource>\n"
        "  </VRTRasterBand>\n"
        "</VRTDataset>\n"
    )
    return target


def mrf_meta(target: Path, data_file: str) -> Path:
    """MRF metadata XML naming ``data_file`` as its (uncompressed) data file."""
    target.write_text(
        "<MRF_META>\n"
        "  <Raster>\n"
        '    <Size x="16" y="4" c="1"/>\n'
        '    <PageSize x="16" y="4" c="1"/>\n'
        "    <Compression>NONE</Compression>\n"
        "    <DataType>Byte</DataType>\n"
        f"    <DataFile>{data_file}</DataFile>\n"
        f"    <IndexFile>{data_file}.idx</IndexFile>\n"
        "  </Raster>\n"
        "</MRF_META>\n"
    )
    return target


def overlapping_zip_bomb(
    target: Path, *, members: int = 64, member_mib: int = 64, suffix: str = ".shp"
) -> Path:
    """A zip of a few tens of KB whose central directory declares ``members x member_mib``.

    One deflated member of zeros is written once; every central-directory entry points at
    it (the overlapping-entries construction), so the archive stays small while the sizes it
    declares reach gigabytes, and nothing large is ever compressed twice.
    """
    size = member_mib * 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1024 * 1024)
    crc = 0
    parts = []
    for _ in range(member_mib):
        parts.append(compressor.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(compressor.flush())
    data = b"".join(parts)
    first = f"m000{suffix}".encode()
    local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(first), 0
    )
    body = local + first + data
    central = b""
    for index in range(members):
        name = f"m{index:03d}{suffix}".encode()
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        central += name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, members, members, len(central), len(body), 0)
    target.write_bytes(body + central + end)
    return target


def zip_with_names(target: Path, parts: Sequence[tuple[str, bytes]]) -> Path:
    """A zip whose members carry exactly the given names (zipfile.write would clean them)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts:
            archive.writestr(zipfile.ZipInfo(name), data)
    return target


def add_sql(gpkg: Path, *statements: str) -> Path:
    """Run ``statements`` on a GeoPackage with plain sqlite3 (as an attacker's tool would)."""
    connection = sqlite3.connect(gpkg)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()
    return gpkg


def tree_state(root: Path, *, skip: str = "spatial-etl-") -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with (size, mtime_ns), ignoring the runs' own work dirs."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not any(part.startswith(skip) for part in path.parts)
    }
