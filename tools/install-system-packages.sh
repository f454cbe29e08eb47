#!/usr/bin/env bash
# Installs the Debian packages the demo and the test suite run for real: nginx, its Lua module and its
# headers-more module (deploy tests: nginx checks the gate's grants in Lua and answers the usual 304 itself),
# Chromium (browser tests), Ceph's RADOS Gateway (the real S3-compatible server), git, ssh-keygen,
# wrk and hugo (benchmarks), Node.js (the test suite's OpenID provider). Idempotent: installs only what is missing.
set -euo pipefail
packages=(git openssh-client nginx-light libnginx-mod-http-lua libnginx-mod-http-headers-more-filter chromium ceph-mon ceph-osd radosgw ceph-common wrk hugo nodejs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(npm)  # bundled with some nodejs builds, separate in Debian
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
