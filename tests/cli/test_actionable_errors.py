"""Errors a user can act on: an endpoint that does not answer is one line naming its setting (exit 1); a state
file that does not exist is bad input (exit 2). Every command runs from a directory that is not the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from tests.cli.helpers import tenantops

from tenantops.endpoints import Unreachable, connection_problem, origin, redact
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.ports import free_port


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_unreachable_prometheus_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    url = closed_url()
    result = tenantops("reconcile", "--once", "--dry-run", "--state", str(tmp_path / "s.db"), cwd=tmp_path,
                       env={"TENANTOPS_PROMETHEUS_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    # One line: the pass is not run, so neither its metrics warning nor the usage history's comes before it.
    assert lines == [f"error: TENANTOPS_PROMETHEUS_URL={url}: connection refused"], lines
    assert result.stdout == ""


def test_unreachable_prometheus_for_rightsize(tmp_path: Path) -> None:
    url = closed_url()
    result = tenantops("rightsize", "--prometheus-url", url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: TENANTOPS_PROMETHEUS_URL={url}: connection refused"


def test_unreachable_kubernetes_api_is_one_line(tmp_path: Path) -> None:
    url = closed_url()
    result = tenantops("reconcile", "--once", "--kube-url", url, "--prometheus-url", closed_url(),
                       "--aws-endpoint-url", closed_url(), "--state", str(tmp_path / "s.db"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: TENANTOPS_KUBE_URL={url}: connection refused"
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_unreachable_mail_server_names_the_setting(tmp_path: Path) -> None:
    port = free_port()
    StateStore(tmp_path / "s.db").close()
    result = tenantops("report", "--send", "--state", str(tmp_path / "s.db"), "--at", "2026-11-20T08:00:00Z",
                       cwd=tmp_path, env={"TENANTOPS_SMTP_HOST": "127.0.0.1", "TENANTOPS_SMTP_PORT": str(port)})
    assert result.returncode == 1
    assert f"TENANTOPS_SMTP_HOST=127.0.0.1:{port}: connection refused" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # The error it ends with names the setting too, not only that the report stays queued.
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"Error: report not delivered (pending): smtp: TENANTOPS_SMTP_HOST=127.0.0.1:{port}: connection "
                    "refused; it stays queued; the controller's next delivery run retries it"), last


@pytest.mark.parametrize("command", [["cost"], ["report"], ["report", "--json"], ["report", "--send"], ["audit"]])
def test_a_state_file_that_does_not_exist_is_bad_input(tmp_path: Path, command: list[str]) -> None:
    # report --send created a mistyped state file and mailed ops a report of no cost (exit 0)
    missing = tmp_path / "nowhere" / "state.db"
    result = tenantops(*command, "--state", str(missing), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"no state database at {missing}" in result.stderr and "--state" in result.stderr
    assert not missing.exists()


@pytest.mark.parametrize("command", [["cost"], ["audit"], ["plan"]])
def test_the_state_flag_wins_over_a_database_url_in_the_environment(tmp_path: Path, command: list[str]) -> None:
    """`--state FILE` reads that file even where TENANTOPS_DATABASE_URL is set (a pod of the HA component):
    a flag the command takes and then ignores would report another database's month as this file's."""
    other = tmp_path / "other.db"
    missing = tmp_path / "backup.db"
    result = tenantops(*command, "--state", str(missing), cwd=tmp_path,
                       env={"TENANTOPS_DATABASE_URL": f"sqlite:///{other}"})
    assert result.returncode == 2, result.stderr
    assert f"no state database at {missing}" in result.stderr
    assert not other.exists() and not missing.exists()


def test_reasons_from_real_failures() -> None:
    with pytest.raises(requests.RequestException) as refused:
        requests.get(closed_url(), timeout=2)
    assert connection_problem(refused.value) == "connection refused"
    with pytest.raises(requests.RequestException) as unknown:
        requests.get("http://tenantops-no-such-host.invalid/", timeout=5)
    assert connection_problem(unknown.value) == "host name not found"
    assert connection_problem(ValueError("bad query")) is None


def test_messages_never_carry_url_credentials() -> None:
    assert redact("https://user:s3cret@prom.example:9090/api") == "https://prom.example:9090/api"
    assert redact("http://prom:9090") == "http://prom:9090"


@pytest.mark.parametrize("url", ["https://user:123/x@host/", "https://user:/x@host/", "https://tok/en@host/",
                                 "https://user:12?x@host/", "https://user:12#x@host/", "https://u:1@2/x@host/",
                                 "https://user:123/x@y@host/"])
def test_userinfo_is_removed_wherever_its_password_ends(url: str) -> None:
    """A `/`, `?` or `#` in a password ends the authority for a URL parser, and the redaction did the same:
    `https://user:123/x@host/` came out whole. Whatever the password holds, everything up to the URL's
    last `@` goes, in a message, an `Unreachable` error and an endpoint's origin."""
    assert redact(url) == "https://host/"
    assert redact(f"cannot reach {url}api: timed out (retry {url})") == \
        "cannot reach https://host/api: timed out (retry https://host/)"
    assert origin(url) == "https://host"
    shown = str(Unreachable("TENANTOPS_PROMETHEUS_URL", url, "host name not found"))
    assert shown == "TENANTOPS_PROMETHEUS_URL=https://host/: host name not found"


