#!/bin/bash
# /docker-entrypoint-initdb.d/20-spatial-etl.sh in the `postgis` Compose service: runs once,
# as the superuser, when the data volume is empty (after the image's own 10_postgis.sh).
# The SQL lives in init.sql (mounted at /opt/spatial-etl/init.sql); values come from the
# container's environment, which Compose fills from .env.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v compute_db="${POSTGIS_COMPUTE_DB:?}" \
  -v etl_role="${POSTGIS_ETL_USER:?}" \
  -v etl_password="${POSTGIS_ETL_PASSWORD:?}" \
  -v dagster_db="${DAGSTER_PG_DB:?}" \
  -v dagster_role="${DAGSTER_PG_USER:?}" \
  -v dagster_password="${DAGSTER_PG_PASSWORD:?}" \
  -f /opt/spatial-etl/init.sql
