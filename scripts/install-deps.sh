#!/usr/bin/env bash
# Installs the system packages the browser tests need (Debian's Chromium)
# when they are missing. Go modules and npm packages are fetched by the
# test command itself.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "install-deps: installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "install-deps: node is required for the dashboard tests" >&2; exit 1; }
