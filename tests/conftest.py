"""Fixtures shared by the whole suite: real local servers, each on a free loopback port.

- `prometheus`: a factory, `prometheus(targets=(), series=None, start=True, **kwargs)`, so a test can
  backfill history (`series`, or `server.backfill(...)` with `start=False`) before the server starts.
  Every server made is stopped and its TSDB deleted after the test.
- `moto_server`: one moto server per session (it takes about a second to start), reset before each test;
  fake AWS credentials are set in the environment for the test.
- `smtp_server`: a fresh SMTP server per test, stopped afterwards.
- `kube_api`: a fresh Kubernetes API stand-in per test.
- `webhook_receiver`: an HTTP server recording every JSON POST; `alertmanager`: Debian's Alertmanager on a
  free port with temporary storage (its URL), both per test.
- `postgres_server`: one throwaway PostgreSQL per session (initdb into a temporary directory, a free
  loopback port); `postgres_url` a fresh database in it per test; `state_url` is parametrised over both
  state store backends (a SQLite file, then a PostgreSQL database), so one suite covers both.
- `traces_dir`: the recorded traces (`TENANTOPS_TRACES`, else the repository's `data/traces/`).

On pytest-xdist workers (`scripts/test.sh` runs two) the longest tests are started first, so that none of
them is left to run alone at the end: see `pytest_collection_modifyitems`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tenantops_lab.sandbox.moto_server import FAKE_CREDENTIALS, MotoServer
from tenantops_lab.sandbox.prometheus import PrometheusServer, SeriesLike
from tenantops_lab.sandbox.smtp import SmtpServer

REPO_ROOT = Path(__file__).resolve().parent.parent

PrometheusFactory = Callable[..., PrometheusServer]


def _expected_length(item: pytest.Item) -> tuple[float, int]:
    """Longest first: a test that raises its own timeout above the suite's takes minutes (the demo, the
    soak, the kill drill; 0 is no timeout at all), then the others marked `slow`, then the rest."""
    marker = item.get_closest_marker("timeout")
    value = None if marker is None else (marker.args[0] if marker.args else marker.kwargs.get("timeout"))
    timeout = 0.0 if value is None else math.inf if float(value) == 0 else float(value)
    return (-timeout, 0 if item.get_closest_marker("slow") is not None else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, order the collection longest first (a stable sort: otherwise as collected).

    Workers take the tests in collection order as they become free; a test of minutes collected late (the
    demo is in tests/lab) would start when the other worker has nothing left to do. Every worker sorts
    the same collection the same way, as xdist requires. A plain run keeps the collection order.
    """
    if hasattr(config, "workerinput"):
        items.sort(key=_expected_length)


@pytest.fixture
def prometheus() -> Iterator[PrometheusFactory]:
    made: list[PrometheusServer] = []

    def make(
        targets: Sequence[str] = (),
        *,
        series: Iterable[SeriesLike] | None = None,
        start: bool = True,
        **kwargs: Any,
    ) -> PrometheusServer:
        server = PrometheusServer(targets, **kwargs)
        made.append(server)
        if series is not None:
            server.backfill(series)
        if start:
            server.start()
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture(scope="session")
def _moto_session() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto_server(_moto_session: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    _moto_session.reset()
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", _moto_session.region)
    return _moto_session


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(eml_dir=tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def kube_api() -> Iterator[Any]:
    from tenantops_lab.sandbox.kube_api import KubeApiServer

    with KubeApiServer() as server:
        yield server


@pytest.fixture
def webhook_receiver() -> Iterator[Any]:
    from tenantops_lab.sandbox.alert_receivers import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager() -> Iterator[str]:
    from tenantops_lab.sandbox.alert_receivers import AlertmanagerServer

    with AlertmanagerServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    configured = os.environ.get("TENANTOPS_TRACES")
    path = Path(configured) if configured else REPO_ROOT / "data" / "traces"
    assert path.is_dir(), f"recorded traces not found at {path}: the repository carries them in data/traces"
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    from tenantops_lab.sandbox.postgres import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    url: str = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state store's URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
