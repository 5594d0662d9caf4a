"""An ISO 19139 XML record per asset version, for GeoNetwork, pycsw and GeoNode.

The record is written by pygeometa from a metadata control file (MCF) built here from the
ledger document and the batch's provenance, then read back by OWSLib's ISO reader, the way a
catalogue would harvest it, so a record that a reader cannot understand never leaves this
module. pygeometa names the reference system after the first extent's CRS; the extent is the
WGS84 bounding box, so the record's reference system is set to the data's own CRS afterwards.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Final

import jinja2
import jinja2.bccache
from lxml import etree
from owslib.iso import MD_Metadata
from pydantic import BaseModel, ConfigDict
from pygeometa import core as pygeometa_core
from pygeometa.schemas.iso19139 import ISO19139OutputSchema

from spatial_etl.errors import MetadataError
from spatial_etl.metadata import description
from spatial_etl.models.ledger import AssetDocument, Provenance

logger = logging.getLogger(__name__)

_NS: Final = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
}
_CODE_PATH: Final = (
    "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/"
    "gmd:RS_Identifier/gmd:code/gco:CharacterString"
)


class IsoSummary(BaseModel):
    """What a harvester reads back from an ISO record; the tests compare it with the ledger."""

    model_config = ConfigDict(frozen=True)

    identifier: str
    title: str
    abstract: str
    bbox: tuple[float, float, float, float] | None
    reference_system: str
    lineage: str
    urls: tuple[str, ...]


def iso_record(asset: AssetDocument) -> bytes:
    """The ISO 19139 record of a committed asset version, as UTF-8 XML, checked readable."""
    text = render_mcf(_mcf(asset, asset.provenance))
    root = etree.fromstring(text.encode("utf-8"))
    code = root.find(_CODE_PATH, _NS)
    if code is None:
        raise MetadataError("pygeometa wrote no reference system identifier")
    code.text = _crs_urn(asset.crs)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    summary = read_iso(xml)
    if summary.identifier != asset.asset_id:
        raise MetadataError(f"the ISO record reads back as {summary.identifier!r}")
    return xml


def render_mcf(mcf: dict[str, Any]) -> str:
    """What ``ISO19139OutputSchema().write(mcf)`` returns, from a template compiled once.

    pygeometa's writer builds a new Jinja environment for every record, so its templates
    are compiled again each time: 0.2 s of every version's publication. This renders the same
    template with the same filters and globals from one environment per process (a test
    compares the two outputs byte for byte).
    """
    xml = _iso_template().render(record=mcf, pygeometa_version=pygeometa_core.VERSION)
    return str(pygeometa_core.pretty_print(xml.encode("utf-8")))


@functools.cache
def _iso_template() -> jinja2.Template:
    """The ISO 19139 template of pygeometa, in an environment set up as its writer does."""
    folders = [str(ISO19139OutputSchema().template_dir), str(pygeometa_core.SCHEMAS)]
    env = jinja2.Environment(  # noqa: S701 - as pygeometa's: its templates escape what they print
        loader=jinja2.FileSystemLoader(folders), bytecode_cache=_bytecode_cache()
    )
    helpers = {
        name: getattr(pygeometa_core, name)
        for name in (
            "normalize_datestring",
            "get_distribution_language",
            "get_charstring",
            "prune_distribution_formats",
            "prune_transfer_option",
        )
    }
    env.filters.update(helpers)
    env.globals.update({"zip": zip, **helpers})
    env.globals.pop("get_distribution_language")  # a filter only, as in pygeometa
    return env.get_template("main.j2")


class _BestEffortCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, except that a cache it cannot read or write is only skipped.

    Jinja raises when it cannot write an entry (a full or read-only ``/tmp``), which would fail
    the ISO record, and with it the version, for the sake of 0.2 s.
    """

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Load the entry if it can be read; otherwise the template is compiled."""
        try:
            super().load_bytecode(bucket)
        except OSError as error:
            logger.info("the ISO template's cached bytecode cannot be read: %s", error)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Store the entry if it can be written; the render goes on either way."""
        try:
            super().dump_bytecode(bucket)
        except OSError as error:
            logger.info("the ISO template's bytecode cannot be cached: %s", error)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's per-user cache of compiled templates, so a new process loads, not compiles.

    Jinja keeps it in ``<tmp>/_jinja2-cache-<uid>``, a directory it refuses to use unless the
    user owns it with mode 0700, and checks each entry against the template's source. Where
    that directory cannot be had, templates are compiled in memory (0.2 s more per process).
    """
    try:
        return _BestEffortCache()
    except (OSError, RuntimeError) as error:
        logger.info("compiling the ISO template without a cache: %s", error)
        return None


def read_iso(xml: bytes) -> IsoSummary:
    """Read an ISO 19139 record as a harvester would (OWSLib); :class:`MetadataError` if not."""
    try:
        record = MD_Metadata(etree.fromstring(xml))
        identification = record.identification[0]
        box = identification.bbox
        bbox = (
            (float(box.minx), float(box.miny), float(box.maxx), float(box.maxy))
            if box is not None
            else None
        )
        online = record.distribution.online if record.distribution else []
        return IsoSummary(
            identifier=record.identifier or "",
            title=identification.title or "",
            abstract=identification.abstract or "",
            bbox=bbox,
            reference_system=record.referencesystem.code if record.referencesystem else "",
            lineage=record.dataquality.lineage if record.dataquality else "",
            urls=tuple(str(item.url) for item in online),
        )
    except (etree.XMLSyntaxError, AttributeError, IndexError, TypeError, ValueError) as error:
        raise MetadataError(f"the ISO 19139 record cannot be read: {error}") from None


def _mcf(asset: AssetDocument, provenance: Provenance) -> dict[str, Any]:
    """The metadata control file pygeometa renders."""
    created = asset.created_at.isoformat()
    block = asset.iso19115
    keywords = description.keywords(asset.intent, asset.dataset, provenance)
    identification: dict[str, Any] = {
        "language": "en",
        "charset": "utf8",
        "title": {"en": block.title},
        "abstract": {"en": block.abstract or block.title},
        "dates": {"creation": created},
        "keywords": {"default": {"keywords": {"en": keywords}}},
        "topiccategory": ["geoscientificInformation"],
        "extents": {"spatial": [_extent(asset)]},
        "fees": "None",
        "accessconstraints": "otherRestrictions",
        "rights": "See the data lake's access policy.",
        "url": block.distribution.s3_uri,
        "status": "completed",
        "maintenancefrequency": "asNeeded",
    }
    return {
        "mcf": {"version": 1.0},
        "metadata": {
            "identifier": asset.asset_id,
            "language": "en",
            "charset": "utf8",
            "hierarchylevel": "dataset",
            "datestamp": created,
            "dataseturi": block.distribution.s3_uri,
        },
        "spatial": {
            "datatype": "grid" if asset.raster is not None else "vector",
            "geomtype": "surface" if asset.raster is None else "solid",
        },
        "identification": identification,
        "contact": {
            "pointOfContact": {
                "organization": provenance.project or "unknown",
                "individualname": provenance.uploader or "unknown",
                "role": "pointOfContact",
            }
        },
        "distribution": {
            "lake": {
                "url": block.distribution.s3_uri,
                "type": "download",
                "name": asset.s3_key.rsplit("/", 1)[-1],
                "description": f"{asset.format}, {asset.size} bytes, sha256 {asset.sha256}",
                "function": "download",
            }
        },
        "dataquality": {
            "scope": {"level": "dataset"},
            "lineage": {"statement": _lineage(asset)},
        },
    }


def _extent(asset: AssetDocument) -> dict[str, Any]:
    box = asset.bbox_wgs84 or (-180.0, -90.0, 180.0, 90.0)
    return {"bbox": list(box), "crs": 4326}


def _lineage(asset: AssetDocument) -> str:
    steps = "; ".join(asset.iso19115.lineage.steps)
    return (
        f"{asset.iso19115.lineage.statement} Steps: {steps}."
        if steps
        else (asset.iso19115.lineage.statement)
    )


def _crs_urn(crs: str) -> str:
    """``EPSG:32633`` as the OGC URN catalogues expect; anything else as it is."""
    authority, _, code = crs.partition(":")
    if authority.upper() == "EPSG" and code.isdigit():
        return f"urn:ogc:def:crs:EPSG::{code}"
    return crs
