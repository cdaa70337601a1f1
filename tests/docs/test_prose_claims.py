"""What the README, docs/ and deploy/README.md state as facts of the command line and the set-up, checked
against the code: every command line they show parses with the flags the command has, every `TENANTOPS_*`
variable they or the code name is one something reads, and every Debian package set-up installs is named."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from tests.cli.helpers import ROOT

from tenantops.cli.main import cli
from tenantops.config.settings import OTHER_VARIABLES, setting_variables

PROSE = [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = [*(ROOT / "controllers").rglob("*.py"), *(ROOT / "infra").rglob("*.py"),
        *(ROOT / "tools" / "tenantops-lab").rglob("*.py"), *(ROOT / "scripts").glob("*.sh"), ROOT / ".ci" / "run"]
VARIABLE = re.compile(r"\bTENANTOPS_[A-Z0-9_]*[A-Z0-9_]")


def command_lines() -> Iterator[tuple[str, str]]:
    """(file, line) for every `tenantops ...` command in a shell block or inline code of the prose."""
    for path in PROSE:
        text = path.read_text(encoding="utf-8")
        lines = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]
        lines += re.findall(r"`(tenantops [^`]+)`", text)
        for line in lines:
            line = re.split(r"\s#\s", line, maxsplit=1)[0].strip()
            if line.startswith("tenantops ") and "..." not in line:
                yield path.relative_to(ROOT).as_posix(), line


def _parse(line: str) -> None:
    """Resolve the (sub)command and parse its arguments as click does; unknown options and commands raise."""
    args = shlex.split(line)[1:]
    command: click.Command = cli
    ctx = click.Context(cli, info_name="tenantops")
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name = args.pop(0)
        found = command.get_command(ctx, name)
        assert found is not None, f"no command {name!r}"
        command, ctx = found, click.Context(found, parent=ctx, info_name=name)
    command.make_parser(ctx).parse_args(args)


def test_every_command_line_in_the_prose_parses() -> None:
    lines = list(command_lines())
    assert ("README.md", "tenantops reconcile --once --dry-run --json") in lines
    assert ("docs/benchmarks.md", "tenantops rightsize --backtest FILES --output DIR --json") in lines
    wrong = []
    for where, line in lines:
        try:
            _parse(line)
        except (click.UsageError, AssertionError) as exc:
            wrong.append(f"{where}: {line}: {exc}")
    assert wrong == []


def test_a_flag_the_command_does_not_have_is_caught() -> None:
    with pytest.raises(click.NoSuchOption):
        _parse("tenantops cost --window 30d --no-such-flag")


def _known_variables() -> frozenset[str]:
    """Settings' variables, the others the project reads, and the CI workflows' repository variables."""
    workflows = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    return setting_variables() | OTHER_VARIABLES | frozenset(re.findall(r"vars\.(TENANTOPS_[A-Z0-9_]+)", workflows))


def _named(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in VARIABLE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return found


def _unknown(named: dict[str, set[str]]) -> dict[str, set[str]]:
    known = _known_variables()
    return {name: files for name, files in named.items()
            if name not in known and not (name.endswith("_") and any(k.startswith(name) for k in known))}


def test_every_variable_the_prose_names_is_read() -> None:
    named = _named(PROSE)
    assert {"TENANTOPS_DATABASE_URL", "TENANTOPS_PROMETHEUS_SIGV4_REGION", "TENANTOPS_SMTP_"} <= set(named)
    assert _unknown(named) == {}


def test_every_variable_the_code_reads_or_sets_is_known_to_the_settings() -> None:
    """A `TENANTOPS_*` variable that is no setting is warned about as a likely misspelling; one the project
    itself reads or sets (the fault suite's switches) must be listed as known, or every process started
    with it warns about the project's own variable."""
    named = _named(CODE)
    assert "TENANTOPS_DRILL_SECONDS" in named
    assert _unknown(named) == {}


def test_the_readme_names_every_debian_package_setup_installs() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    packages = set(re.findall(r'need_pkgs\+=\("?([a-z0-9.+-]+)"?\)', setup))
    assert {"prometheus", "postgresql", "kubernetes-client"} <= packages
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert {p for p in packages if f"`{p}`" not in readme} == set()


def raised_causes() -> set[str]:
    """Every alert cause the product can raise, read from its code: the facts decider's tables and each
    `Alert(...)` that names its cause as a literal (a `{granularity}` stands for hourly and daily)."""
    from tenantops.decide.facts import CAUSES, NOTICE_ACTIONS
    from tenantops.notify.outbox import DELIVERY_FAILED_CAUSES

    causes = {cause for cause, _ in CAUSES.values()} | {f"controller-{n}" for n in NOTICE_ACTIONS}
    causes |= DELIVERY_FAILED_CAUSES  # the outbox's, one per channel (`failure_alert`)
    literal = re.compile(r'(?:cause=|Severity\.[A-Z]+, )f?"([a-z][a-z{}-]*)"')
    for path in (ROOT / "controllers" / "tenantops").rglob("*.py"):
        for cause in literal.findall(path.read_text(encoding="utf-8")):
            if "{" not in cause:
                causes.add(cause)
            elif cause == "cost-anomaly-{granularity}":
                causes |= {"cost-anomaly-hourly", "cost-anomaly-daily"}
            elif cause != "controller-{cause}":
                raise AssertionError(f"{path}: cause {cause!r} is built in a way this test does not expand")
    return causes


def test_every_alert_cause_has_its_runbook_section() -> None:
    """`runbook_url` points at `docs/alerts.md#<cause>`: a cause without its section sends on-call to nothing."""
    causes = raised_causes()
    assert {"metrics-implausible", "controller-reload-held", "controller-clock-skew", "breaker", "budget",
            "mail-delivery-failed", "webhook-delivery-failed", "alertmanager-delivery-failed",
            "cost-anomaly-daily"} <= causes
    sections = set(re.findall(r"^## (\S+)$", (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8"), re.M))
    assert causes - sections == set()


def test_the_causes_a_snooze_may_name_are_the_causes_raised() -> None:
    """A snooze is checked against `ALERT_CAUSES`: a cause the code raises and the list lacks could not be
    snoozed, one the list has and nothing raises would be a snooze of nothing."""
    from tenantops.structs.causes import ALERT_CAUSES

    assert raised_causes() == ALERT_CAUSES


REPO_PATH = re.compile(r"(?<![\w/.-])((?:deploy|docs|policies|stacks|tests|infra|scripts|tools|controllers)/"
                       r"[A-Za-z0-9_./*<>-]*[A-Za-z0-9_*>])")


def test_every_repository_path_the_prose_and_the_code_name_exists() -> None:
    """A file the docs or a docstring send the reader to is there (kubectl's `deploy/NAME` resources are not
    paths; `<placeholders>` and globs are matched as patterns)."""
    missing = set()
    for path in [*PROSE, *CODE]:
        for named in REPO_PATH.findall(path.read_text(encoding="utf-8")):
            if named.startswith("deploy/tenantops-controller"):
                continue
            pattern = re.sub(r"<[^>]*>", "*", named)
            if not any(ROOT.glob(pattern)) and not (ROOT / pattern).exists():
                missing.add(f"{path.relative_to(ROOT)}: {named}")
    assert missing == set()


def test_the_config_file_key_the_readme_and_the_help_show_is_a_setting(tmp_path: Path) -> None:
    """The README and `tenantops --help` show the key form of a config file by example; that form loads."""
    from tenantops.config.settings import resolve_settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"in lower case: `(\w+): ([^`]+)`", readme)
    assert example is not None, "the README no longer shows a config file key"
    config = tmp_path / "settings.yaml"
    config.write_text(f"{example[1]}: {example[2]}\n", encoding="utf-8")
    assert getattr(resolve_settings({"config_file": str(config)}, env={}), example[1]) == example[2]
    assert f"lower case: {example[1]})" in " ".join(CliRunner().invoke(cli, ["--help"]).output.split())


def test_the_decision_core_reads_no_clock() -> None:
    """`tenantops.decide` says it takes time in and reads no clock (import-linter keeps its I/O out): a
    decision must be the same for the same snapshot and `now`, in a pass and in a replay."""
    clock = re.compile(r"\b(?:datetime\.(?:now|utcnow|today)|date\.today|time\.(?:time|monotonic|perf_counter)(?:_ns)?)"
                       r"\(|^from time import|^import time$", re.M)
    decide = ROOT / "controllers" / "tenantops" / "decide"
    assert "no clock reads" in (decide / "__init__.py").read_text(encoding="utf-8")
    reading = {p.relative_to(ROOT).as_posix() for p in decide.rglob("*.py") if clock.search(p.read_text("utf-8"))}
    assert reading == set()


def test_the_readme_layout_names_every_package() -> None:
    """The layout table is where a newcomer looks for a package; one it leaves out is one nobody finds."""
    row = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `controllers/tenantops/` |"))
    packages = {p.parent.name for p in (ROOT / "controllers" / "tenantops").glob("*/__init__.py")}
    assert {"decide", "cli"} <= packages
    assert {p for p in packages if f"`{p}/`" not in row} == set()
