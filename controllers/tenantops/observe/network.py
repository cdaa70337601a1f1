"""Network egress per pooled tenant from the network-costs daemonset's counter, one request per pass.

OpenCost's network allocation reads `kubecost_pod_network_egress_bytes_total` (exported per pod by the
network-costs daemonset, labels `namespace`, `pod_name`, `internet`, `same_region`, `same_zone`) as its
increase over the allocation window, and prices three classes of it (OpenCost's own selectors):

    internet       internet="true"
    inter_region   internet="false", same_zone="false", same_region="false"
    inter_zone     internet="false", same_zone="false", same_region="true"

Same-zone traffic (same_zone="true") is free. Here the increase is read over the interval the cost
decider charges (`decide.cost.decider.charge_window`), summed by namespace and those three labels, and
each `tenant-<id>` namespace is matched back to its tenant exactly: a namespace that merely looks like a
tenant's (`tenant-acme-old`, `xtenant-acme`) counts to nobody. The query selects the namespaces by the
prefix every pooled tenant's namespace shares, escaped with `observe.promql`, so one request serves
every tenant whatever their number.

Counters are judged as the live reads judge readings: a pod whose increase is NaN, infinite, negative
or beyond `SaneLimits.egress_bytes_per_second`, or whose counter went below zero in the range, is left
out and counted as `untrusted` (the tenant's cost is then marked estimated); a reset (a restarted pod) is
Prometheus' `increase`'s to handle, and does. A pass shorter than `MIN_RANGE_SECONDS` reads the increase
over that range scaled to its own length, since a range holding fewer than two scrapes has no increase.

No series at all within the range means no daemonset runs: network is then *not measured*, which the
cost decider and the report say, rather than a measured $0. Silo tenants run on their own instances
outside the cluster the daemonset watches: their transfer is on the AWS bill under their tags
(`tenantops cost --reconcile`), not read here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Self

from prometheus_api_client import PrometheusConnect

from tenantops.config.catalog import Tenant
from tenantops.config.loader import Config
from tenantops.endpoints import unreachable
from tenantops.observe.facts import SaneLimits
from tenantops.observe.prom_client import PrometheusAccess, api_time, api_timeout, connect, describe_failure
from tenantops.observe.promql import escape_regex, quote
from tenantops.structs.network import NetworkEgress, TenantEgress, TransferClass

log = logging.getLogger(__name__)

EGRESS_METRIC = "kubecost_pod_network_egress_bytes_total"
MIN_RANGE_SECONDS = 120.0  # at least a few scrapes at the usual 15-60 s intervals
UNTRUSTED_LABEL = "untrusted"
PRESENT_LABEL = "present"
SANE = SaneLimits()


def transfer_class(labels: Mapping[str, Any]) -> TransferClass | None:
    """The priced class of a series by OpenCost's selectors; None for same-zone (free) or unlabelled."""
    internet, region, zone = (str(labels.get(k, "")) for k in ("internet", "same_region", "same_zone"))
    if internet == "true":
        return "internet"
    if internet == "false" and zone == "false":
        if region == "false":
            return "inter_region"
        if region == "true":
            return "inter_zone"
    return None


def pooled_namespaces(tenants: Sequence[Tenant]) -> dict[str, str]:
    """namespace -> tenant id for the tenants whose pods run in the shared cluster."""
    return {t.namespace: t.id for t in tenants if t.isolation == "pool"}


def _common_prefix(names: Sequence[str]) -> str:
    """The longest string every name starts with (character by character: namespaces are not paths)."""
    first, last = min(names, default=""), max(names, default="")
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def egress_query(namespaces: Sequence[str], range_seconds: float) -> str:
    """The one PromQL text of a pass: trusted increases summed by namespace and class, a count of the
    untrusted pods per namespace (labelled `untrusted="true"`), and a count of every series the daemonset
    exported in the range, any namespace (labelled `present="true"`, absent when it exported none)."""
    prefix = _common_prefix(namespaces)
    selector = f"{EGRESS_METRIC}{{namespace=~{quote(escape_regex(prefix) + '.*')}}}"
    window = f"[{max(1, round(range_seconds * 1000))}ms]"
    increase = f"increase({selector}{window})"
    trusted = f"(({increase} >= 0) and (min_over_time({selector}{window}) >= 0))"
    return (f"sum by (namespace, internet, same_region, same_zone) ({trusted})"
            f" or label_replace(count by (namespace) ({increase} unless {trusted}),"
            f" {quote(UNTRUSTED_LABEL)}, \"true\", \"\", \"\")"
            f" or label_replace(count(last_over_time({EGRESS_METRIC}{window})), {quote(PRESENT_LABEL)},"
            " \"true\", \"\", \"\")")


