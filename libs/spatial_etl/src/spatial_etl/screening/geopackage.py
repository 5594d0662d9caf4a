"""Check a GeoPackage's schema before GDAL opens it: no views, no foreign triggers.

A GeoPackage is an SQLite database, and SQLite runs the SQL stored in the file: a view's
query whenever it is read, a trigger's body whenever a table is written. GDAL reads layers
that are views like tables, and GDAL functions registered in SQLite (and any future
extension) are reachable from that SQL. The only SQL a GeoPackage written by GDAL (or by the
spec's reference tools) carries is its R-tree maintenance triggers, the feature-count triggers
of GDAL's ``gpkg_ogr_contents`` and the spec's constraint triggers (on ``gpkg_*`` and tile
tables); each is recognised by name and by what its body touches. Only ``sqlite_master`` is
read, through a read-only, immutable connection, so nothing in the file is executed.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Final

from spatial_etl.errors import UnsafeGeoPackageError

_TOKEN = re.compile(
    r"""'(?:[^']|'')*'            # string literal
      |"(?:[^"]|"")*"             # quoted identifier
      |`(?:[^`]|``)*`
      |\[[^\]]*\]
      |[A-Za-z_][A-Za-z0-9_]*     # word
      |\d+(?:\.\d*)?
      |<>|!=|<=|>=|==|\|\||\S""",
    re.VERBOSE,
)
_TABLE_KEYWORDS: Final = frozenset({"FROM", "INTO", "UPDATE", "JOIN", "TABLE"})
_GROUPING: Final = frozenset({"VALUES", "IN", "AND", "OR", "NOT", "WHEN", "WHERE", "ON", "END"})
_RTREE_FUNCTIONS: Final = frozenset({"ST_MINX", "ST_MAXX", "ST_MINY", "ST_MAXY", "ST_ISEMPTY"})
_RTREE_SUFFIX = re.compile(r"_(insert|update[1-7]|delete)$")
_FEATURE_COUNT = re.compile(r"^trigger_(insert|delete)_feature_count_(.+)$")
_SEMICOLON: Final = ";"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONSTRAINT_FUNCTIONS: Final = frozenset({"RAISE", "LOWER", "SELECT"})
_FORBIDDEN_WORDS: Final = frozenset({"ATTACH", "DETACH", "PRAGMA", "SELECT", "LOAD_EXTENSION"})


def check_geopackage(path: Path, label: str, *, require_gpkg: bool = True) -> None:
    """Refuse views, virtual tables other than R-trees, and triggers GDAL would not write.

    Raises:
        UnsafeGeoPackageError: naming the file and the offending schema object.
    """
    entries = _schema(path, label)
    application_id = entries.application_id
    if require_gpkg and application_id not in _GPKG_IDS:
        raise UnsafeGeoPackageError(
            f"{label} is an SQLite database but not a GeoPackage "
            f"(application_id {application_id:#x})"
        )
    virtual_rtrees = set()
    for kind, name, _table, sql in entries.rows:
        if kind == "view":
            raise UnsafeGeoPackageError(
                f"{label} contains the view {name!r}; views run stored SQL when read and are "
                "refused: upload the data as tables"
            )
        if kind == "table" and sql and re.match(r"(?is)\s*CREATE\s+VIRTUAL\s+TABLE", sql):
            if not re.search(r"(?is)\bUSING\s+rtree\s*\(", sql) or not name.startswith("rtree_"):
                raise UnsafeGeoPackageError(
                    f"{label} contains the virtual table {name!r}, which is not a spatial index"
                )
            virtual_rtrees.add(name)
    for kind, name, table, sql in entries.rows:
        if kind == "trigger":
            problem = trigger_problem(name, table, sql or "", virtual_rtrees)
            if problem:
                raise UnsafeGeoPackageError(
                    f"{label} contains the trigger {name!r} on {table!r}, which is not one of "
                    f"the standard GeoPackage triggers: {problem}"
                )


_GPKG_IDS: Final = frozenset({0x47504B47, 0x47503130, 0x47503131})  # GPKG, GP10, GP11


class _Schema:
    def __init__(self, application_id: int, rows: list[tuple[str, str, str, str | None]]) -> None:
        self.application_id = application_id
        self.rows = rows


def _schema(path: Path, label: str) -> _Schema:
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise UnsafeGeoPackageError(f"{label} cannot be opened as SQLite: {error}") from None
    try:
        [(application_id,)] = connection.execute("PRAGMA application_id").fetchall()
        rows = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    except sqlite3.Error as error:
        raise UnsafeGeoPackageError(f"{label} has an unreadable SQLite schema: {error}") from None
    finally:
        connection.close()
    return _Schema(int(application_id) & 0xFFFFFFFF, [tuple(row) for row in rows])


def trigger_problem(name: str, table: str, sql: str, rtrees: set[str]) -> str | None:
    """Why the trigger is not a standard one, or None when it is."""
    body = _body(sql)
    if body is None:
        return "its SQL has no BEGIN ... END body"
    tokens = _TOKEN.findall(body)
    words = [token.upper() for token in tokens]
    forbidden = (_FORBIDDEN_WORDS - {"SELECT"}) & set(words)
    if forbidden:
        return "its body uses " + ", ".join(sorted(forbidden))
    if name.startswith("rtree_"):
        return _rtree_problem(name, table, tokens, rtrees)
    count = _FEATURE_COUNT.match(name)
    if count:
        return _feature_count_problem(count.group(2), table, body)
    spec_constraint = name.startswith("gpkg_") and table.startswith("gpkg_")
    tile_constraint = re.fullmatch(
        re.escape(table) + r"_(zoom|tile_column|tile_row)_(insert|update)", name
    )
    if spec_constraint or tile_constraint:
        return _constraint_problem(tokens)
    return "its name is not one GDAL or the GeoPackage specification uses"


def _body(sql: str) -> str | None:
    match = re.search(r"(?is)\bBEGIN\b(.*)\bEND\s*;?\s*$", sql)
    return match.group(1) if match else None


def _is_name(token: str) -> bool:
    """Whether ``token`` is a word or a quoted identifier (what a function call can name)."""
    return bool(_WORD.fullmatch(token)) or token[:1] in '"`['


def _unquote(token: str) -> str:
    if token[:1] in '"`' and token[-1:] == token[:1]:
        return token[1:-1].replace(token[0] * 2, token[0])
    if token[:1] == "[" and token[-1:] == "]":
        return token[1:-1]
    return token


def _rtree_problem(name: str, table: str, tokens: list[str], rtrees: set[str]) -> str | None:
    suffix = _RTREE_SUFFIX.search(name)
    index = name[: suffix.start()] if suffix else ""
    if not suffix or index not in rtrees or not index.startswith(f"rtree_{table}_"):
        return f"no spatial index {index or name!r} of table {table!r} exists"
    if any(token.startswith("'") for token in tokens):
        return "its body holds a string literal"
    for position, token in enumerate(tokens):
        upper = token.upper()
        following = tokens[position + 1] if position + 1 < len(tokens) else ""
        if upper in _TABLE_KEYWORDS:
            target = _unquote(following)
            if target != index:
                return f"its body touches {target!r}, not only the spatial index {index!r}"
        elif (
            following == "("
            and _is_name(token)
            and _unquote(token).upper() not in _GROUPING | _RTREE_FUNCTIONS
        ):
            return f"its body calls {token}()"
    if "SELECT" in {token.upper() for token in tokens}:
        return "its body runs a query"
    return None


def _feature_count_problem(layer: str, table: str, body: str) -> str | None:
    if layer != table:
        return f"it counts {layer!r} but is attached to {table!r}"
    quoted = table.replace("'", "''")
    expected = re.compile(
        r"\s*UPDATE\s+gpkg_ogr_contents\s+SET\s+feature_count\s*=\s*feature_count\s*[-+]\s*1\s+"
        r"WHERE\s+lower\s*\(\s*table_name\s*\)\s*=\s*lower\s*\(\s*'"
        + re.escape(quoted)
        + r"'\s*\)\s*;?\s*",
        re.IGNORECASE,
    )
    if not expected.fullmatch(body):
        return "its body is not GDAL's feature-count update of gpkg_ogr_contents"
    return None


def _constraint_problem(tokens: list[str]) -> str | None:
    """Spec constraint triggers only ``SELECT RAISE(ABORT, '...') WHERE <condition>``.

    The condition may read ``gpkg_*`` tables (a tile table's triggers compare with
    ``gpkg_tile_matrix``) and call ``lower()``; a SELECT cannot write, so nothing else runs.
    """
    statements: list[list[str]] = [[]]
    for piece in tokens:
        if piece == _SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(piece)
    for statement in (s for s in statements if s):
        words = [token.upper() for token in statement]
        if words[:4] != ["SELECT", "RAISE", "(", "ABORT"]:
            return "its body does more than raise an error"
        for position, token in enumerate(statement):
            upper = words[position]
            following = statement[position + 1] if position + 1 < len(statement) else ""
            if upper in _TABLE_KEYWORDS - {"FROM"}:
                return f"its body writes {_unquote(following)!r}"
            if upper == "FROM" and not _unquote(following).lower().startswith("gpkg_"):
                return f"its body reads {_unquote(following)!r}"
            if (
                following == "("
                and _is_name(token)
                and _unquote(token).upper() not in _GROUPING | _CONSTRAINT_FUNCTIONS
            ):
                return f"its body calls {token}()"
    return None
