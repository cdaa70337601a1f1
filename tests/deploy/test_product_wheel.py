"""The product distribution carries the controller and its CLI only, and runs with nothing else installed.

The wheel is built from exactly what the image's build stage copies (the Dockerfile's COPY lines before its
`pip install`), so what is checked here is what the image installs. The product-only environment is a fresh
virtual environment (no system site packages) with the wheel installed without dependencies and this
environment's third-party packages linked in, minus the lab's own (moto, aiosmtpd, jsonpatch), the `infra`
extra (the Pulumi SDKs) and both of the repository's distributions: installing the dependencies from the
package index instead would need the network in the test run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "tools" / "tenantops-lab"

pytestmark = [pytest.mark.slow]

# Third-party distributions the product must run without: the lab's servers and the infra extra.
NOT_IN_PRODUCT = ("pulumi", "moto", "aiosmtpd", "jsonpatch")
LAB_COMMANDS = ("demo", "bench", "faults")


def _image_build_sources() -> list[str]:
    """What the Dockerfile's build stage copies before it installs the product."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("RUN") and "pip install" in line:
            return sources
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(p for p in line.split()[1:-1] if not p.startswith("--"))
    raise AssertionError("the Dockerfile's build stage installs nothing with pip")


def _build_wheel(source: Path, out: Path) -> Path:
    """`pip wheel --no-deps` of `source` (pip fetches the build backend as `scripts/setup.sh`'s install does)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                           "-q", "-w", str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def product_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("product")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in _image_build_sources():
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    return _build_wheel(src, tmp / "dist")


@pytest.fixture(scope="module")
def product_only(product_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding the product wheel and the third-party packages it may use."""
    tmp = tmp_path_factory.mktemp("product-env")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False, system_site_packages=False)
    python = env_dir / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", "--disable-pip-version-check", "-q", str(product_wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deps = tmp / "third-party"
    deps.mkdir()
    for site in dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])):
        for entry in Path(site).iterdir():
            name = entry.name.lower().replace("-", "_")
            if (name.startswith(("tenantops", "__editable__")) or name.endswith(".pth")
                    or name.startswith(NOT_IN_PRODUCT) or (deps / entry.name).exists()):
                continue
            (deps / entry.name).symlink_to(entry)
    target_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    (Path(target_site) / "third-party.pth").write_text(f"{deps}\n", encoding="utf-8")
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(env_dir), "MPLCONFIGDIR": str(env_dir / "mpl"),
           "LANG": "C.UTF-8"}
    return subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd or env_dir, timeout=300)


def test_the_wheel_carries_the_controller_and_cli_only(product_wheel: Path) -> None:
    names = zipfile.ZipFile(product_wheel).namelist()
    modules = {n for n in names if n.endswith(".py")}
    assert "tenantops/cli/main.py" in modules and "tenantops/engine/root.py" in modules
    assert any(n.startswith("tenantops/sim/") for n in modules), "simulate and the backtests are product features"
    for harness in ("tenantops/sandbox/", "tenantops/demo/", "tenantops/bench/", "tenantops_lab/"):
        assert not [n for n in names if n.startswith(harness)], harness
    for command in LAB_COMMANDS:
        assert f"tenantops/cli/{command}.py" not in modules
    assert not [n for n in names if n.startswith("tests/") or n.startswith("tenantops_infra/")]


def test_the_wheel_needs_no_pulumi_or_lab_dependency_outside_its_extras(product_wheel: Path) -> None:
    metadata = next(n for n in zipfile.ZipFile(product_wheel).namelist() if n.endswith(".dist-info/METADATA"))
    message = Parser().parsestr(zipfile.ZipFile(product_wheel).read(metadata).decode())
    requires = message.get_all("Requires-Dist") or []
    unconditional = [r for r in requires if "extra ==" not in r]
    assert unconditional and not [r for r in unconditional if r.lower().startswith(NOT_IN_PRODUCT)]
    infra = [r.split()[0].lower() for r in requires if "extra == \"infra\"" in r]
    assert {"pulumi", "pulumi-aws", "pulumi-kubernetes", "pulumi-policy"} <= {r.split(">")[0].split("<")[0]
                                                                             for r in infra}


def test_the_product_alone_imports_every_module_and_validates_the_catalogue(product_only: Path) -> None:
    check = ("import importlib, importlib.util, pkgutil, tenantops\n"
             "assert importlib.util.find_spec('tenantops_lab') is None\n"
             "assert importlib.util.find_spec('pulumi') is None and importlib.util.find_spec('moto') is None\n"
             "names = [m.name for m in pkgutil.walk_packages(tenantops.__path__, 'tenantops.')\n"
             "         if '.migrations' not in m.name]  # Alembic's scripts, run by Alembic only\n"
             "for name in names: importlib.import_module(name)\n"
             "print(len(names), tenantops.__file__)")
    proc = _run(product_only, str(product_only / "bin" / "python"), "-c", check)
    assert proc.returncode == 0, proc.stderr
    count, location = proc.stdout.split()
    assert int(count) > 100 and location.startswith(str(product_only))
    proc = _run(product_only, str(product_only / "bin" / "tenantops"), "validate",
                "--catalog", str(ROOT / "stacks" / "dev.catalog.yaml"), "--policies", str(ROOT / "policies"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_product_cli_works_and_names_the_lab_for_its_commands(product_only: Path) -> None:
    tenantops = str(product_only / "bin" / "tenantops")
    proc = _run(product_only, tenantops, "--help")
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert {"run", "reconcile", "simulate", "rightsize", "plan", "provision"} <= listed
    assert not listed & set(LAB_COMMANDS)
    for args in (["demo"], ["bench", "controller", "--tenants", "10"], ["faults", "--json"], ["demo", "--help"]):
        proc = _run(product_only, tenantops, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"`tenantops {args[0]}`" in proc.stderr and "tenantops-lab" in proc.stderr
    proc = _run(product_only, tenantops, "nonsense")
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_provision_without_the_infra_extra_says_how_to_install_it(product_only: Path) -> None:
    proc = _run(product_only, str(product_only / "bin" / "tenantops"), "provision", "--stack", "dev")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "tenantops[infra]" in proc.stderr, proc.stderr


def test_the_lab_wheel_registers_its_commands_with_the_product_cli(tmp_path: Path) -> None:
    src = tmp_path / "lab"
    shutil.copytree(LAB, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "tests"))
    names = zipfile.ZipFile(_build_wheel(src, tmp_path / "dist")).namelist()
    assert "tenantops_lab/sandbox/kube_api.py" in names and "tenantops_lab/demo/run.py" in names
    assert not [n for n in names if n.startswith("tenantops/")]
    entry_points = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[tenantops.commands]" in entry_points
    for command in LAB_COMMANDS:
        assert f"{command} = tenantops_lab.cli.{command}:command" in entry_points
