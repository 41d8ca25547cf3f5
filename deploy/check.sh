#!/usr/bin/env bash
# Validates the deployment files with the real tools: nginx -t (with a
# certificate generated now, never committed), promtool check and
# promtool test. Run from anywhere; deploy_test.go runs it in `go test`.
# A missing tool is skipped with a message, except under CI=true, where
# it is a failure (install: apt-get install nginx-light prometheus).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = true ]; then
    echo "check: $1 is not installed (apt-get install $2)" >&2
    exit 1
  fi
  echo "SKIP: $1 is not installed (apt-get install $2)"
  return 1
}

if have nginx nginx-light && have openssl openssl; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null
  # Point the certificate paths at the temporary pair, and the upstream at
  # an address that resolves here (nginx -t resolves upstream names).
  sed -e "s#/etc/nginx/certs/#$tmp/#g" -e 's#server permiso:8000#server 127.0.0.1:8000#' \
    nginx/nginx.conf >"$tmp/nginx.conf"
  nginx -t -q -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" -g "pid $tmp/nginx.pid;"
  echo "ok: nginx -t nginx/nginx.conf"
fi

if have promtool prometheus; then
  promtool check config prometheus/prometheus.yml >/dev/null
  promtool check rules prometheus/alerts.yml >/dev/null
  promtool test rules prometheus/alerts_test.yml >/dev/null
  echo "ok: promtool check config, check rules, test rules"
fi
