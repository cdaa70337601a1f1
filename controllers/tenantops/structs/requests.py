"""Request patches: the right-sizing effect of a plan, applied by the requests actuator (`act.requests`).

A patch carries the decider state that applying it implies (`state_key`, `on_applied`): the engine
commits that state only when the actuator's outcome says the requests are in effect, so a refused or
failed patch is audited with its reason instead of being remembered as done (the recommend/apply split
of the Kubernetes VPA's recommender and updater). What its failure implies (`on_failed`: for
right-sizing, the retry backoff, so the patch is proposed again only at `retry_at`) is committed from
any other outcome of a pass that tried it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestPatch:
    """Set a Deployment's per-pod requests. Values are Kubernetes quantities; absent resources are kept."""

    tenant: str
    workload: str
    namespace: str
    deployment: str
    requests: Mapping[str, str]
    reason: str
    # Where a request would exceed its container's limit: raise the limit by the same factor (True), or
    # keep the limit and cap the request at it (False). The API server refuses requests above limits.
    raise_limits: bool = True
    # Per container, where the history had per-container usage: their requests (summing to `requests`).
    # Empty: the actuator shares `requests` out in proportion to the containers' current requests.
    containers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    state_key: str = ""  # the deciding concern's state key that applying this patch updates
    on_applied: Any = None  # its new value (JSON), committed only once the outcome is applied
    concern: str = ""  # whose state `state_key` is: set by the engine from the decider that asked
    # The namespace's per-container maximum (its LimitRange `max`, from the tenant's tier) per resource:
    # the API server refuses a pod whose container asks, or is limited, above it.
    ceilings: Mapping[str, str] = field(default_factory=dict)
    # The key's value once the outcome says the requests are not in effect (JSON; None: the key is kept as it
    # is), and when the deciding concern will propose the patch again then (ISO time; "": the next pass).
    # Neither is recorded in the patch's intent: a patch read back as not made after a restart was cut
    # short, not refused, and is proposed again at once.
    on_failed: Any = None
    retry_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant, "workload": self.workload, "namespace": self.namespace,
            "deployment": self.deployment, "requests": dict(self.requests), "reason": self.reason,
            "raise_limits": self.raise_limits,
            "containers": {name: dict(reqs) for name, reqs in self.containers.items()},
            "ceilings": dict(self.ceilings),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RequestPatch:
        return RequestPatch(
            str(data["tenant"]), str(data["workload"]), str(data["namespace"]), str(data["deployment"]),
            {str(k): str(v) for k, v in dict(data["requests"]).items()}, str(data.get("reason", "")),
            bool(data.get("raise_limits", True)),
            {str(n): {str(k): str(v) for k, v in dict(r).items()}
             for n, r in dict(data.get("containers") or {}).items()},
            ceilings={str(k): str(v) for k, v in dict(data.get("ceilings") or {}).items()},
        )
