#!/usr/bin/env bash
# Installs everything tenantops needs on a fresh Debian machine: Prometheus (apt) and the Python package
# with its development tools (pip). Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 \
   || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "setup: installing prometheus and alertmanager (Debian packages)"
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
  # The package starts a system service on port 9090; tenantops starts its own on free ports instead.
  $SUDO systemctl disable --now prometheus prometheus-alertmanager >/dev/null 2>&1 || true
  $SUDO pkill -x prometheus >/dev/null 2>&1 || true
  $SUDO pkill -f "^/usr/bin/prometheus-alertmanager" >/dev/null 2>&1 || true
fi

stamp=".setup-stamp"
want="$(python3 --version 2>&1) $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! python3 -c "import tenantops" >/dev/null 2>&1; then
  echo "setup: installing the tenantops Python package and its test tools"
  python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$stamp"
fi
