#!/usr/bin/env bash
# The project's one test command (make test; .ci/run calls it): set up a fresh machine, start
# the real services, run ruff, mypy --strict and pytest, and stop the services whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
trap 'bash scripts/services.sh stop' EXIT
bash scripts/services.sh start
set -a
# shellcheck disable=SC1091
. .run/services.env
set +a

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy libs/spatial_etl/src services/dagster/src services/web/src plugins/vector_boundary/src plugins/satellite_raster/src plugins/vector_features/src plugins/raster_mosaic/src bench/run_bench.py bench/local_runner.py
echo "== pytest"
# Every capability the suite can skip on (GDAL, PostGIS, S3) is required here.
export SPATIAL_ETL_REQUIRE_CAPABILITIES=1
status=0
.venv/bin/pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
