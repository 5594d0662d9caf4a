"""The ``rewrite`` step kind: one column of the run's table recomputed, by a parallel copy.

``ALTER TABLE ... ALTER COLUMN ... TYPE ... USING`` is how one changes every value of a column
and its type in SQL, and PostgreSQL always runs it on one core: it rewrites the table in a
single backend. ``CREATE TABLE ... AS SELECT`` may instead scan with parallel workers, which
for a per-row expression as costly as GEOS's validity check halves the step on two cores
(200k polygons: 2.9 s against 1.7 s). This kind declares the ALTER's three parts (the column,
its new type, the expression) and runs them as that copy:

1. ``CREATE [UNLOGGED] TABLE <schema>.<tmp> AS SELECT`` every column in its place, the
   rewritten one as ``CAST((<using>) AS <type>)``, from the run's table;
2. the old table dropped and the copy renamed to its name;
3. the old table's NOT NULL columns and primary key declared again (one ALTER TABLE, so one
   validating scan and one index build).

All of it runs in one transaction: a failure, or a process killed midway, leaves the run's
table as it was. The copy's rows are in no particular order (parallel workers interleave
them); the exporter reads by the primary key, so the product's rows keep their order.
Column defaults are not carried over: by this point of a run nothing inserts rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from pydantic import Field, JsonValue

from spatial_etl.errors import SqlStepError
from spatial_etl.steps.kind import (
    IntentFacts,
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
)
from spatial_etl.steps.sql import bind, compute_of, plan_sql, sql_problems

if TYPE_CHECKING:
    from psycopg2 import sql

SQL_TYPE_PATTERN: Final = r"^[A-Za-z_][A-Za-z0-9_ ]*(\([A-Za-z0-9_, ]*\))?$"
"""A type name with an optional modifier list: ``geometry(MultiPolygon, 4326)``, ``text``."""

_COLUMNS: Final = (
    "SELECT a.attname, a.attnotnull, COALESCE(a.attnum = ANY(i.indkey), false), c.relpersistence "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE n.nspname = {schema} AND c.relname = {table} AND a.attnum > 0 "
    "AND NOT a.attisdropped ORDER BY a.attnum"
)
"""The table's columns in order: name, NOT NULL, in the primary key, and the table's
persistence (``u``: unlogged), so the copy keeps all of them."""


class RewriteStep(StepDeclaration):
    """Recompute one column of the run's table and give it a new type, in a parallel copy."""

    kind: Literal["rewrite"] = "rewrite"
    column: str = Field(
        default="geom",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The column to rewrite (the load's geometry column by default).",
    )
    type: str = Field(
        pattern=SQL_TYPE_PATTERN,
        description="The column's SQL type afterwards, e.g. geometry(MultiPolygon, 4326).",
    )
    using: str = Field(
        min_length=1,
        description="SQL expression of the new value, reading the row's columns by name; "
        "placeholders as in a sql step.",
    )


class PlannedRewrite(PlannedStep):
    """A rewrite with the table it works on and its expression's placeholders bound apart."""

    kind: Literal["rewrite"] = "rewrite"
    schema_name: str = Field(description="The run's schema (bound through sql.Identifier).")
    table: str = Field(description="The table rewritten (bound through sql.Identifier).")
    column: str
    type: str
    template: str = Field(description="The expression, placeholders unfilled.")
    identifiers: dict[str, str] = Field(description="Placeholder -> identifier (sql.Identifier).")
    literals: dict[str, JsonValue] = Field(description="Placeholder -> value (sql.Literal).")

    def expression(self) -> sql.Composed:
        """The new value's expression, with identifiers and values bound through psycopg2."""
        return bind(self.template, self.identifiers, self.literals)


class RewriteKind(StepKind[RewriteStep, PlannedRewrite]):
    """Checks, plans and runs :class:`RewriteStep`."""

    name = "rewrite"
    declaration = RewriteStep
    planned = PlannedRewrite

    def problems(self, step: RewriteStep, intent: IntentFacts) -> list[str]:
        """The rules of a SQL statement, for the expression."""
        return sql_problems(step.using, intent)

    def plan(self, step: RewriteStep, context: PlanContext) -> PlannedRewrite:
        """Bind the expression's placeholders; the table is the run's current one."""
        planned = plan_sql(step, step.using, context, kind="sql")
        return PlannedRewrite(
            step=step.name,
            description=step.description,
            schema_name=context.text["schema"],
            table=context.text["table"],
            column=step.column,
            type=step.type,
            template=planned.template,
            identifiers=planned.identifiers,
            literals=planned.literals,
        )

    def execute(self, planned: PlannedRewrite, context: StepContext) -> None:
        """Copy the table with the column rewritten, swap it in, restore its keys."""
        compute = compute_of(context)
        from psycopg2 import sql  # noqa: PLC0415 - only when a step runs, as in steps.sql

        query = sql.SQL(_COLUMNS).format(
            schema=sql.Literal(planned.schema_name), table=sql.Literal(planned.table)
        )
        rows = compute.fetch(query, step=planned.step)
        if planned.column not in [row[0] for row in rows]:
            raise SqlStepError(
                planned.step,
                f"table {planned.schema_name}.{planned.table} has no column {planned.column!r}",
            )
        compute.execute(_statement(planned, rows), step=planned.step)

    def describe(self, step: RewriteStep) -> str:
        """The rewrite as the ALTER TABLE it stands for."""
        return (
            f"ALTER TABLE {{schema}}.{{table}} ALTER COLUMN {step.column} TYPE {step.type} "
            f"USING {step.using}\n   (run as a parallel CREATE TABLE AS, then swapped in)"
        )


def _statement(planned: PlannedRewrite, rows: list[tuple[object, ...]]) -> sql.Composed:
    """The copy, the swap and the restored constraints, as one transaction's statements."""
    from psycopg2 import sql  # noqa: PLC0415 - only when a step runs, as in steps.sql

    schema = planned.schema_name
    old = sql.Identifier(schema, planned.table)
    temporary = f"{planned.table[:50]}_rewrite"
    copy = sql.Identifier(schema, temporary)
    items: list[sql.Composable] = []
    for name, *_ in rows:
        column = sql.Identifier(str(name))
        if name == planned.column:
            cast = sql.SQL("CAST(({}) AS {}) AS {}")
            items.append(cast.format(planned.expression(), sql.SQL(planned.type), column))
        else:
            items.append(column)
    unlogged = sql.SQL("UNLOGGED " if rows and rows[0][3] == "u" else "")
    restore: list[sql.Composable] = [
        sql.SQL("ALTER COLUMN {} SET NOT NULL").format(sql.Identifier(str(name)))
        for name, not_null, in_key, _ in rows
        if not_null and not in_key
    ]
    key = [sql.Identifier(str(name)) for name, _, in_key, _ in rows if in_key]
    if key:
        restore.append(sql.SQL("ADD PRIMARY KEY ({})").format(sql.SQL(", ").join(key)))
    statements = [
        sql.SQL("CREATE {}TABLE {} AS SELECT {} FROM {}").format(
            unlogged, copy, sql.SQL(", ").join(items), old
        ),
        sql.SQL("DROP TABLE {}").format(old),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(copy, sql.Identifier(planned.table)),
    ]
    if restore:
        statements.append(sql.SQL("ALTER TABLE {} {}").format(old, sql.SQL(", ").join(restore)))
    return sql.SQL("; ").join(statements)
