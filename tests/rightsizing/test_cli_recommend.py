"""`tenantops rightsize [--tenant X] [--json]` end to end over a real Prometheus, and `--apply` on the stand-in."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenantops.cli.main import main

from .test_integration import CATALOG, MI, _pod_series

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str]) -> int:
    try:
        main(["rightsize", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_lists_current_vs_recommended_and_applies_within_guardrails(
    prometheus, kube_api, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    end = float(int(time.time()) // 60 * 60) - 120
    start = end - 30 * 3600
    series = [
        *_pod_series("shop", "api-5d8f7c9b4-abcde", start, end, 0.2, 300 * MI),
        *_pod_series("media", "api-7c6d5b4a3-klmno", start, end, 0.1, 200 * MI),
    ]
    server = prometheus(series=series)
    kube_api.add_deployment("tenant-shop", "api", cpu="1", memory="1Gi")
    at = datetime.fromtimestamp(end, UTC).isoformat()
    common = ["--catalog", str(catalog), "--policies", str(REPO / "policies"), "--prometheus-url", server.url,
              "--at", at]
    assert _run([*common, "--tenant", "media", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(listed) == ["currency", "history", "patches", "recommendations", "saving_month"]
    rows = listed["recommendations"]
    assert [(r["tenant"], r["workload"]) for r in rows] == [("media", "api")]
    assert rows[0]["cpu"]["current"] == 0.5  # the catalogue's default request
    # Steady usage: the usage itself plus the policy's 10% raise-fast margin (policies/rightsizing.yaml).
    assert rows[0]["cpu"]["recommended"] == pytest.approx(0.1 * 1.1, rel=0.05)
    assert rows[0]["saving_month"] > 0 and listed["currency"] == "USD"

    assert _run([*common, "--tenant", "shop"]) == 0
    text = capsys.readouterr().out
    assert "shop/api" in text and "total monthly saving" in text
    assert kube_api.writes() == []  # listing never writes

    state = tmp_path / "state.db"
    applying = [arg for arg in common if arg not in ("--at", at)]  # a patch is applied now
    assert _run([*applying, "--tenant", "shop", "--apply", "--kube-url", kube_api.url, "--state", str(state),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed) == ["applied", "currency", "history", "patches", "recommendations", "saving_month"]
    applied = printed["applied"]
    assert applied == [{"tenant": "shop", "workload": "api", "status": "applied", "detail": applied[0]["detail"]}]
    containers = kube_api.deployment("tenant-shop", "api")["spec"]["template"]["spec"]["containers"]
    assert containers[0]["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}  # 50% step cap
    # The interval is remembered in the state store: a second run right away changes nothing.
    assert _run([*applying, "--tenant", "shop", "--apply", "--kube-url", kube_api.url, "--state", str(state),
                 "--json"]) == 0
    assert "applied" not in json.loads(capsys.readouterr().out)


def test_apply_as_of_another_time_is_refused(
    prometheus, kube_api, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    """A patch is applied now. `--apply --at T` applied as of T and stored T as the change time: with a T a
    day back the next run was allowed to change the request again at once, and a T a day ahead both passed
    the minimum interval since the last change and held the next one off for two days."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    end = float(int(time.time()) // 60 * 60) - 120
    server = prometheus(series=_pod_series("shop", "api-5d8f7c9b4-abcde", end - 30 * 3600, end, 0.2, 300 * MI))
    kube_api.add_deployment("tenant-shop", "api", cpu="1", memory="1Gi")
    state = tmp_path / "state.db"
    for at in (end - 86400, end + 86400):
        code = _run(["--catalog", str(catalog), "--policies", str(REPO / "policies"), "--prometheus-url",
                     server.url, "--at", datetime.fromtimestamp(at, UTC).isoformat(), "--tenant", "shop",
                     "--apply", "--kube-url", kube_api.url, "--state", str(state)])
        assert code == 2
        assert "--at is for listing: --apply applies as of now" in capsys.readouterr().err
    assert kube_api.writes() == [] and not state.exists()


def test_unknown_tenant_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    assert _run(["--catalog", str(catalog), "--policies", str(REPO / "policies"), "--tenant", "nobody"]) == 2
    assert "unknown tenant(s): nobody" in capsys.readouterr().err


def test_apply_exits_1_when_a_patch_was_not_applied(
    prometheus, kube_api, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    """`reconcile --once` exits 1 when anything in its pass failed; `rightsize --apply` printed the failed
    patch and exited 0, so a script or a CI job took a refused patch for a change made."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    end = float(int(time.time()) // 60 * 60) - 120
    server = prometheus(series=_pod_series("shop", "api-5d8f7c9b4-abcde", end - 30 * 3600, end, 0.2, 300 * MI))
    kube_api.add_namespace("tenant-shop")  # but no Deployment: the patch fails (404)
    state = tmp_path / "state.db"
    args = ["--catalog", str(catalog), "--policies", str(REPO / "policies"), "--prometheus-url", server.url,
            "--tenant", "shop", "--apply", "--kube-url", kube_api.url, "--state", str(state), "--json"]
    assert _run(args) == 1
    captured = capsys.readouterr()
    [applied] = json.loads(captured.out)["applied"]  # what was tried is still printed
    assert (applied["tenant"], applied["status"]) == ("shop", "failed")
    assert "1 of 1 request patch(es) not applied: shop/api: failed Deployment not found" in captured.err
