"""Child-process targets of the fault-injection suite (``processes.spawn`` runs them).

A target builds the platform from the test's payload (real S3, PostGIS, GDAL; the ledger on the
shared server), installs the holds that stop it where the test wants to kill it, and runs the
batch exactly as the Dagster job does: :func:`spatial_etl.run.intake.run_batch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remote_world import install_holds, platform_from_payload
from spatial_etl.run.intake import ManifestRef, run_batch


def run_batch_target(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``payload["ref"]`` as run ``payload["run_id"]``; the report as JSON."""
    install_holds(list(payload.get("holds", [])))
    platform = platform_from_payload(payload["world"])
    ref = ManifestRef.model_validate(payload["ref"])
    try:
        report = run_batch(ref, payload["run_id"], platform)
    finally:
        if platform.compute is not None:
            platform.compute.close()
    return report.model_dump(mode="json")
