"""`tenantops faults`: the lab's command runs the checkout's fault suite from any directory and tabulates it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

LEDGER_CONFTEST = '''
import json, os
import pytest

ROWS = []


@pytest.fixture
def fault_ledger():
    class Ledger:
        def case(self, fault_class, held, detail=""):
            ROWS.append({"class": fault_class, "held": bool(held), "detail": detail})
            return held
    return Ledger()


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["TENANTOPS_FAULT_RESULTS"], "w", encoding="utf-8") as out:
        out.writelines(json.dumps(row) + "\\n" for row in ROWS)
'''


def _faults(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantops.cli.main", "faults", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_the_checkouts_suite_runs_from_another_directory(tmp_path: Path) -> None:
    proc = _faults(tmp_path, "-k", "test_yaml_tags_cannot_execute_code", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["all_held"] is True and result["pytest_exit"] == 0
    assert result["classes"] and all(c["tried"] == c["held"] > 0 for c in result["classes"])
    assert "faults: running the fault suite in" in proc.stderr and "tests/faults" in proc.stderr


def test_a_case_that_did_not_hold_is_named_and_fails_the_run(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(LEDGER_CONFTEST, encoding="utf-8")
    (suite / "test_cases.py").write_text(
        "def test_cases(fault_ledger):\n"
        "    fault_ledger.case('stuck exporter', True)\n"
        "    fault_ledger.case('stuck exporter', False, 'scaled on a stale sample')\n"
        "    fault_ledger.case('bad yaml', True)\n", encoding="utf-8")
    proc = _faults(tmp_path, "--tests", str(suite))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"stuck exporter +2 +1   <-- did not hold", next(x for x in lines if x.startswith("stuck")))
    assert re.fullmatch(r"bad yaml +1 +1", next(x for x in lines if x.startswith("bad yaml")))
    assert re.fullmatch(r"total +3 +2", next(x for x in lines if x.startswith("total")))
    assert "stuck exporter: first failures:" in proc.stdout and "scaled on a stale sample" in proc.stdout
