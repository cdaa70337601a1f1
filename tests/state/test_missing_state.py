"""A state store that is empty or missing where one existed is an error, not a fresh install (unless
`--init`): a zero-length state file, or a deleted file whose WAL is left beside it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.state.racing import open_at_once

from tenantops.record.database import StateMissing, StateUnavailable
from tenantops.record.store import StateStore

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantops.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


def test_zero_length_file_is_refused_naming_it_and_init_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    with pytest.raises(StateMissing, match=f"{path} is empty .0 bytes.*--init"):
        StateStore(path)
    assert path.stat().st_size == 0  # nothing was created over it
    with StateStore(path, init=True) as store:
        store.commit({"d": {"k": 1}})
    with StateStore(path) as again:
        assert dict(again.state("d")) == {"k": 1}


def test_deleted_file_with_its_wal_left_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path)
    store.commit({"d": {"k": 1}})
    holder = sqlite3.connect(path)  # a reader keeps the WAL from being checkpointed away
    holder.execute("SELECT count(*) FROM state").fetchone()
    path.unlink()
    assert Path(f"{path}-wal").exists()
    with pytest.raises(StateMissing, match=f"{path} is missing but state.db-wal"):
        StateStore(path)
    holder.close()
    store.close()
    with StateStore(path, init=True) as fresh:
        assert dict(fresh.state("d")) == {}


def test_absent_file_without_traces_is_a_new_installation(tmp_path: Path) -> None:
    with StateStore(tmp_path / "new" / "state.db") as store:
        assert store.key_count() == 0


def test_controller_stops_with_a_clear_message_on_a_zero_length_state(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    state.write_bytes(b"")
    done = _cli("reconcile", "--once", "--dry-run", "--catalog", str(REPO / "stacks" / "dev.catalog.yaml"),
                "--policies", str(REPO / "policies"), "--state", str(state), "--prometheus-url", "http://127.0.0.1:1",
                cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"state database {state} is empty" in done.stderr and "Traceback" not in done.stderr
    assert state.stat().st_size == 0


def test_replicas_creating_the_file_at_once_all_open_it(tmp_path: Path) -> None:
    """The first start of several processes on one new file (replicas on a shared volume, the controller and
    `tenantops report`): none may find the file another is creating and take it for an emptied database,
    whose advice (--init) deletes it."""
    for attempt in range(8):
        path = tmp_path / f"state-{attempt}.db"
        outcomes = open_at_once(path, 6)
        assert outcomes == ["ok"] * 6, outcomes
        with StateStore(path) as store:
            assert store.leadership() == []


def test_a_file_whose_directory_cannot_be_made_is_an_error_naming_the_file(tmp_path: Path) -> None:
    """`--state` under a regular file (a mount point that is a file, a typo): the store's own error, naming the
    state file, which the CLI reports in one line and exit 1, rather than an OSError about its directory."""
    (tmp_path / "volume").write_text("not a directory")
    path = tmp_path / "volume" / "state.db"
    with pytest.raises(StateUnavailable, match=f"state database {path}: .*{tmp_path / 'volume'}"):
        StateStore(path)
