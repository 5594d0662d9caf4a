"""Check at benchmark size that the boundary plugin's SQL exports what the fixed reference did.

Generates the benchmark's GeoPackage (``run_bench.make_geopackage``, same seed), loads it twice
into PostGIS — with ``run_bench.REFERENCE_LOAD_ARGS`` and the reference ``normalise``, and with
the plugin's own load and ``NORMALISE_SQL`` — exports both with ``export_geoparquet`` and
compares the files: schema and ``geo`` metadata equal, attributes and bbox equal row by row,
each geometry byte-equal or, where GEOS rebuilt a valid polygon in the reference, equal under
``ST_Normalize`` (same vertices; ring start and orientation aside). A check, not a timing; the
test suite proves the same on small hand-made data
(``plugins/vector_boundary/tests/test_normalise_equivalence.py``). Usage::

    set -a; . .run/services.env; set +a
    .venv/bin/python bench/vector_identity.py [--polygons 200000]
"""

# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def main() -> int:
    """Run the comparison; exit status 1 when a row differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polygons", type=int, default=200_000)
    args = parser.parse_args()
    dsn = os.environ.get("SPATIAL_ETL_POSTGIS_DSN")
    if not dsn:
        print("vector_identity: SPATIAL_ETL_POSTGIS_DSN is not set", file=sys.stderr)
        return 2
    sys.path.insert(0, str(BENCH))
    import psycopg2
    import pyarrow.parquet as pq
    import run_bench as rb  # type: ignore[import-not-found]
    from psycopg2 import sql
    from spatial_etl import GdalStep
    from spatial_etl.export.geoparquet import export_geoparquet
    from spatial_etl_vector_boundary import INTENT, NORMALISE_SQL

    [load] = [s for s in INTENT.steps if isinstance(s, GdalStep)]
    paths = {
        "reference": (rb.REFERENCE_LOAD_ARGS, str(rb.REFERENCE_SQL_STEPS[1]["template"])),
        "plugin": (load.args, NORMALISE_SQL),
    }
    source, pg_env = rb._pg_source(dsn)
    tables: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        gpkg = Path(tmp) / f"{rb.LAYER}.gpkg"
        rb.make_geopackage(gpkg, args.polygons)
        for name, (load_args, statement) in paths.items():
            schema = f"identity_{name}_{os.getpid()}"
            values = {
                "postgis": source,
                "src": str(gpkg),
                "layer": rb.LAYER,
                "table": rb.RAW_TABLE,
                "schema": schema,
                "crs": rb.CRS,
                "fid": "etl_fid",
            }
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            try:
                argv = ["ogr2ogr", *(rb._fill(a, values) for a in load_args)]
                subprocess.run(argv, check=True, env={**os.environ, **pg_env})
                started = time.perf_counter()
                with conn.cursor() as cur:
                    cur.execute(
                        sql.SQL(statement).format(
                            schema=sql.Identifier(schema), table=sql.Identifier(rb.RAW_TABLE)
                        )
                    )
                print(f"{name}: normalise {time.perf_counter() - started:.2f} s", flush=True)
                out = Path(tmp) / f"{name}.parquet"
                export_geoparquet(dsn, schema, rb.RAW_TABLE, out)
                tables[name] = pq.read_table(out)
            finally:
                with conn.cursor() as cur:
                    cur.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                    )
        before, after = tables["reference"], tables["plugin"]
        if before.schema != after.schema or before.schema.metadata != after.schema.metadata:
            print("schemas or geo metadata differ", file=sys.stderr)
            return 1
        if not before.drop_columns(["geometry"]).equals(after.drop_columns(["geometry"])):
            print("attributes or bbox differ", file=sys.stderr)
            return 1
        pairs = list(
            zip(
                before.column("geometry").to_pylist(),
                after.column("geometry").to_pylist(),
                strict=True,
            )
        )
        differing = [(a, b) for a, b in pairs if a != b]
        unequal = _unequal(conn, differing)
    print(
        f"rows {len(pairs)}: byte-equal {len(pairs) - len(differing)}, "
        f"equal under ST_Normalize {len(differing) - unequal}, different {unequal}"
    )
    return 1 if unequal else 0


def _unequal(conn: Any, differing: list[tuple[bytes, bytes]]) -> int:
    """How many WKB pairs are not the same geometry up to ring start and orientation."""
    import psycopg2

    unequal = 0
    with conn.cursor() as cur:
        for start in range(0, len(differing), 5000):
            chunk = differing[start : start + 5000]
            left = [psycopg2.Binary(a) for a, _ in chunk]
            right = [psycopg2.Binary(b) for _, b in chunk]
            cur.execute(
                "SELECT count(*) FILTER (WHERE NOT ST_OrderingEquals("
                "ST_Normalize(ST_GeomFromWKB(a)), ST_Normalize(ST_GeomFromWKB(b)))) "
                "FROM unnest(%s::bytea[], %s::bytea[]) AS u(a, b)",
                (left, right),
            )
            row = cur.fetchone()
            unequal += int(row[0]) if row else 0
    return unequal


if __name__ == "__main__":
    sys.exit(main())
