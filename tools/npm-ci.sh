#!/usr/bin/env bash
# Installs the npm packages a test folder pins (its package-lock.json) into that folder's node_modules:
# the OpenID provider of the single sign-on tests (tests/oidcprovider) and axe-core, the accessibility
# rule engine (tests/axe). Idempotent: runs `npm ci` only when the lock file is newer than the install.
# Usage: tools/npm-ci.sh FOLDER...
set -euo pipefail
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Debian's nodejs and npm (tools/install-system-packages.sh)" >&2
  exit 1
fi
for folder in "$@"; do
  if [ ! -f "$folder/node_modules/.package-lock.json" ] \
      || [ "$folder/package-lock.json" -nt "$folder/node_modules/.package-lock.json" ]; then
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
done
