#!/usr/bin/env bash
# The main job on embedded defaults: set-up, then a local end-to-end demo of the control loop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec tenantops demo "$@"
