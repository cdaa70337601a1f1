"""deploy/README.md's backup and restore steps, run as written: SQLite's online backup taken while the store is
open, and `pg_dump --format=custom` restored with `pg_restore --no-owner` into an empty database. The restored
store holds the same state and audit, takes the next pass's commit, and its audit still refuses edits."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import Decision

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
README = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text(encoding="utf-8")


def _fill(store: StateStore) -> None:
    store.commit({"autoscaling": {"acme/api": {"window": [3, 4]}}, "cost": {"acme": {"mtd": 12.5}}},
                 [Decision(NOW, "acme", "api", "scale", "hpa", "load up", 3, 4, {"cpu": 0.9})])


def _same_as_filled(url: str) -> None:
    with StateStore(url) as restored:
        assert dict(restored.state("autoscaling")) == {"acme/api": {"window": [3, 4]}}
        assert dict(restored.state("cost")) == {"acme": {"mtd": 12.5}}
        entries = list(audit.query(restored.connection))
        assert [(e.tenant, e.kind, e.reason) for e in entries] == [("acme", "scale", "load up")]
        # The triggers came along: a row of today is not deleted (one older than the least retention may be).
        today = datetime.now(UTC)
        restored.commit({"cost": {"acme": {"mtd": 13.0}}},
                        [Decision(today, "acme", "api", "scale", "hpa", "next", 4, 5)])
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), restored.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit"))


def test_a_sqlite_online_backup_restores_the_state_and_the_audit(tmp_path: Path) -> None:
    assert "s.backup(d)" in README  # the step the README gives
    live = tmp_path / "state.db"
    with StateStore(live) as store:
        _fill(store)
        source, copy = sqlite3.connect(live), sqlite3.connect(tmp_path / "state-backup.db")
        source.backup(copy)  # while the controller's store is open, as in the pod
        copy.close()
        source.close()
    _same_as_filled(f"sqlite:///{tmp_path / 'state-backup.db'}")


def test_pg_dump_restored_with_pg_restore_into_an_empty_database(postgres_server: Any, tmp_path: Path) -> None:
    dump_step = re.search(r"`(pg_dump [^`]+)`", README)
    restore_step = re.search(r"`(pg_restore [^`]+)`", README)
    assert dump_step is not None and restore_step is not None
    assert dump_step[1] == 'pg_dump --format=custom --file=tenantops.dump "$URL"'
    assert restore_step[1] == 'pg_restore --no-owner --dbname="$URL" tenantops.dump'
    source = postgres_server.create_database()
    with StateStore(source) as store:
        _fill(store)
        dump = tmp_path / "tenantops.dump"
        subprocess.run([str(postgres_server.bin / "pg_dump"), "--format=custom", f"--file={dump}", source],
                       check=True, capture_output=True, timeout=120)
    target = postgres_server.create_database()
    subprocess.run([str(postgres_server.bin / "pg_restore"), "--no-owner", f"--dbname={target}", str(dump)],
                   check=True, capture_output=True, timeout=120)
    try:
        _same_as_filled(target)
    finally:
        for url in (source, target):
            postgres_server.drop_database(url.rsplit("/", 1)[1])
