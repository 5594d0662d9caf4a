"""``python -m spatial_etl_dagster.local run LANDING_DIR --out OUT_DIR``."""

from spatial_etl_dagster.local.cli import app

if __name__ == "__main__":
    app(prog_name="spatial-etl local")
