#!/bin/sh
# One-shot MinIO set-up, run by the `minio-init` Compose service (image quay.io/minio/mc).
# Idempotent: buckets, policies and accounts are created or updated, never duplicated.
#   - buckets landing-zone and data-lake; versioning on the lake
#   - policies spatial-etl-users, spatial-etl-pipeline and spatial-etl-catalogue from
#     /policies/*.json
#   - the users', the pipeline's and the web catalogue's (read-only lake) accounts, each
#     attached to its policy
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
: "${MINIO_USERS_ACCESS_KEY:?}" "${MINIO_USERS_SECRET_KEY:?}"
: "${MINIO_PIPELINE_ACCESS_KEY:?}" "${MINIO_PIPELINE_SECRET_KEY:?}"
: "${MINIO_CATALOGUE_ACCESS_KEY:?}" "${MINIO_CATALOGUE_SECRET_KEY:?}"
LANDING=${SPATIAL_ETL_LANDING_BUCKET:-landing-zone}
LAKE=${SPATIAL_ETL_LAKE_BUCKET:-data-lake}

# The policies name the buckets literally (they are the files the tests evaluate).
if [ "$LANDING" != landing-zone ] || [ "$LAKE" != data-lake ]; then
  echo "minio-init: bucket names $LANDING/$LAKE differ from services/minio/policies/*.json" \
    "(landing-zone/data-lake): edit the policies too, then remove this check" >&2
  exit 1
fi

export MC_CONFIG_DIR=/tmp/.mc
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing "local/$LANDING"
mc mb --ignore-existing "local/$LAKE"
mc version enable "local/$LAKE"

mc admin policy create local spatial-etl-users /policies/users.json
mc admin policy create local spatial-etl-pipeline /policies/pipeline.json
mc admin policy create local spatial-etl-catalogue /policies/catalogue.json

attach() {  # attach POLICY to USER; attaching twice is refused by mc, which is fine here
  if ! mc admin policy attach local "$1" --user "$2" 2>/tmp/attach.err; then
    case "$(mc admin user info local "$2")" in  # no grep in the mc image: plain sh
      *"$1"*) return 0 ;;
    esac
    cat /tmp/attach.err >&2
    return 1
  fi
}

mc admin user add local "$MINIO_USERS_ACCESS_KEY" "$MINIO_USERS_SECRET_KEY"
attach spatial-etl-users "$MINIO_USERS_ACCESS_KEY"
mc admin user add local "$MINIO_PIPELINE_ACCESS_KEY" "$MINIO_PIPELINE_SECRET_KEY"
attach spatial-etl-pipeline "$MINIO_PIPELINE_ACCESS_KEY"
mc admin user add local "$MINIO_CATALOGUE_ACCESS_KEY" "$MINIO_CATALOGUE_SECRET_KEY"
attach spatial-etl-catalogue "$MINIO_CATALOGUE_ACCESS_KEY"

echo "minio-init: buckets $LANDING, $LAKE (versioned); accounts $MINIO_USERS_ACCESS_KEY" \
  "(spatial-etl-users), $MINIO_PIPELINE_ACCESS_KEY (spatial-etl-pipeline)," \
  "$MINIO_CATALOGUE_ACCESS_KEY (spatial-etl-catalogue)"
