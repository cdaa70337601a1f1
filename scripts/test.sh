#!/usr/bin/env bash
# The test command: set-up (scripts/setup.sh), then static checks (ruff, mypy, import layering) and the whole
# pytest suite on two workers, all from the project environment `.venv/`. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(pwd)/.venv/bin:$PATH"
echo "== ruff"; python -m ruff check .
echo "== mypy"; python -m mypy
echo "== import layering"; lint-imports
# Two workers (pytest-xdist), the suite's two cores: its drills mostly wait on real servers and wall-clock
# intervals, so one process leaves a core idle. `-n 0` among the arguments runs it in one process.
echo "== pytest"; python -m pytest -n 2 --dist loadgroup "$@"