class NetworkSource:
    """Reads `NetworkEgress` over prometheus-api-client (its own HTTP session, as each source has)."""

    def __init__(self, url: str, *, timeout: float = 30.0, client: PrometheusConnect | None = None,
                 access: PrometheusAccess | None = None, limits: SaneLimits = SANE) -> None:
        self.url = url.rstrip("/")
        self.client = client if client is not None else connect(self.url, timeout, access)
        self.timeout = timeout
        self.limits = limits
        self.requests_sent = 0

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """At `TENANTOPS_PROMETHEUS_URL` with the authentication and TLS settings (`prom_client`)."""
        return cls(settings.prometheus_url, access=PrometheusAccess.from_settings(settings))

    def read(self, config: Config, end: datetime, seconds: float) -> NetworkEgress:
        """Each pooled tenant's egress over the `seconds` before `end` (Prometheus' clock). Never raises:
        a failed read is not measured, with the reason."""
        if end.tzinfo is None:
            raise ValueError("end must be timezone-aware")
        owners = pooled_namespaces(config.tenants)
        if not owners:
            return NetworkEgress.not_measured("no pooled tenant runs in the cluster", seconds)
        span = max(seconds, MIN_RANGE_SECONDS)
        try:
            result = self._query(egress_query(sorted(owners), span), end)
            if not result:  # not even the count of all its series: no daemonset exports any
                return NetworkEgress.not_measured(
                    f"no {EGRESS_METRIC} series (is the network-costs daemonset running?)", seconds)
        except Exception as exc:  # any failure: not measured this pass, and said why
            down = unreachable("TENANTOPS_PROMETHEUS_URL", self.url, exc)
            reason = f"the egress query failed: {down.reason if down is not None else describe_failure(exc)}"
            # An unreachable Prometheus is the metrics source's warning already; any other failure is this one's.
            (log.info if down is not None else log.warning)("network egress not read: %s", reason)
            return NetworkEgress.not_measured(reason, seconds, failed=True)
        return NetworkEgress(True, seconds, self._absorb(result, owners, seconds / span, span))

    def _absorb(self, result: Sequence[Mapping[str, Any]], owners: Mapping[str, str], scale: float,
                span: float) -> dict[str, TenantEgress]:
        found: dict[str, dict[TransferClass, float]] = {tid: {} for tid in owners.values()}
        untrusted = dict.fromkeys(owners.values(), 0)
        limit = self.limits.egress_bytes_per_second * span
        for series in result:
            try:
                labels = series["metric"]
                tenant = owners.get(str(labels.get("namespace", "")))
                value = float(series["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if tenant is None:
                continue  # a namespace of no catalogued pooled tenant
            if labels.get(UNTRUSTED_LABEL) == "true":
                untrusted[tenant] += round(value) if math.isfinite(value) else 1
                continue
            kind = transfer_class(labels)
            if kind is None:
                continue  # same zone: free
            if not (math.isfinite(value) and 0 <= value <= limit):  # a sum with an infinite or absurd counter
                untrusted[tenant] += 1
                continue
            found[tenant][kind] = found[tenant].get(kind, 0.0) + value * scale
        for tenant, count in untrusted.items():
            if count:
                log.warning("%s: %d egress counter(s) NaN, negative or implausible; their traffic is not charged",
                            tenant, count, extra={"event": "network.untrusted", "tenant": tenant})
        return {tid: TenantEgress(found[tid], untrusted[tid]) for tid in found}

    def _query(self, promql: str, end: datetime) -> list[dict[str, Any]]:
        self.requests_sent += 1
        result = self.client.custom_query(promql, params={"time": api_time(end),
                                                          "timeout": api_timeout(self.timeout)},
                                          timeout=self.timeout)
        if not isinstance(result, list):
            raise ValueError(f"unexpected response shape: {type(result).__name__}")
        return result
