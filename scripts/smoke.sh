#!/usr/bin/env bash
# Smoke test of a running Compose stack (`make up` first): upload examples/landing's
# districts batch as the users' account, then poll the ledger until the batch settles.
# Exit 0 only when it succeeded; 1 when it failed, was rejected or timed out; 2 on set-up.
#
# The CLI runs on the host (.venv/bin/spatial-etl, from `make setup`) against the published
# ports; without .venv it runs inside the user-code image on the stack's network instead.
# SMOKE_TIMEOUT_S (default 300) bounds the wait; SMOKE_BATCH_ID (default
# smoke_<timestamp>) names the batch, so the smoke test can run again.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f .env ] || { echo "smoke: no .env (cp .env.example .env, then edit it)" >&2; exit 2; }
set -a
# shellcheck disable=SC1091
. ./.env
set +a

BATCH=${SMOKE_BATCH_ID:-smoke_$(date +%Y%m%d%H%M%S)}
TIMEOUT=${SMOKE_TIMEOUT_S:-300}
DB=${SPATIAL_ETL_MONGODB_DATABASE:-spatial_etl}
SRC=examples/landing/districts_2026
UPLOAD_ARGS=(--intent ingest_vector_boundary --batch-id "$BATCH" --crs EPSG:25833
  --project SMOKE --uploader smoke)

if [ -x .venv/bin/spatial-etl ]; then
  cli() {
    env SPATIAL_ETL_S3_ENDPOINT_URL="http://localhost:${MINIO_API_PORT:-9000}" \
      SPATIAL_ETL_S3_ACCESS_KEY_ID="$MINIO_USERS_ACCESS_KEY" \
      SPATIAL_ETL_S3_SECRET_ACCESS_KEY="$MINIO_USERS_SECRET_KEY" \
      SPATIAL_ETL_MONGODB_URI="mongodb://$MONGO_APP_USERNAME:$MONGO_APP_PASSWORD@localhost:${MONGO_PORT:-27017}/$DB?authSource=$DB" \
      .venv/bin/spatial-etl "$@"
  }
  DIR=$SRC
else
  cli() {
    docker compose run --rm --no-deps -T -v "$PWD/$SRC:/smoke/districts_2026:ro" \
      -e SPATIAL_ETL_S3_ACCESS_KEY_ID="$MINIO_USERS_ACCESS_KEY" \
      -e SPATIAL_ETL_S3_SECRET_ACCESS_KEY="$MINIO_USERS_SECRET_KEY" \
      ledger-init spatial-etl "$@"
  }
  DIR=/smoke/districts_2026
fi

echo "smoke: uploading $SRC as batch $BATCH (account $MINIO_USERS_ACCESS_KEY)"
cli upload "$DIR" "${UPLOAD_ARGS[@]}" || { echo "smoke: upload failed" >&2; exit 1; }

deadline=$(( $(date +%s) + TIMEOUT ))
status=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  if out=$(cli status "$BATCH" --json 2>/dev/null); then
    status=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["batch"]["status"])')
    echo "smoke: $BATCH is $status"
    case "$status" in
      succeeded) cli status "$BATCH"; echo "smoke: OK"; exit 0 ;;
      failed|rejected) cli status "$BATCH" || true; echo "smoke: batch $status" >&2; exit 1 ;;
    esac
  else
    echo "smoke: $BATCH not in the ledger yet"
  fi
  sleep 5
done
echo "smoke: timed out after ${TIMEOUT}s (last status: ${status:-unknown});" \
  "see the Dagster UI, http://localhost:${DAGSTER_WEBSERVER_PORT:-3000}" >&2
exit 1
