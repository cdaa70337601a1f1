"""Throwaway servers die with the process that started them, even when it is SIGKILLed (no teardown runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from tenantops_lab.sandbox.lifetime import bound_to_parent
from tenantops_lab.sandbox.ports import is_listening

pytestmark = pytest.mark.integration

STARTER = r"""
import json, time
from tenantops_lab.sandbox.alert_receivers import AlertmanagerServer
from tenantops_lab.sandbox.postgres import PostgresServer
from tenantops_lab.sandbox.prometheus import PrometheusServer
pg = PostgresServer().start()
prom = PrometheusServer([]).start()
am = AlertmanagerServer().start()
print(json.dumps({"postgres": pg.port, "prometheus": prom.port, "alertmanager": int(am.url.rsplit(":", 1)[1])}),
      flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_servers_of_a_killed_process_stop_with_it() -> None:
    proc = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ports: dict[str, int] = json.loads(proc.stdout.readline())
        assert all(is_listening(port) for port in ports.values()), ports
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(is_listening(port) for port in ports.values()):
        time.sleep(0.1)
    assert {name: is_listening(port) for name, port in ports.items()} == dict.fromkeys(ports, False)


def test_only_the_main_thread_binds_a_server_to_its_life() -> None:
    """The kernel signals when the starting *thread* ends: a server started from a worker thread would die
    with that thread, so it is started unbound there."""
    command = ["prometheus", "--version"]
    found: list[list[str]] = []
    worker = threading.Thread(target=lambda: found.append(bound_to_parent(command)))
    worker.start()
    worker.join()
    assert found == [command]
    main = bound_to_parent(command, "INT")
    if sys.platform.startswith("linux") and main != command:
        assert main[-3:] == ["--", *command] and main[1:3] == ["--pdeathsig", "INT"]
