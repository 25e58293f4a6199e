#!/usr/bin/env bash
# Quick start from a fresh clone: installs what is missing, builds, starts a throw-away local
# registry with a sample application, and shows Gantry inspecting it. Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-registry >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "quickstart: installing docker-registry (CNCF distribution) with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
  else
    echo "quickstart: needs the Debian package docker-registry: sudo apt-get install docker-registry" >&2
    exit 1
  fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
node scripts/build.mjs
exec npx tsx scripts/quickstart.ts "$@"
