"""Metadata the geospatial ecosystem reads, generated from one source: the ledger.

A committed asset version (its ledger document) and the provenance of its batch (project,
uploader, description) are the only inputs; ``stac`` turns them into a STAC Item per version,
a Collection per dataset and the root Catalog, ``iso`` into an ISO 19139 XML record, and
``layout`` says where each document lives in the lake, beside the data it describes. Nothing
here performs I/O, so every document can be built, validated and tested offline.
"""
