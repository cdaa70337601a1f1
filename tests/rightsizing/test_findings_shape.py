"""The JSON of right-sizing findings keeps the shape `tenantops rightsize --json` has always printed.

The findings are typed values now; JSON is made only at the edge, by their codec. These are the keys (and
the kinds of value) a script reading `rightsize --json` or a `report --savings` file relies on, pinned.
"""

from __future__ import annotations

import json
from typing import Any

from tenantops.config import Config
from tenantops.decide.rightsizing import RightsizingDecider, make_decider
from tenantops.structs.rightsizing_findings import RightsizingFindings

from .test_decider import NOW, _history, _pass, config  # noqa: F401  (the fixture)

RESOURCE = {"confidence": "float", "current": "float", "history_hours": "float", "lower": "float", "reason": "str",
            "recommended": "float", "schedule": "NoneType", "target": "float", "upper": "float"}
CONTAINER_QUANTITIES = {"cpu": "str", "memory": "str"}
STATUS = {
    "conditions": [{"lastTransitionTime": "str", "status": "str", "type": "str"}],
    "recommendation": {"containerRecommendations": [{
        "containerName": "str", "lowerBound": CONTAINER_QUANTITIES, "target": CONTAINER_QUANTITIES,
        "uncappedTarget": CONTAINER_QUANTITIES, "upperBound": CONTAINER_QUANTITIES}]},
}
POOL_ROW = {
    "applied": {"cpu": "str", "memory": "str"}, "confidence": "float", "cpu": RESOURCE, "current_month": "float",
    "isolation": "str", "memory": RESOURCE, "mode": "str", "policy": "str", "recommended_month": "float",
    "replicas": "float", "saving_month": "float", "status": STATUS, "tenant": "str", "workload": "str",
}
SILO_ROW = {**POOL_ROW, "instance": {
    "change": {"apply": "str", "from": "str", "name": "str", "property": "str", "resource": "str", "to": "str"},
    "current": "str", "current_month": "float", "reason": "str", "recommended": "str", "recommended_month": "float",
    "risk": "int", "risk_label": "str", "saving_month": "float"}}
# `ceilings` (the namespace's per-container maximum the patch is held to) was added; nothing was removed.
PATCH = {"ceilings": {"cpu": "str", "memory": "str"},
         "containers": {}, "deployment": "str", "namespace": "str", "raise_limits": "bool", "reason": "str",
         "requests": {"cpu": "str", "memory": "str"}, "tenant": "str", "workload": "str"}


def shape(value: Any) -> Any:
    """Keys and kinds of value, recursively (a list by its first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def _json(findings: object) -> dict[str, Any]:
    assert isinstance(findings, RightsizingFindings)
    decoded: dict[str, Any] = json.loads(json.dumps(findings.to_json(), sort_keys=True))
    return decoded


def test_rightsize_json_shape_is_unchanged(config: Config) -> None:  # noqa: F811
    out = _json(RightsizingDecider(_history()).decide(_pass(config), {}).findings)
    assert sorted(out) == ["currency", "history", "patches", "recommendations", "saving_month"]
    assert shape(out["history"]) == {"end": "str", "errors": [], "start": "str"}
    assert isinstance(out["saving_month"], float) and out["currency"] == "USD"
    assert [shape(p) for p in out["patches"]] == [PATCH]
    rows = {r["tenant"]: r for r in out["recommendations"]}
    assert shape(rows["shop"]) == POOL_ROW and shape(rows["media"]) == POOL_ROW
    assert shape(rows["bank"]) == SILO_ROW


def test_without_history_the_json_is_the_status_alone(config: Config) -> None:  # noqa: F811
    assert _json(make_decider().decide(_pass(config), {}).findings) == {
        "status": "no usage history: recommendations need range queries"}


def test_audit_rows_keep_their_inputs(config: Config) -> None:  # noqa: F811
    out = RightsizingDecider(_history()).decide(_pass(config), {})
    (shop,) = [d for d in out.decisions if d.tenant == "shop"]
    assert sorted(shop.inputs) == ["applied", "confidence", "mode", "replicas"]
    assert shape(dict(shop.inputs["confidence"])) == {"cpu": "float", "memory": "float"}
    assert shape(dict(shop.inputs["applied"])) == {"cpu": "str", "memory": "str"}
    assert sorted(shop.old) == sorted(shop.new) == ["cpu", "memory"]


def test_a_workload_without_samples_says_so_in_the_vpa_condition(config: Config) -> None:  # noqa: F811
    history = _history()
    history = type(history)(history.start, history.end, {k: v for k, v in history.series.items() if k[0] != "media"},
                            replicas=dict(history.replicas))
    out = _json(RightsizingDecider(history).decide(_pass(config), {}).findings)
    (media,) = [r for r in out["recommendations"] if r["tenant"] == "media"]
    assert media["status"] == {"recommendation": None, "conditions": [{
        "type": "RecommendationProvided", "status": "False", "lastTransitionTime": NOW.isoformat(),
        "reason": "NoUsageSamples", "message": "no usage samples in the lookback"}]}
    assert media["cpu"]["recommended"] is None and media["saving_month"] is None
    assert "current_month" not in media and "recommended_month" not in media
