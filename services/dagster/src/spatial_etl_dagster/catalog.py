"""The lake as Dagster assets: one partitioned asset per registered intent, fed by its landing.

Each intent is two asset specs in a group named after the intent: ``landing/<intent>`` (the
files users upload for it, which Dagster does not produce) upstream of ``lake/<intent>`` (what
the platform publishes), whose partitions are the intent's datasets. A dataset is a dynamic
partition: datasets are named by the uploads, so the set is only known as runs publish them,
and the job adds a dataset's partition before it reports the dataset. Each committed version
of a dataset is a materialization of its partition; the versions' history is the partition's.

A group per intent rather than per plugin: an intent is what a manifest names and what the
lake's keys start with, and a plugin registering several intents still shows each one whole.

The specs are built from the plugin catalogue the process loads (:func:`plugin_catalog`), so
they follow the installed plugins; nothing here loads a plugin at import time.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from spatial_etl.models.kinds import FileType
from spatial_etl.plugins.registry import RegisteredIntent

LAKE: str = "lake"
LANDING: str = "landing"


def lake_key(intent: str) -> dg.AssetKey:
    """The asset of an intent's published datasets: ``lake/<intent>``."""
    return dg.AssetKey([LAKE, intent])


def landing_key(intent: str) -> dg.AssetKey:
    """The asset of the files uploaded for an intent: ``landing/<intent>``."""
    return dg.AssetKey([LANDING, intent])


def partitions_name(intent: str) -> str:
    """Name of the dynamic partitions (the datasets) of ``lake/<intent>``."""
    return f"{LAKE}_{intent}"


def lake_partitions(intent: str) -> dg.DynamicPartitionsDefinition:
    """The datasets of an intent, added by the job as it publishes them."""
    return dg.DynamicPartitionsDefinition(name=partitions_name(intent))


def intent_specs(registered: RegisteredIntent) -> list[dg.AssetSpec]:
    """The landing and lake specs of one intent, in its own group."""
    intent = registered.intent
    plugin = registered.plugin
    plugin_label = f"{plugin.distribution or plugin.name}=={plugin.version or 'unknown'}"
    vector = intent.accepts.file_type is FileType.VECTOR
    formats = "GeoParquet" if vector else "Cloud-Optimized GeoTIFF"
    drivers = ", ".join(sorted(intent.accepts.drivers)) or "any"
    landing = dg.AssetSpec(
        key=landing_key(intent.name),
        group_name=intent.name,
        description=f"Files uploaded for {intent.name} under s3://landing-zone/<batch_id>/ "
        f"({intent.accepts.file_type.value}, GDAL drivers: {drivers}), each batch committed by "
        "its manifest. Produced by the uploaders, not by Dagster.",
        kinds={"s3"},
        metadata={"file_type": intent.accepts.file_type.value, "drivers": drivers},
    )
    lake = dg.AssetSpec(
        key=lake_key(intent.name),
        deps=[landing.key],
        group_name=intent.name,
        description=f"{intent.summary}. One partition per dataset; each committed version is "
        f"a materialization ({formats} in s3://data-lake/{intent.name}/<dataset>/v<N>/).",
        partitions_def=lake_partitions(intent.name),
        kinds={"s3", "geoparquet" if vector else "cog"},
        metadata={
            "plugin": plugin_label,
            "steps": ", ".join(step.name for step in intent.steps),
        },
        tags={"spatial_etl/intent": intent.name},
    )
    return [landing, lake]


def catalog_specs(intents: Iterable[RegisteredIntent]) -> list[dg.AssetSpec]:
    """Every intent's specs, in name order."""
    ordered = sorted(intents, key=lambda registered: registered.intent.name)
    return [spec for registered in ordered for spec in intent_specs(registered)]
