#!/usr/bin/env bash
# Install what a fresh Debian machine lacks for development and tests, then build the virtual
# environment from the committed lock file. Idempotent: a second run installs nothing.
#   - system packages: GDAL command-line tools, PostgreSQL server, PostGIS, kubectl (renders
#     configs/k8s with its built-in kustomize, offline), Chromium (the web catalogue's browser
#     tests drive it with Playwright; Playwright's own browser download is not used)
#   - .tools/: a private venv holding the pinned uv
#   - .venv/: every workspace distribution + dev tools, exactly as uv.lock pins them
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
PYTHON=${PYTHON:-python3}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  echo "bootstrap: installing system packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

missing=()
command -v ogr2ogr >/dev/null 2>&1 || missing+=(gdal-bin)
[ -x "$(pg_bin)/postgres" ] || missing+=(postgresql)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
pg_major=$(basename "$(dirname "$(pg_bin)")")
if [ ! -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ]; then
  apt_install "postgresql-$pg_major-postgis-3"
fi

if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "bootstrap: installing uv $UV_VERSION into .tools/"
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

export UV_PYTHON_DOWNLOADS=never
.tools/bin/uv sync --frozen --all-packages --compile-bytecode --python "$PYTHON" --quiet
echo "bootstrap: ready ($(.venv/bin/python --version), $(ogr2ogr --version | cut -d, -f1))"
