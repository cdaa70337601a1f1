"""The monitoring component's alerts, run by promtool on recorded series: each fires on the failure it is
named for, stays quiet on a healthy controller, and asks only for metrics the controller exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.registry import CollectorRegistry

from tenantops.record.metrics import ControllerMetrics

ROOT = Path(__file__).resolve().parents[2]
RULE = ROOT / "deploy" / "components" / "monitoring" / "prometheusrule.yaml"
JOB = 'job="tenantops-controller"'


def rules() -> list[dict]:
    document = yaml.safe_load(RULE.read_text())
    return document["spec"]["groups"]


def promtool_test(tmp_path: Path, input_series: list[dict], alert_tests: list[dict]) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rules()}))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input_series, "alert_rule_test": alert_tests}]}))
    return subprocess.run(["promtool", "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True)


HEALTHY = [
    {"series": f'up{{{JOB}, namespace="tenantops", pod="a"}}', "values": "1x40"},
    {"series": f'up{{{JOB}, namespace="tenantops", pod="b"}}', "values": "1x40"},
    {"series": f'tenantops_leader{{{JOB}, pod="a"}}', "values": "1x40"},
    {"series": f'tenantops_leader{{{JOB}, pod="b"}}', "values": "0x40"},
    {"series": f'tenantops_last_pass_success_timestamp_seconds{{{JOB}, pod="a"}}', "values": "0+60x40"},
    {"series": f'tenantops_queries_total{{{JOB}, pod="a"}}', "values": "0+60x40"},
    {"series": f'tenantops_query_errors_total{{{JOB}, pod="a"}}', "values": "0x40"},
    {"series": f'tenantops_config_reload_failures_total{{{JOB}, pod="a"}}', "values": "0x40"},
]
ALERTS = ["TenantopsControllerDown", "TenantopsNoLeader", "TenantopsPassesStalled", "TenantopsQueriesFailing",
          "TenantopsConfigReloadRejected", "TenantopsOutboxStuck"]


def replaced(series: list[dict], name: str, values: str) -> list[dict]:
    return [{**s, "values": values} if s["series"].startswith(name + "{") and 'pod="a"' in s["series"] else s
            for s in series]


def test_a_healthy_controller_raises_nothing(tmp_path: Path) -> None:
    assert {r["alert"] for g in rules() for r in g["rules"]} == set(ALERTS)
    result = promtool_test(tmp_path, HEALTHY, [{"eval_time": "35m", "alertname": a, "exp_alerts": []}
                                                for a in ALERTS])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("alert", "series", "labels"), [
    ("TenantopsControllerDown", [s for s in HEALTHY if not s["series"].startswith("up{")], {"severity": "critical"}),
    ("TenantopsControllerDown", [{**s, "values": "0x40"} if s["series"].startswith("up{") else s for s in HEALTHY],
     {"severity": "critical"}),
    ("TenantopsNoLeader", replaced(HEALTHY, "tenantops_leader", "0x40"), {"severity": "critical"}),
    ("TenantopsPassesStalled", replaced(HEALTHY, "tenantops_last_pass_success_timestamp_seconds", "0x40"),
     {"severity": "warning"}),
    ("TenantopsQueriesFailing", replaced(HEALTHY, "tenantops_query_errors_total", "0+60x40"),
     {"severity": "warning"}),
    ("TenantopsConfigReloadRejected", replaced(HEALTHY, "tenantops_config_reload_failures_total", "0x30 1x10"),
     {"severity": "warning", "job": "tenantops-controller", "pod": "a"}),
    ("TenantopsOutboxStuck", [*HEALTHY, {"series": f'tenantops_outbox_oldest_pending_timestamp_seconds{{{JOB}}}',
                                         "values": "0x40"}], {"severity": "warning"}),
])
def test_each_alert_fires_on_its_failure(tmp_path: Path, alert: str, series: list[dict], labels: dict) -> None:
    [rule] = [r for g in rules() for r in g["rules"] if r["alert"] == alert]
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    tests = [{"eval_time": "38m", "alertname": alert,
              "exp_alerts": [{"exp_labels": labels, "exp_annotations": rule["annotations"]}]}]
    tests += [{"eval_time": "38m", "alertname": other, "exp_alerts": []} for other in ALERTS
              if other != alert and not (alert == "TenantopsControllerDown" and other == "TenantopsNoLeader")]
    result = promtool_test(tmp_path, series, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_ask_only_for_metrics_the_controller_exports() -> None:
    exported = {sample.name for family in ControllerMetrics(CollectorRegistry()).registry.collect()
                for sample in family.samples}
    sources = "\n".join(p.read_text() for p in (ROOT / "controllers" / "tenantops").rglob("*.py"))
    named = {m for g in rules() for r in g["rules"] for m in re.findall(r"\btenantops_[a-z_]+", r["expr"])}
    assert named
    for metric in named:
        assert metric in exported or f'"{metric}"' in sources, metric
