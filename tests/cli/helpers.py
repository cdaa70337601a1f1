"""Running the console entry point as a user does: a fresh process, another working directory, chosen settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tenantops(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`tenantops ARGS` from `cwd` with no TENANTOPS_* variable of the caller's, only those in `env`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTOPS_")}
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "controllers"), full_env.get("PYTHONPATH", "")])
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tenantops.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)
