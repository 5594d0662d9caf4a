"""The ``sql_check`` step kind: a query selecting the rows that break a rule.

Any row fails the run with the declared message and a sample of the offending rows.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from spatial_etl.errors import StepError
from spatial_etl.steps.kind import IntentFacts, PlanContext, StepContext, StepDeclaration, StepKind
from spatial_etl.steps.sql import PlannedSql, compute_of, plan_sql, sql_problems

SAMPLE_ROWS: Final = 20
"""How many offending rows the failure message shows."""


class SqlCheckStep(StepDeclaration):
    """Run a query that selects offending rows; any row fails the run with ``message``."""

    kind: Literal["sql_check"] = "sql_check"
    query: str = Field(min_length=1, description="SELECT returning the rows that break the rule.")
    message: str = Field(min_length=1, description="What the offending rows mean, for the user.")


class SqlCheckKind(StepKind[SqlCheckStep, PlannedSql]):
    """Checks, plans and runs :class:`SqlCheckStep`."""

    name = "sql_check"
    declaration = SqlCheckStep
    planned = PlannedSql

    def problems(self, step: SqlCheckStep, intent: IntentFacts) -> list[str]:
        """The same rules as a SQL statement."""
        return sql_problems(step.query, intent)

    def plan(self, step: SqlCheckStep, context: PlanContext) -> PlannedSql:
        """A planned SQL query that carries the check's message."""
        return plan_sql(step, step.query, context, kind="sql_check", message=step.message)

    def execute(self, planned: PlannedSql, context: StepContext) -> None:
        """Fail with the message and a sample of the rows when the query returns any."""
        compute = compute_of(context)
        rows = compute.fetch(planned.compose(), step=planned.step, limit=SAMPLE_ROWS)
        if rows:
            shown = "; ".join(", ".join(map(str, row)) for row in rows)
            raise StepError(
                planned.step, context.source, f"{planned.message} (first offending rows: {shown})"
            )

    def describe(self, step: SqlCheckStep) -> str:
        """The query and the message it fails with."""
        return f"{step.query}\n   fails with: {step.message}"
