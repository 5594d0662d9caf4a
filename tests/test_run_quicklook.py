"""A run's products carry their quicklook, a PNG beside the product, when they reach publishing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from spatial_etl.run import executor
from spatial_etl.run.products import Product
from support import UTM_CURVE, UTM_SQUARE, World, manifest, raster_file, vector_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Product, bytes]]:
    """Every product handed to ``publish``, with its quicklook's bytes read at that moment."""
    seen: list[tuple[Product, bytes]] = []
    real = executor.publish

    def recording(product: Product, *args: Any, **kwargs: Any) -> Any:
        seen.append((product, product.quicklook.read_bytes() if product.quicklook else b""))
        return real(product, *args, **kwargs)

    monkeypatch.setattr(executor, "publish", recording)
    return seen


def test_a_raster_products_quicklook_reaches_publishing(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _published(monkeypatch)
    source = make_raster(
        "scene.tif", size=(1400, 700), crs="EPSG:32633", bounds=(500000, 5500000, 514000, 5507000)
    )
    report = world.run(
        manifest("ql_1", "ingest_satellite_raster", [raster_file(world.upload("ql_1", source))])
    )
    assert report.status == "succeeded", report.error
    [(product, png)] = seen
    assert product.quicklook == product.path.with_suffix(".png")
    assert png[:8] == PNG_MAGIC
    assert int.from_bytes(png[16:20]) == 512  # IHDR width
    assert int.from_bytes(png[20:24]) == 256  # IHDR height


def test_a_vector_products_quicklook_is_drawn_before_the_schema_is_dropped(
    world: World, make_vector: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _published(monkeypatch)
    gpkg = make_vector(
        "zones.gpkg",
        [{"wkt": UTM_CURVE, "name": "curve"}, {"wkt": UTM_SQUARE, "name": "sq"}],
        crs="EPSG:32633",
        geometry_type="GEOMETRY",
    )
    path = world.upload("zq_1", gpkg)
    report = world.run(manifest("zq_1", "ingest_vector_boundary", [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error
    [(product, png)] = seen
    assert product.quicklook == product.path.with_suffix(".png")
    assert png[:8] == PNG_MAGIC
    assert max(int.from_bytes(png[16:20]), int.from_bytes(png[20:24])) == 512
