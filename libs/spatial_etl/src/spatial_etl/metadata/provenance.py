"""What the batch says about an asset: who sent it, for which project, described how."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.models.ledger import BatchDocument


class Provenance(BaseModel):
    """The manifest's facts about the data, kept with every document generated from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str | None = Field(default=None, description="metadata.project of the manifest.")
    uploader: str | None = Field(default=None, description="Who uploaded the batch.")
    description: str | None = Field(
        default=None, description="metadata.description: what the data is, in the user's words."
    )

    @classmethod
    def of_batch(cls, batch: BatchDocument | None) -> Provenance:
        """The provenance recorded with a batch (nothing when the batch is unknown)."""
        if batch is None:
            return cls()
        manifest: dict[str, Any] = dict(batch.manifest or {})
        metadata = manifest.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        project, description = metadata.get("project"), metadata.get("description")
        return cls(
            project=project if isinstance(project, str) else None,
            uploader=batch.uploader,
            description=description if isinstance(description, str) and description else None,
        )
