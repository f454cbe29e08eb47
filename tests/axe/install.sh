#!/usr/bin/env bash
# Installs axe-core, the accessibility rule engine the tests inject into pages in headless Chromium
# (version pinned by package-lock.json), into tests/axe/node_modules. Idempotent; the tests never
# reach the network: they skip with this command's name when axe.min.js is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Debian's nodejs and npm (tools/install-system-packages.sh)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
