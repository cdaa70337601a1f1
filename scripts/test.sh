#!/usr/bin/env bash
# The test command: set-up, static checks (ruff, mypy, import layering), then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"; python3 -m ruff check .
echo "== mypy"; python3 -m mypy
echo "== import layering"; lint-imports
echo "== pytest"; python3 -m pytest "$@"
