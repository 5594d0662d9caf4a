"""Dagster resources: configuration surfaces that hand out the core's objects.

Each resource is a ``ConfigurableResource`` whose every field is described (the Dagster UI
shows the descriptions) and whose values come from the environment through ``EnvVar`` in the
``Definitions``. The resource builds a core object; it does no work of its own, so a test can
swap the object (``spatial_etl.testing.FakeGdalRunner``) without Dagster.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field
from spatial_etl.spatial_utils.runner import GdalRunner, SubprocessGdalRunner


class GDALResource(ConfigurableResource):  # type: ignore[type-arg]  # generic only for typing
    """The seed's GDALResource: runs GDAL command-line programs through the core runner."""

    bin_dir: str | None = Field(
        default=None,
        description="Directory of the GDAL programs (gdalinfo, ogr2ogr, ...); unset uses PATH.",
    )
    timeout_s: int = Field(
        default=3600,
        description="Whole seconds one GDAL command may run before it is killed with its children.",
    )
    config_options: dict[str, str] = Field(
        default_factory=dict,
        description="GDAL configuration options passed as environment variables to every command "
        "(e.g. GDAL_CACHEMAX, AWS_S3_ENDPOINT for /vsis3/).",
    )

    def runner(self) -> GdalRunner:
        """The core runner configured by this resource."""
        return SubprocessGdalRunner(
            bin_dir=Path(self.bin_dir) if self.bin_dir else None,
            timeout_s=self.timeout_s,
            env=self.config_options,
        )
