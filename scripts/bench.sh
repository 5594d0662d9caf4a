#!/usr/bin/env bash
# `make bench`: time and peak memory of the run executor next to the raw tools it drives
# (bench/README.md). Like scripts/test.sh: set up the machine, start PostGIS and the S3 server,
# run bench/run_bench.py with this script's arguments (make bench BENCH_ARGS="--repeat 3"),
# and stop the services whatever happens.
# RUN_DIR (absolute; default .run) is where the services keep their state. The default stops
# services started by `make services-up`, as `make test` does; another RUN_DIR leaves them be.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUN_DIR="${RUN_DIR:-$PWD/.run}"

bash scripts/bootstrap.sh
trap 'bash scripts/services.sh stop' EXIT
bash scripts/services.sh start
set -a
# shellcheck disable=SC1091
. "$RUN_DIR/services.env"
set +a

.venv/bin/python bench/run_bench.py "$@"
