"""A rejected manifest as a run of its own, so it shows in the Runs view beside the ingests.

The sensor has already done the rejection when it requests this run (report written, manifest
moved to ``manifests/rejected/``, batch recorded): the run only reports it. Its op needs no
resource, so it cannot fail for a reason other than the rejection itself: the problems travel
in the run's config (the first :data:`MAX_PROBLEMS_IN_CONFIG`; the report holds every one),
the op lists them as a table in the failure's metadata, logs each, and fails with a message
that reads as the report's summary. One run per rejected manifest version: the run key is
the manifest's (``rejected@<key>@<ETag>@<modified>``), so a tick that sees it again asks for
nothing new, and a run of its own never holds up another manifest's.
"""

from collections.abc import Sequence
from typing import Final

import dagster as dg
from pydantic import Field
from spatial_etl.run.intake import Rejection

MAX_PROBLEMS_IN_CONFIG: Final = 50
"""Problems carried in the run's config; the report in the landing zone lists all of them."""

_SUMMARY_PROBLEMS: Final = 5

REJECTED_STATUS_TAG: Final = "spatial_etl/status"


class ProblemConfig(dg.Config):
    """One broken rule of the manifest, located as in its report."""

    loc: str = Field(description="Dotted path to the offending value; empty for the document.")
    code: str = Field(description="Stable identifier of the rule.")
    message: str = Field(description="What is wrong.")


class RejectionConfig(dg.Config):
    """The rejected manifest, where its report is, and its problems."""

    key: str = Field(description="Landing-zone key the manifest had: manifests/<name>.json.")
    bucket: str = Field(description="The landing-zone bucket.")
    report_key: str = Field(description="Key of the rejection report.")
    problems: list[ProblemConfig] = Field(description="The first problems of the report.")
    total: int = Field(ge=0, description="How many problems the report lists.")


@dg.op(
    description="Report a manifest the sensor rejected: its problems, each with its location.",
    out=dg.Out(dg.Nothing),
)
def report_rejection(context: dg.OpExecutionContext, config: RejectionConfig) -> None:
    """Fail with the rejection's summary; the problems are the failure's metadata."""
    lines = [f"{problem.loc or '(document)'}: {problem.message}" for problem in config.problems]
    for line in lines:
        context.log.warning(line)
    shown = "; ".join(lines[:_SUMMARY_PROBLEMS])
    more = config.total - min(len(lines), _SUMMARY_PROBLEMS)
    summary = f"{config.key} was rejected ({config.total} problem(s)): {shown}" + (
        f"; and {more} more (see the report)" if more > 0 else ""
    )
    raise dg.Failure(description=summary, metadata=rejection_metadata(config))


def rejection_metadata(config: RejectionConfig) -> dict[str, dg.MetadataValue]:
    """The problems as a table, and where the report and the manifest now are."""
    columns = [dg.TableColumn(name) for name in ("loc", "code", "message")]
    records = [
        dg.TableRecord({"loc": problem.loc, "code": problem.code, "message": problem.message})
        for problem in config.problems
    ]
    name = config.key.rsplit("/", 1)[-1]
    folder = config.report_key.rsplit("/", 1)[0]
    return {
        "problems": dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns)),
        "problem_count": dg.MetadataValue.int(config.total),
        "report": dg.MetadataValue.path(f"s3://{config.bucket}/{config.report_key}"),
        "manifest": dg.MetadataValue.path(f"s3://{config.bucket}/{folder}/{name}"),
    }


@dg.job(
    description="A manifest the sensor rejected, shown as a failed run with its problems.",
    tags={REJECTED_STATUS_TAG: "rejected"},
)
def reject_manifest() -> None:
    """The run every rejected manifest gets."""
    report_rejection()


def rejection_request(rejection: Rejection, bucket: str) -> dg.RunRequest:
    """The run that shows ``rejection``, keyed on the manifest version it rejected."""
    ref = rejection.ref
    problems: Sequence[dict[str, str]] = [
        {"loc": problem.loc, "code": problem.code, "message": problem.message}
        for problem in rejection.problems[:MAX_PROBLEMS_IN_CONFIG]
    ]
    config = {
        "key": ref.key,
        "bucket": bucket,
        "report_key": rejection.report_key,
        "problems": list(problems),
        "total": len(rejection.problems),
    }
    return dg.RunRequest(
        run_key=f"rejected@{ref.run_key}",
        job_name=reject_manifest.name,
        run_config={"ops": {report_rejection.name: {"config": config}}},
        tags={
            "spatial_etl/batch_id": ref.stem,
            "spatial_etl/manifest_key": ref.key,
            REJECTED_STATUS_TAG: "rejected",
        },
    )
