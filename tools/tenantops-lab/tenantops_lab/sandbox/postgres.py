"""A throwaway PostgreSQL server (Debian's binaries) in a temporary directory on a free loopback port.

For tests, benchmarks and the failover drill: `initdb` into a fresh directory, the postmaster started with the
socket in that directory and TCP on 127.0.0.1 only, one database per `create_database`. The machine's
own PostgreSQL service (if any) is never started, stopped or touched. PostgreSQL refuses to run as
root; as root the server runs as the `postgres` system user, which owns the temporary directory.

`stop()`/`start()` keep the data (database down, then back); `read_only(True)` makes every new and
existing session read-only (the state of a standby or a full disk as the controller sees it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tenantops_lab.sandbox.lifetime import bound_to_parent
from tenantops_lab.sandbox.ports import LOOPBACK, free_port, is_listening

SUPERUSER = "tenantops"


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, else wherever initdb is on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise FileNotFoundError("PostgreSQL's initdb was not found: scripts/setup.sh installs Debian's postgresql")


class PostgresServer:
    def __init__(self, *, port: int | None = None) -> None:
        self.bin = find_bin_dir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tenantops-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8")
        self._databases = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / tool), *args], user=self._user, capture_output=True, text=True,
                              check=check, timeout=120, cwd=self.root)

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        auth = SUPERUSER if password is None else f"{SUPERUSER}:{password}"
        return f"postgresql://{auth}@{LOOPBACK}:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """Start the postmaster as this process's own child (not daemonised by `pg_ctl start`), bound to it
        (`lifetime.bound_to_parent`: SIGINT, a fast shutdown, if this process dies without stopping it), and
        wait until it accepts connections, as `pg_ctl -w` does."""
        # fsync off: a throwaway server need not survive a machine crash. synchronous_commit stays on, so a
        # commit is written before it returns and survives the server being killed (the fault suite stops it
        # with `immediate` right after a commit; with it off, a loaded machine lost the schema just made).
        command = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
                   "-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off", "-c", "full_page_writes=off",
                   "-c", "max_connections=60"]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(bound_to_parent(command, "INT"), user=self._user, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root)
        deadline = time.monotonic() + timeout
        while not self._accepting():
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop("immediate")
                raise RuntimeError(f"postgres did not accept connections within {timeout:g}s: {self._log_tail()}")
            time.sleep(0.05)
        return self

    def _accepting(self) -> bool:
        if not is_listening(self.port):
            return False
        import psycopg

        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
        except psycopg.OperationalError:  # "the database system is starting up"
            return False
        return True

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate` is a crash: no checkpoint, recovery at the next start)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=60)  # reap it: our child, not pg_ctl's
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    @property
    def running(self) -> bool:
        return is_listening(self.port)

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql.encode())
            return list(cur.fetchall()) if cur.description else []

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        self._databases += 1
        name = name or f"tenantops_{self._databases}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                     "AND pid <> pg_backend_pid()")
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def read_only(self, on: bool, database: str) -> None:
        """Every session of `database` read-only (existing ones are ended so the change reaches them)."""
        self.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = {"on" if on else "off"}')
        self.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
                     "AND pid <> pg_backend_pid()")
        # pg_terminate_backend only signals: wait until those sessions are gone, or a pooled connection that
        # still answers a ping may die under the next statement.
        others = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.execute(others)[0][0]:
            time.sleep(0.05)

    def close(self) -> None:
        self.stop("immediate")
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
