"""The decided upload: each local file and the landing key it goes to, and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from spatial_etl.models.kinds import FileType


class PlannedUpload(BaseModel):
    """One local file and the landing key it goes to."""

    model_config = ConfigDict(frozen=True)

    source: Path
    relative: str = Field(description="Path relative to the directory, POSIX separators.")
    key: str = Field(description="Key in the landing bucket: <batch_id>/<relative>.")
    size: int = Field(ge=0)
    type: FileType | None = Field(description="None for a sidecar (uploaded, not listed).")
    format: str | None = Field(description="GDAL driver; None for a sidecar.")

    @property
    def listed(self) -> bool:
        """Whether the manifest lists the file (sidecars are not listed)."""
        return self.format is not None


class UploadPlan(BaseModel):
    """Everything the sending half sends, decided and validated beforehand."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    bucket: str = Field(description="Physical landing bucket (SPATIAL_ETL_LANDING_BUCKET).")
    manifest_key: str = Field(description="manifests/<batch_id>.json, uploaded last.")
    manifest: dict[str, JsonValue]
    uploads: tuple[PlannedUpload, ...]

    def manifest_bytes(self) -> bytes:
        """The manifest exactly as it is validated and uploaded."""
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n").encode()

    @property
    def total_size(self) -> int:
        """Bytes of every file (the manifest excluded)."""
        return sum(item.size for item in self.uploads)

    def describe(self) -> dict[str, Any]:
        """The plan as JSON: where each file goes, and the manifest."""
        return {
            "bucket": self.bucket,
            "manifest_key": self.manifest_key,
            "uploads": [
                {
                    "source": str(item.source),
                    "key": item.key,
                    "size": item.size,
                    "listed": item.listed,
                    "type": item.type.value if item.type else None,
                    "format": item.format,
                }
                for item in self.uploads
            ],
            "manifest": self.manifest,
        }
