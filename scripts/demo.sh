#!/usr/bin/env bash
# The main job on embedded defaults: set-up (scripts/setup.sh), then the local end-to-end demo of the control
# loop from the project environment `.venv/`. Arguments go to `tenantops demo` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "$(pwd)/.venv/bin/tenantops" demo "$@"
