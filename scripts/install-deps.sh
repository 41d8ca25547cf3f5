#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing:
# Debian's Chromium (browser tests), nginx and Caddy (deploy/nginx and the
# gateway end-to-end tests), Prometheus (promtool on deploy/prometheus),
# zsh and fish (the shell completion scripts are loaded into each shell),
# and the Python modules of examples/fastapi and of the original Permiso's
# documented FastAPI service (Debian's, for /usr/bin/python3).
# Go modules and npm packages are fetched by the test command itself.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Gateway end-to-end tests (deploy/gateways) run real Caddy beside nginx.
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# The completion scripts are tested in each shell.
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
# examples/fastapi and the original's FastAPI service run on Debian's Python
# with Debian's modules only.
/usr/bin/python3 -c 'import fastapi, jwt, httpx, uvicorn, cryptography' >/dev/null 2>&1 ||
  need+=(python3 python3-fastapi python3-jwt python3-httpx python3-uvicorn python3-cryptography)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "install-deps: node is required for the dashboard tests" >&2; exit 1; }
