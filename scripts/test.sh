#!/usr/bin/env bash
# The test command: set-up (scripts/setup.sh), then static checks (ruff, mypy, import layering) and the whole
# pytest suite, all from the project environment `.venv/`. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(pwd)/.venv/bin:$PATH"
echo "== ruff"; python -m ruff check .
echo "== mypy"; python -m mypy
echo "== import layering"; lint-imports
echo "== pytest"; python -m pytest "$@"
