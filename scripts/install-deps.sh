#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing:
# Debian's Chromium (browser tests), nginx (nginx -t on deploy/nginx) and
# Prometheus (promtool on deploy/prometheus). Go modules and npm packages
# are fetched by the test command itself.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "install-deps: node is required for the dashboard tests" >&2; exit 1; }
