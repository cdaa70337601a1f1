"""Fuzzed catalogue and policy YAML: every input either loads or is rejected with file, line and field.

Nothing in between: no traceback, no partially loaded configuration.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from tenantops.config import Config, ConfigError, load_config

from .conftest import FaultLedger

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "stacks" / "dev.catalog.yaml"
POLICIES = ROOT / "policies"
JUNK = ["", ":", "{", "}", "[", "]", '"', "'", "\n", "  ", "-", "&a", "*a", "!!python/object:os.system", "<<: *a",
        "nan", ".inf", "-1", "1e400", "null", "~", "\t", "é", "\x00", "0x10", "yes", "2026-01-01"]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(6)
        i = rng.randrange(len(lines))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            line = lines[i]
            pos = rng.randrange(len(line) + 1)
            lines[i] = line[:pos] + rng.choice(JUNK) + line[pos:]
        elif op == 3 and ":" in lines[i]:
            key, _, _ = lines[i].partition(":")
            lines[i] = f"{key}: {rng.choice(JUNK)}\n"
        elif op == 4:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            line = lines[i]
            cut = rng.randrange(len(line) + 1)
            lines[i] = line[:cut] + "\n"
    return "".join(lines)


def _outcome(catalog: Path, policies: Path) -> tuple[bool, str]:
    """True when the loader behaved: a full Config, or a ConfigError whose issues all point into a file."""
    try:
        result = load_config(catalog, policies)
    except ConfigError as exc:
        bad = [i for i in exc.issues if not i.file or i.line < 0 or not i.field or not i.message]
        return (not bad and bool(exc.issues), f"{len(exc.issues)} issue(s); first: {exc.issues[0]}")
    except Exception as exc:  # the thing this suite exists to catch
        return False, f"crashed: {type(exc).__name__}: {exc}"
    return isinstance(result, Config) and len(result.tenants) > 0, "loaded"


def test_fuzzed_catalogues(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    rng = random.Random(20261123)
    source = CATALOG.read_text(encoding="utf-8")
    failures = []
    for case in range(300):
        path = tmp_path / f"catalog-{case}.yaml"
        path.write_bytes(mutate(source, rng).encode("utf-8", "surrogatepass"))
        held, detail = _outcome(path, POLICIES)
        if not fault_ledger.case("catalogue YAML fuzzed", held, detail):
            failures.append((case, detail))
    assert not failures, failures[:5]


def test_fuzzed_policies(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    rng = random.Random(7)
    files = sorted(POLICIES.glob("*.yaml"))
    failures = []
    for case in range(150):
        target = tmp_path / f"policies-{case}"
        shutil.copytree(POLICIES, target)
        victim = target / rng.choice(files).name
        victim.write_text(mutate(victim.read_text(encoding="utf-8"), rng), encoding="utf-8")
        held, detail = _outcome(CATALOG, target)
        if not fault_ledger.case("policy YAML fuzzed", held, detail):
            failures.append((case, detail))
    assert not failures, failures[:5]


def test_yaml_tags_cannot_execute_code(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("tenants: !!python/object/apply:os.system ['touch pwned']\n", encoding="utf-8")
    held, detail = _outcome(path, POLICIES)
    held = held and not (tmp_path / "pwned").exists() and "issue" in detail
    assert fault_ledger.case("catalogue YAML fuzzed", held, detail)
