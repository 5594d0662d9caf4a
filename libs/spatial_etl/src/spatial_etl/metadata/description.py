"""The words every metadata document uses: title, abstract, lineage, keywords.

The ledger's ISO 19115 block, the ISO 19139 record and the STAC Item all describe one asset
version; they take their title, abstract and lineage from here, so what a catalogue shows and
what the ledger says cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from spatial_etl.models.ledger import (
    Distribution,
    GeographicExtent,
    InputRecord,
    Iso19115Metadata,
    Lineage,
    PluginRecord,
    Provenance,
)


def title(dataset: str, version: int) -> str:
    """The title of one version of a dataset."""
    return f"{dataset} (version {version})"


def abstract(provenance: Provenance, intent_summary: str) -> str:
    """What the data is: the uploader's description, else what the intent makes."""
    return provenance.description or intent_summary


def plugin_label(plugin: PluginRecord) -> str:
    """``distribution version`` of the plugin that served the intent."""
    return " ".join(filter(None, (plugin.distribution or plugin.name, plugin.version)))


def lineage_statement(
    *,
    dataset: str,
    version: int,
    intent: str,
    plugin: PluginRecord,
    run_id: str,
    batch_id: str,
    inputs: Sequence[InputRecord],
) -> str:
    """One paragraph naming the inputs (with their hashes), the intent, plugin, run and batch."""
    sources = ", ".join(f"{record.path} (sha256 {record.sha256})" for record in inputs)
    return (
        f"{dataset} version {version} was produced by intent {intent} (plugin "
        f"{plugin_label(plugin)}) in run {run_id} of batch {batch_id} from {sources}."
    )


def ledger_block(
    *,
    dataset: str,
    version: int,
    intent: str,
    plugin: PluginRecord,
    run_id: str,
    batch_id: str,
    inputs: Sequence[InputRecord],
    steps: Sequence[str],
    provenance: Provenance,
    intent_summary: str,
    crs: str,
    bbox_wgs84: tuple[float, float, float, float] | None,
    distribution: Distribution,
) -> Iso19115Metadata:
    """The ISO 19115 block of the ledger document, from the same sentences as the records."""
    extent = (
        GeographicExtent(
            west=bbox_wgs84[0], south=bbox_wgs84[1], east=bbox_wgs84[2], north=bbox_wgs84[3]
        )
        if bbox_wgs84
        else None
    )
    statement = lineage_statement(
        dataset=dataset,
        version=version,
        intent=intent,
        plugin=plugin,
        run_id=run_id,
        batch_id=batch_id,
        inputs=inputs,
    )
    return Iso19115Metadata(
        title=title(dataset, version),
        abstract=abstract(provenance, intent_summary),
        extent=extent,
        reference_system=crs,
        lineage=Lineage(statement=statement, steps=list(steps)),
        distribution=distribution,
    )


def keywords(intent: str, dataset: str, provenance: Provenance) -> list[str]:
    """Keywords a catalogue indexes: the intent, the dataset and the project."""
    return [value for value in (intent, dataset, provenance.project) if value]
