"""Exporters: the formats of data at rest in the lake (GeoParquet, Cloud-Optimized GeoTIFF)."""
