#!/usr/bin/env bash
# Installs the OpenID provider the single sign-on tests run (the npm package `oidc-provider`, version
# pinned by package-lock.json) into tests/oidcprovider/node_modules. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Debian's nodejs and npm (tools/install-system-packages.sh)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