@pytest.mark.parametrize("command", [["plan"], ["report"], ["rightsize", "--backtest"]])
def test_an_output_folder_that_cannot_be_made_is_bad_input_naming_the_flag(tmp_path: Path,
                                                                          command: list[str]) -> None:
    """It used to be `error: NotADirectoryError: ...` with exit 1, not naming --output."""
    from tenantops.record.store import StateStore

    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({})
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    state_flag = [] if command[0] == "rightsize" else ["--state", str(state)]
    result = tenantops(*command, *state_flag, "--output", str(blocker / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for --output: cannot create the folder {blocker / 'out'}: Not a directory" in result.stderr
    assert "Traceback" not in result.stderr and "Error:" in result.stderr


@pytest.mark.parametrize("flag", ["--output", "--plot"])
@pytest.mark.parametrize("run_all", [False, True])
def test_simulate_refuses_an_unwritable_output_before_it_runs(tmp_path: Path, flag: str, run_all: bool) -> None:
    """`simulate --output` under a file, or naming a folder, failed with exit 1 (an OSError) once the replay
    and the HPA curve had run; it is bad input naming the flag, found before any work."""
    repo = Path(__file__).resolve().parents[2]
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    which = ["--all", "--only", "nasa_http_1995"] if run_all else ["--trace", str(repo / "data/traces/nyc_taxi.csv")]
    result = tenantops("simulate", *which, flag, str(blocker / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for {flag}: cannot create the folder" in result.stderr
    assert "Traceback" not in result.stderr and "HPA" not in result.stdout
    if not run_all:
        folder = tmp_path / "a-folder"
        folder.mkdir()
        result = tenantops("simulate", *which, flag, str(folder), cwd=tmp_path)
        assert result.returncode == 2 and f"Invalid value for {flag}: {folder} is a folder" in result.stderr


def test_audit_limit_larger_than_the_store_means_all_entries(tmp_path: Path) -> None:
    """`--limit` was capped at 2**62 and printed that bound in --help; a larger number is all the entries."""
    import json
    from datetime import UTC, datetime, timedelta

    from tenantops.record.store import StateStore
    from tenantops.structs.plan import Decision

    state = tmp_path / "state.db"
    start = datetime(2026, 11, 2, tzinfo=UTC)
    with StateStore(state) as store:
        store.commit({}, [Decision(start + timedelta(minutes=i), "acme", "api", "scale", "up", f"entry {i}")
                          for i in range(3)])
    for limit, count in (("1", 1), (str(2**62), 3), (str(10**30), 3)):
        result = tenantops("audit", "--state", str(state), "--limit", limit, "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)) == count


def test_audit_kind_the_log_never_held_names_the_kinds_it_holds(tmp_path: Path) -> None:
    """`--kind scal` (a typo) said only "no audit entries match", as if nothing of the kind had happened."""
    from datetime import UTC, datetime

    from tenantops.record.store import StateStore
    from tenantops.structs.plan import Decision

    state = tmp_path / "state.db"
    at = datetime(2026, 11, 2, tzinfo=UTC)
    with StateStore(state) as store:
        store.commit({}, [Decision(at, "acme", "api", "scale", "up", "more load"),
                          Decision(at, "acme", "api", "alert", "budget", "over")])
    result = tenantops("audit", "--state", str(state), "--kind", "scal", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no audit entries of kind 'scal'; the log holds the kinds alert, scale"
    # A kind the log holds, filtered out by another flag, is the ordinary "no match".
    result = tenantops("audit", "--state", str(state), "--kind", "scale", "--tenant", "globex", cwd=tmp_path)
    assert result.stdout.strip() == "no audit entries match"
    result = tenantops("audit", "--state", str(state), "--kind", "scal", "--json", cwd=tmp_path)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("since", ["", " "])
def test_audit_since_that_is_blank_is_bad_input_not_every_entry(tmp_path: Path, since: str) -> None:
    """`--since "$SINCE"` with the variable unset printed the whole log as if it were the window asked for,
    while a blank --tenant or --kind matched nothing."""
    from tenantops.record.store import StateStore

    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({})
    result = tenantops("audit", "--state", str(state), "--since", since, "--json", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "Invalid value for --since" in result.stderr and result.stdout == ""


def test_unreachable_cost_explorer_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    """`cost --reconcile` ended in `error: EndpointConnectionError: Could not connect to the endpoint URL`,
    naming no setting, and without credentials in `NoCredentialsError: Unable to locate credentials`."""
    from tenantops.record.store import StateStore

    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({})
    url = closed_url()
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_MAX_ATTEMPTS": "1"}
    result = tenantops("cost", "--reconcile", "--state", str(state), cwd=tmp_path,
                       env={**keys, "TENANTOPS_AWS_ENDPOINT_URL": url})
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: TENANTOPS_AWS_ENDPOINT_URL={url}: connection refused"
    assert result.stdout == ""
    no_keys = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_MAX_ATTEMPTS": "1",
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
               "AWS_EC2_METADATA_DISABLED": "true", "TENANTOPS_AWS_ENDPOINT_URL": url}
    result = tenantops("cost", "--reconcile", "--state", str(state), cwd=tmp_path, env=no_keys)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "Cost Explorer" in last and "no AWS credentials" in last and "NoCredentialsError" not in last, last


@pytest.mark.parametrize(("args", "flag"), [
    (["--lease-name", "blue"], "--lease-name"),
    (["--identity", "replica-a"], "--identity"),
    (["--lease-namespace", "ops"], "--lease-namespace"),
    (["--leader-elect", "--shards", "3", "--lease-name", "blue"], "--lease-name"),
])
def test_run_lease_flags_that_nothing_reads_are_usage_errors(tmp_path: Path, args: list[str], flag: str) -> None:
    """Without --leader-elect (or, for --lease-name, with --shards) these were ignored and the controller
    ran unelected beside any other replica, as --shards without --leader-elect already is refused."""
    result = tenantops("run", "--dry-run", "--state", str(tmp_path / "s.db"), "--prometheus-url", closed_url(),
                       "--kube-url", closed_url(), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert flag in result.stderr.strip().splitlines()[-1] and not (tmp_path / "s.db").exists()


def test_a_first_start_logs_the_migration_in_one_line_not_alembics_steps(tmp_path: Path) -> None:
    """A first `run` (or `reconcile -v`) printed a dozen Alembic lines (its plugins, dialect and each revision's
    whole docstring, some lines without a timestamp) before the controller's own."""
    result = tenantops("-v", "reconcile", "--once", "--dry-run", "--state", str(tmp_path / "s.db"), cwd=tmp_path,
                       env={"TENANTOPS_PROMETHEUS_URL": closed_url()})
    assert "alembic" not in result.stderr, result.stderr
    migrated = [line for line in result.stderr.splitlines() if "migrated" in line]
    assert len(migrated) == 1 and f"{tmp_path / 's.db'} migrated from empty to schema 0" in migrated[0], migrated
    assert all(line[:4].isdigit() or line.startswith("error:") for line in result.stderr.splitlines()), result.stderr
