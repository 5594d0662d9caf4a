"""The ``sql`` step kind: one SQL statement run in the run's PostGIS schema (vector intents).

Identifiers (``{schema}``, ``{table}``, ``{fid}``) are bound only through
``psycopg2.sql.Identifier`` and every other value through ``psycopg2.sql.Literal``; the planned
step keeps them apart from the template until :meth:`PlannedSql.compose`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import Field, JsonValue

from spatial_etl.errors import PlanError, SqlStepError
from spatial_etl.models.placeholders import (
    PARAMS_PREFIX,
    PLACEHOLDERS,
    SqlRole,
    Usage,
    check_template,
    template_fields,
)
from spatial_etl.steps.kind import (
    IntentFacts,
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
    json_value,
)

if TYPE_CHECKING:
    from psycopg2 import sql

    from spatial_etl.backends.compute import PostgisCompute


class SqlStep(StepDeclaration):
    """Execute one SQL statement against the run's schema."""

    kind: Literal["sql"] = "sql"
    statement: str = Field(min_length=1, description="SQL with {schema}/{table} placeholders.")
    removes_features: bool = Field(
        default=False,
        description="The statement removes features on purpose and returns one row with one "
        "integer, how many (e.g. WITH gone AS (DELETE ... RETURNING 1) SELECT count(*) FROM "
        "gone). The core subtracts them from the feature count check and records the number "
        "in the asset's lineage.",
    )


class PlannedSql(PlannedStep):
    """A SQL statement (or check query) with its identifiers and literals kept apart."""

    kind: Literal["sql", "sql_check"]
    template: str
    identifiers: dict[str, str] = Field(description="Placeholder -> identifier (sql.Identifier).")
    literals: dict[str, JsonValue] = Field(description="Placeholder -> value (sql.Literal).")
    message: str | None = Field(default=None, description="sql_check: what offending rows mean.")
    removes_features: bool = Field(
        default=False, description="sql: returns the number of features it removed on purpose."
    )

    def compose(self) -> sql.Composed:
        """The statement, with identifiers and values bound only through ``psycopg2.sql``."""
        return bind(self.template, self.identifiers, self.literals)


def bind(
    template: str, identifiers: Mapping[str, str], literals: Mapping[str, JsonValue]
) -> sql.Composed:
    """``template`` with identifiers bound by ``sql.Identifier`` and values by ``sql.Literal``.

    psycopg2 is imported here, when a step runs: declaring and listing intents need no driver.
    """
    from psycopg2 import sql  # noqa: PLC0415 - see above

    bound: dict[str, sql.Composable] = {k: sql.Identifier(v) for k, v in identifiers.items()}
    bound.update({k: sql.Literal(v) for k, v in literals.items()})
    return sql.SQL(template).format(**bound)


def sql_problems(template: str, intent: IntentFacts) -> list[str]:
    """The checks shared by the SQL kinds: vector intents only, known placeholders."""
    problems: list[str] = []
    if not intent.is_vector:
        problems.append("SQL steps need vector data loaded into PostGIS; this is a raster intent")
    problems += check_template(
        template, Usage.SQL, vector=intent.is_vector, parameter_fields=intent.parameter_fields
    )
    return problems


def plan_sql(
    step: StepDeclaration,
    template: str,
    context: PlanContext,
    *,
    kind: Literal["sql", "sql_check"],
    message: str | None = None,
    removes_features: bool = False,
) -> PlannedSql:
    """Sort the template's placeholders into identifiers and literals, with their values."""
    identifiers: dict[str, str] = {}
    literals: dict[str, JsonValue] = {}
    for name in template_fields(template):
        if name.startswith(PARAMS_PREFIX):
            value = context.parameters.get(name.removeprefix(PARAMS_PREFIX))
            if value is None:
                raise PlanError(f"step {step.name!r}: parameter {name} is not set")
            literals[name] = json_value(value)
        elif name not in context.text:
            raise PlanError(f"step {step.name!r}: no value for {{{name}}}")
        elif PLACEHOLDERS[name].sql_role is SqlRole.IDENTIFIER:
            identifiers[name] = context.text[name]
        else:
            literals[name] = context.text[name]
    return PlannedSql(
        kind=kind,
        step=step.name,
        description=step.description,
        template=template,
        identifiers=identifiers,
        literals=literals,
        message=message,
        removes_features=removes_features,
    )


def compute_of(context: StepContext) -> PostgisCompute:
    """The run's PostGIS; registration keeps SQL steps out of raster intents."""
    if context.compute is None:  # pragma: no cover - Intent validation refuses it earlier
        raise ValueError("SQL step without a compute database")
    return context.compute


class SqlKind(StepKind[SqlStep, PlannedSql]):
    """Checks, plans and runs :class:`SqlStep`."""

    name = "sql"
    declaration = SqlStep
    planned = PlannedSql

    def problems(self, step: SqlStep, intent: IntentFacts) -> list[str]:
        """See :func:`sql_problems`."""
        return sql_problems(step.statement, intent)

    def plan(self, step: SqlStep, context: PlanContext) -> PlannedSql:
        """See :func:`plan_sql`."""
        return plan_sql(
            step, step.statement, context, kind="sql", removes_features=step.removes_features
        )

    def execute(self, planned: PlannedSql, context: StepContext) -> None:
        """Execute the statement; one that removes features reports how many to ``context``."""
        compute = compute_of(context)
        if not planned.removes_features:
            compute.execute(planned.compose(), step=planned.step)
            return
        rows = compute.fetch(planned.compose(), step=planned.step, limit=2)
        if len(rows) != 1 or len(rows[0]) != 1 or not isinstance(rows[0][0], int):
            raise SqlStepError(
                planned.step, "a step removing features must return one row with one integer"
            )
        context.removed[planned.step] = rows[0][0]

    def describe(self, step: SqlStep) -> str:
        """The statement as declared."""
        return step.statement
