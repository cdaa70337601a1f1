#!/usr/bin/env bash
# Installs everything tenantops needs on a fresh Debian/Ubuntu machine, into this clone only:
#   - Debian packages the tests and the demo start on free loopback ports (prometheus, prometheus-alertmanager,
#     postgresql), and kubectl (kubernetes-client), with apt when one is missing; their system services are
#     never started, stopped or killed;
#   - a project virtual environment `.venv/` (PEP 668: Debian's Python refuses global pip installs) with both
#     distributions of this repository, editable, so two clones never share an install: the product
#     (`tenantops`, with its `infra` extra for the Pulumi program and its `dev` test tools) and the lab
#     (`tools/tenantops-lab`: local servers, demo, benchmarks; it adds `tenantops demo|bench|faults`).
# Safe to run again: each step is skipped when it is already done for this clone's pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
say() { echo "setup: $*"; }

if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi

need_pkgs=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need_pkgs+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_pkgs+=(prometheus-alertmanager)
# kubectl: the deploy tests build the kustomize overlays with it, the stand-in's tests drive it.
command -v kubectl >/dev/null 2>&1 || need_pkgs+=(kubernetes-client)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need_pkgs+=(postgresql)
fi
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  need_pkgs+=("python3-venv")
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]} (apt-get; about a minute)"
  # policy-rc.d 101 tells Debian's maintainer scripts not to start the packages' services: tenantops starts
  # its own servers on free ports. It is only created when absent and removed again afterwards.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy="yes"
  fi
  cleanup_policy() { if [ -n "$made_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT
  # Another apt run (unattended-upgrades, a first-boot job) holds dpkg's lock: wait for it, up to 10
  # minutes, rather than fail at once.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${need_pkgs[@]}" >/dev/null
  cleanup_policy
  trap - EXIT
  say "Debian packages installed"
fi

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  say "creating the project environment .venv/"
  python3 -m venv "$venv"
fi
stamp="$venv/.tenantops-stamp"
lab="tools/tenantops-lab"
want="$("$venv/bin/python" --version 2>&1) $root $(cat pyproject.toml "$lab/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
   || ! "$venv/bin/python" -c "import tenantops, tenantops_lab, sys; sys.exit(0 if all(m.__file__.startswith('$root/') for m in (tenantops, tenantops_lab)) else 1)" >/dev/null 2>&1; then
  say "installing tenantops, the lab ($lab) and the test tools into .venv/ (pip; first run takes a few minutes)"
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q --upgrade pip >/dev/null
  log="$venv/pip-install.log"
  set +e
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -e ".[dev,infra]" -e "./$lab" 2>&1 \
    | tee "$log" | grep --line-buffered -E '^(Collecting|Successfully installed)' | sed -u 's/^/setup:   /'
  status="${PIPESTATUS[0]}"
  set -e
  if [ "$status" != "0" ]; then say "pip install failed (exit $status); the last lines of $log:"; tail -20 "$log"; exit 1; fi
  echo "$want" > "$stamp"
fi
say "ready (.venv/bin/tenantops)"
