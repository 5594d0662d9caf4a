"""The placeholders an intent's steps may use, and the check that runs when a plugin registers.

Templates use ``str.format`` syntax: ``{schema}``, ``{params.target_crs}``; ``{{`` and ``}}``
are literal braces. In SQL, identifiers (``schema``, ``table``) are filled only through
``psycopg2.sql.Identifier`` and values through ``psycopg2.sql.Literal``; in GDAL steps every
placeholder becomes exactly one argument's text, never split and never passed to a shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from string import Formatter
from typing import Final

PARAMS_PREFIX: Final = "params."

FID_COLUMN: Final = "etl_fid"
"""The feature id column of every loaded vector table: 1-based, in source order. The core
counts, orders and strips features by it; a vector intent's load step names it ``{fid}``."""

FID_PLACEHOLDER: Final = "{fid}"

SRCS_ARGUMENT: Final = "{srcs}"
"""A GDAL argument of a batch intent that expands to one argument per staged input."""

INPUT_FACTS: Final[dict[str, str]] = {
    "input.crs_missing": "the input file has no CRS of its own, so the manifest's crs is the "
    "one to assign ({crs})",
}
"""Facts the core establishes about an input when it inspects it, which a step's ``when`` /
``unless`` may name besides a parameter (the dot keeps them apart from parameter names).

A step that only repairs what an input lacks runs only when it lacks it: a raster intent's
"assign the manifest's CRS" step says ``when="input.crs_missing"`` and is skipped (listed in
``Plan.skipped``) for a file that already has that CRS. A plan resolved without an inspection
(``check_plugin``, a preview) does not know the facts; a step conditioned on one then runs."""


class Usage(StrEnum):
    """Where a placeholder may appear."""

    GDAL = "gdal"
    SQL = "sql"
    EXPORT = "export"


class SqlRole(StrEnum):
    """How a placeholder is bound in SQL."""

    IDENTIFIER = "identifier"
    LITERAL = "literal"


@dataclass(frozen=True)
class PlaceholderSpec:
    """What a placeholder means, where it may appear and how SQL binds it."""

    description: str
    usages: frozenset[Usage]
    vector_only: bool = False
    sql_role: SqlRole | None = None
    batch_only: bool = False
    whole_argument: bool = False
    """Expands to several arguments, so it must be a GDAL argument on its own."""


_GDAL = frozenset({Usage.GDAL})
_ALL = frozenset({Usage.GDAL, Usage.SQL, Usage.EXPORT})

PLACEHOLDERS: Final[dict[str, PlaceholderSpec]] = {
    "run_id": PlaceholderSpec("The Dagster run id.", _ALL, sql_role=SqlRole.LITERAL),
    "batch_id": PlaceholderSpec("The manifest's batch id.", _ALL, sql_role=SqlRole.LITERAL),
    "intent": PlaceholderSpec("The intent's name.", _ALL, sql_role=SqlRole.LITERAL),
    "crs": PlaceholderSpec(
        "The input's CRS as the manifest declares it; the file's own CRS has been checked "
        "against it, and it is the CRS to assign when the file has none.",
        _ALL,
        sql_role=SqlRole.LITERAL,
    ),
    "src": PlaceholderSpec(
        "The current dataset: the input as GDAL reads it (/vsis3/..., /vsizip/... or a staged "
        "local file), then the output of the latest step that wrote {dst}.",
        _GDAL,
    ),
    "srcs": PlaceholderSpec(
        "Batch intents only, an argument on its own: expands to one argument per staged input "
        "of the batch (the local files, in manifest order), for programs that read many "
        "datasets (gdalbuildvrt, gdal_merge).",
        _GDAL,
        batch_only=True,
        whole_argument=True,
    ),
    "dst": PlaceholderSpec(
        "A fresh work file for this step's output (its suffix is the step's output_suffix).",
        _GDAL,
    ),
    "layer": PlaceholderSpec(
        "The source layer to read: the only layer, or the 'layer' parameter.",
        _GDAL,
        vector_only=True,
    ),
    "postgis": PlaceholderSpec(
        "GDAL's PG: data source for the compute database (no password: it travels in PGPASSWORD).",
        _GDAL,
        vector_only=True,
    ),
    "schema": PlaceholderSpec(
        "The run's throw-away PostGIS schema, proc_<run>.",
        _ALL,
        vector_only=True,
        sql_role=SqlRole.IDENTIFIER,
    ),
    "table": PlaceholderSpec(
        "The table the input is loaded into, inside {schema}.",
        _ALL,
        vector_only=True,
        sql_role=SqlRole.IDENTIFIER,
    ),
    "output_table": PlaceholderSpec(
        "A second relation name reserved for the input, {table}_out, inside {schema}: e.g. a "
        "view the export reads, so that the loaded table is not rewritten to add columns.",
        _ALL,
        vector_only=True,
        sql_role=SqlRole.IDENTIFIER,
    ),
    "fid": PlaceholderSpec(
        f"The feature id column the load step creates ({FID_COLUMN}): exactly one ogr2ogr step "
        "passes '-lco FID={fid}'.",
        _ALL,
        vector_only=True,
        sql_role=SqlRole.IDENTIFIER,
    ),
}
"""Every placeholder the core fills, apart from ``params.<field>`` (the intent's parameters)."""


def template_fields(template: str) -> list[str]:
    """Return the placeholder names of a template, in order; raise ``ValueError`` if malformed.

    Format specs (``{x:>3}``), conversions (``{x!r}``), attribute or index access other than
    ``params.<field>`` and positional fields (``{}``, ``{0}``) are refused: a template is filled
    with whole values, nothing else.
    """
    names: list[str] = []
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"malformed template {template!r}: {error}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must not have a format spec or conversion")
        if not name or name.isdigit():
            raise ValueError("positional placeholders ({} or {0}) are not allowed; name them")
        if "[" in name:
            raise ValueError(f"placeholder {{{name}}} must not index")
        names.append(name)
    return names


def check_template(
    template: str,
    usage: Usage,
    *,
    vector: bool,
    parameter_fields: frozenset[str],
    allow_dst: bool = False,
    batch: bool = False,
) -> list[str]:
    """Check one template of a step; return the problems found, empty when it is fine.

    ``batch`` says the intent's steps take all of a batch's inputs at once (``{srcs}``).
    """
    try:
        names = template_fields(template)
    except ValueError as error:
        return [str(error)]
    problems: list[str] = []
    for name in names:
        if name.startswith(PARAMS_PREFIX):
            field = name.removeprefix(PARAMS_PREFIX)
            if field not in parameter_fields:
                known = ", ".join(sorted(parameter_fields)) or "the intent declares no parameters"
                problems.append(f"{{{name}}} names no parameter (parameters: {known})")
            continue
        spec = PLACEHOLDERS.get(name)
        if spec is None:
            problems.append(f"unknown placeholder {{{name}}} (known: {', '.join(PLACEHOLDERS)})")
        elif usage not in spec.usages:
            problems.append(f"{{{name}}} cannot be used in a {usage.value} template")
        elif spec.vector_only and not vector:
            problems.append(f"{{{name}}} is only available to vector intents")
        elif spec.batch_only and not batch:
            problems.append(f"{{{name}}} is only available to intents with inputs='batch'")
        elif spec.whole_argument and template != "{" + name + "}":
            problems.append(
                f"{{{name}}} must be a whole argument on its own (it expands to one argument "
                "per input)"
            )
        elif name == "dst" and not allow_dst:
            problems.append("{dst} needs the step to declare output_suffix")
    return problems
