"""RightsizingDecider over hand-built histories: findings, audit, apply-mode patches and their guardrails."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from tenantops.config import Config, load_config
from tenantops.config.kinds.common import parse_quantity
from tenantops.decide.base import DeciderOutput, PassInput, confirm_applied
from tenantops.decide.rightsizing import RightsizingDecider, make_decider
from tenantops.structs.replicas import REPORTED
from tenantops.structs.rightsizing_findings import RightsizingFindings, WorkloadRecommendation
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics
from tenantops.structs.usage import OomKill, Series, UsageHistory

from .helpers import times

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MI = 2.0**20

CATALOG = """\
environment: test
tenants:
  - id: shop
    tier: free
    isolation: pool
    region: us-east-1
    budget_usd_month: 100
    contacts: [ops@shop.example]
    workloads:
      - {name: api, min_replicas: 1, max_replicas: 4, cpu_request: "1", memory_request: 1Gi}
  - id: media
    tier: pro
    isolation: pool
    region: us-east-1
    budget_usd_month: 500
    contacts: [ops@media.example]
    workloads:
      - {name: api, min_replicas: 1, max_replicas: 4, cpu_request: "1", memory_request: 1Gi}
  - id: bank
    tier: enterprise
    isolation: silo
    region: us-east-1
    budget_usd_month: 5000
    contacts: [ops@bank.example]
    workloads:
      - {name: core, min_replicas: 2, max_replicas: 4, cpu_request: "2", memory_request: 8Gi,
         instance_type: m6i.xlarge}
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return load_config(path, REPO / "policies")


def _history(cpu: float = 0.2, memory: float = 300 * MI, days: float = 7, ooms: tuple[OomKill, ...] = ()) -> (
    UsageHistory
):
    t = times(days, end=NOW.timestamp())
    rng = np.random.default_rng(5)
    series = {}
    for tenant, workload in (("shop", "api"), ("media", "api"), ("bank", "core")):
        series[(tenant, workload, "cpu")] = Series(t, cpu * rng.uniform(0.9, 1.0, t.size))
        series[(tenant, workload, "memory")] = Series(t, memory * rng.uniform(0.95, 1.0, t.size))
    return UsageHistory(
        NOW - timedelta(days=days), NOW, series,
        ooms={("shop", "api"): ooms} if ooms else {},
        replicas={("shop", "api"): 2.0, ("media", "api"): 3.0, ("bank", "core"): 2.0},
    )


def _pass(config: Config, *, dry_run: bool = False, now: datetime = NOW) -> PassInput:
    return PassInput(Snapshot(at=now, workloads={}), config, now, dry_run)


def _findings(out: DeciderOutput) -> RightsizingFindings:
    assert isinstance(out.findings, RightsizingFindings)
    return out.findings


def _row(out: DeciderOutput, tenant: str) -> WorkloadRecommendation:
    return next(r for r in _findings(out).recommendations if r.tenant == tenant)


def test_without_history_it_says_so_and_does_nothing(config: Config) -> None:
    decider = make_decider()
    assert decider.name == "rightsizing"
    out = decider.decide(_pass(config), {})
    assert not out.decisions and not out.state and "no usage history" in _findings(out).status


def test_recommendations_audit_and_savings_in_money(config: Config) -> None:
    out = RightsizingDecider(_history()).decide(_pass(config), {})
    media = _row(out, "media")
    assert media.mode == "recommend" and media.cpu.current == 1.0
    assert media.cpu.recommended == pytest.approx(0.2 * 1.1, rel=0.05)  # + the policy's 10% margin
    # 0.8 cores and ~700 MiB less per pod, 3 replicas, us-east-1 prices (0.0316/core-h, 0.0042/GiB-h).
    expected = (0.8 * 0.0316 + (1024 - 300) / 1024 * 0.0042) * 3 * 730
    assert media.saving_month == pytest.approx(expected, rel=0.05)
    total = sum(r.saving_month or 0.0 for r in _findings(out).recommendations)
    assert _findings(out).saving_month == pytest.approx(total, abs=0.05)
    audit = [d for d in out.decisions if d.tenant == "media"]
    assert len(audit) == 1 and audit[0].kind == "rightsize" and audit[0].rule == "rightsizing/standard"
    assert "saves" in audit[0].reason and audit[0].old["cpu"] == 1.0
    # Recommend mode writes nothing: the only patch is the apply-mode (free tier) tenant's.
    assert [p.tenant for p in _findings(out).patches] == ["shop"] and "media/api" not in out.state
    assert _findings(out).patches == out.patches  # the findings list the plan's patches, the same values


def test_current_requests_come_from_kube_state_metrics_when_present(config: Config) -> None:
    snap = Snapshot(at=NOW, workloads={("media", "api"): WorkloadMetrics("media", "api", {
        "cpu_request": Reading(1.5), "memory_request": Reading(3 * 512 * MI)})})
    out = RightsizingDecider(_history()).decide(PassInput(snap, config, NOW), {})
    media = _row(out, "media")
    assert media.cpu.current == pytest.approx(0.5)  # 1.5 cores over 3 replicas
    assert media.memory.current == pytest.approx(512 * MI)


def _scaled_up(tenant: str, scraped: int, live: int, per_pod_cpu: float = 1.0) -> Snapshot:
    """A snapshot just after a scale-up: the scrape summed `scraped` pods' requests and counted them
    (`replicas_reported`); the live count taken at the pass is already `live`."""
    return Snapshot(at=NOW, workloads={(tenant, "api"): WorkloadMetrics(tenant, "api", {
        "cpu_request": Reading(per_pod_cpu * scraped), "memory_request": Reading(scraped * 1024 * MI),
        REPORTED: Reading(float(scraped)), "replicas": Reading(float(live))})})


@pytest.mark.parametrize(("scraped", "live"), [(10, 20), (10, 10), (10, 5), (1, 4)])
def test_current_request_is_the_scrape_total_over_the_replicas_of_that_scrape(
        config: Config, scraped: int, live: int) -> None:
    # The history's mean is 3 replicas (`_history`) and the live count differs too: neither is what the
    # scrape summed, so neither may divide its total.
    out = RightsizingDecider(_history()).decide(PassInput(_scaled_up("media", scraped, live), config, NOW), {})
    media = _row(out, "media")
    assert media.cpu.current == pytest.approx(1.0)
    assert media.memory.current == pytest.approx(1024 * MI)
    assert media.replicas == 3.0  # the cost is still priced at the history's mean replicas


def test_without_the_scrape_count_the_snapshot_count_divides_before_the_history_mean(config: Config) -> None:
    snap = Snapshot(at=NOW, workloads={("media", "api"): WorkloadMetrics("media", "api", {
        "cpu_request": Reading(8.0), "replicas": Reading(8.0)})})
    out = RightsizingDecider(_history()).decide(PassInput(snap, config, NOW), {})
    assert _row(out, "media").cpu.current == pytest.approx(1.0)


def test_a_scale_up_does_not_turn_a_step_down_into_a_raise(config: Config) -> None:
    # shop (aggressive, apply) uses a fifth of its 1-core request. Right after going from its mean of 2 to
    # 10 replicas, its request must still read as 1 core, and the capped step go down to 500m from there.
    out = RightsizingDecider(_history()).decide(PassInput(_scaled_up("shop", 10, 12), config, NOW), {})
    assert _row(out, "shop").cpu.current == pytest.approx(1.0)
    assert [p.requests["cpu"] for p in out.patches if p.tenant == "shop"] == ["500m"]


def test_apply_mode_patches_pool_workloads_within_the_step_cap(config: Config) -> None:
    out = RightsizingDecider(_history()).decide(_pass(config), {})
    patches = list(out.patches)
    assert [(p.tenant, p.namespace, p.deployment) for p in patches] == [("shop", "tenant-shop", "api")]
    # aggressive: max 50% per step, so 1 core -> 500m and 1Gi -> 512Mi, not straight to the target.
    assert patches[0].requests == {"cpu": "500m", "memory": "512Mi"}
    # The state it implies rides on the patch: the engine commits it only once the patch is applied.
    assert not out.state and out.patches[0].state_key == "shop/api"
    assert out.patches[0].on_applied["cpu"]["value"] == pytest.approx(0.5)
    assert _row(out, "bank").applied["cpu"] == "recommend mode"  # enterprise: conservative, recommend only


def test_min_interval_holds_across_passes_and_dry_run_keeps_state(config: Config) -> None:
    decider = RightsizingDecider(_history())
    first = decider.decide(_pass(config), {})
    state = {p.state_key: p.on_applied for p in first.patches}  # what the engine commits once applied
    soon = decider.decide(_pass(config, now=NOW + timedelta(hours=2)), state)
    assert not soon.patches and not _findings(soon).patches
    assert "next change allowed" in _row(soon, "shop").applied["cpu"]
    dry = decider.decide(_pass(config, dry_run=True), {})
    assert _findings(dry).patches and not dry.state


def test_a_patch_not_applied_is_proposed_again_after_a_doubling_backoff_and_success_resets_it(
    config: Config,
) -> None:
    """A patch the API did not take was proposed again on every pass: sent, audited and recorded as a
    Kubernetes Event every 30 s. The free tier's policy (aggressive) has the default retry: 5 min after the
    first failure, doubling up to 6 h."""
    decider = RightsizingDecider(_history())
    state: dict[str, object] = {}
    now = NOW
    waits = []
    for failures in range(1, 9):
        [patch] = decider.decide(_pass(config, now=now), state).patches
        state = {patch.state_key: confirm_applied(patch, None, now, state.get(patch.state_key))}  # not made
        assert state["shop/api"]["retry"] == {"failures": failures, "at": now.isoformat()}
        wait = datetime.fromisoformat(patch.retry_at) - now
        waits.append(wait)
        held = decider.decide(_pass(config, now=now + wait - timedelta(seconds=30)), state)
        assert not held.patches and not _findings(held).patches
        reason = _row(held, "shop").applied["cpu"]
        assert reason == (f"last patch not applied at {now.isoformat()} ({failures} in a row); next try at "
                          f"{patch.retry_at}")
        now += wait
    assert waits == [timedelta(minutes=m) for m in (5, 10, 20, 40, 80, 160, 320, 360)]
    [patch] = decider.decide(_pass(config, now=now), state).patches
    applied = confirm_applied(patch, patch, now, state["shop/api"])
    assert "retry" not in applied and applied["cpu"]["at"] == now.isoformat()
    # The streak is over: the next patch, past the interval, is proposed, and a failure of it waits 5 min again.
    later = now + timedelta(hours=25)
    [again] = decider.decide(_pass(config, now=later), {"shop/api": applied}).patches
    assert confirm_applied(again, None, later, applied)["retry"] == {"failures": 1, "at": later.isoformat()}
    assert datetime.fromisoformat(again.retry_at) - later == timedelta(minutes=5)


def test_oom_kill_raises_memory_at_once(config: Config) -> None:
    kill = OomKill(NOW.timestamp() - 3600, 1400 * MI)
    decider = RightsizingDecider(_history(ooms=(kill,)))
    state = {"shop/api": {"memory": {"at": (NOW - timedelta(hours=1)).isoformat(), "value": 1024 * MI}}}
    out = decider.decide(_pass(config), state)
    shop = _row(out, "shop")
    assert (shop.memory.target or 0.0) >= 1400 * MI * 1.2
    patch = out.patches[0]
    assert patch.requests["memory"] == "1536Mi"  # urgent: past the interval, still capped at +50%
    assert "OOM" in patch.reason


def test_silo_tenant_gets_an_instance_type_with_saving_and_risk(config: Config) -> None:
    out = RightsizingDecider(_history(cpu=0.3, memory=1024 * MI)).decide(_pass(config), {})
    instance = _row(out, "bank").instance
    assert instance is not None and instance.change is not None
    assert instance.current == "m6i.xlarge" and instance.recommended == "t3.medium"
    assert instance.saving_month == pytest.approx((0.192 - 0.0416) * 2 * 730, abs=0.01)
    assert instance.risk_label in ("very low", "low")
    # The change itself, for `pulumi up`: the workload's launch template's instance type.
    change = instance.change.to_json()  # as `rightsize --json` shows it
    assert change["resource"] == "aws:ec2/launchTemplate:LaunchTemplate"
    assert change["name"] == "tenantops-test-bank-core" and change["property"] == "instanceType"
    assert (change["from"], change["to"]) == ("m6i.xlarge", "t3.medium")
    assert "pulumi up" in change["apply"]
    assert _row(out, "media").instance is None and "instance" not in _row(out, "media").to_json()


def test_each_row_carries_a_vpa_recommendation_status(config: Config) -> None:
    out = RightsizingDecider(_history(cpu=0.2, memory=300 * MI)).decide(_pass(config), {})
    row = _row(out, "media")
    status = row.status.to_json()  # as `rightsize --json` and `kubectl get vpa -o yaml` show it
    (container,) = status["recommendation"]["containerRecommendations"]
    assert container["containerName"] == "api"
    assert set(container) == {"containerName", "target", "lowerBound", "upperBound", "uncappedTarget"}
    for key in ("target", "lowerBound", "upperBound", "uncappedTarget"):
        assert set(container[key]) == {"cpu", "memory"}
        assert container[key]["cpu"].endswith("m") and container[key]["memory"].endswith("Mi")
    millicores = {k: int(container[k]["cpu"][:-1]) for k in ("target", "lowerBound", "upperBound")}
    assert millicores["lowerBound"] <= millicores["target"] <= millicores["upperBound"]
    assert container["target"]["cpu"] == f"{int(np.ceil((row.cpu.recommended or 0.0) * 1000))}m"
    assert status["conditions"][0]["type"] == "RecommendationProvided"
    assert status["conditions"][0]["status"] == "True" and row.status.provided
    assert 0 < row.confidence <= 1


def test_uncapped_target_is_the_recommendation_before_the_policy_floor(config: Config) -> None:
    # 5 millicores of use is below every tier's min_cpu: the target is the floor, uncappedTarget is not.
    out = RightsizingDecider(_history(cpu=0.005)).decide(_pass(config), {})
    (container,) = _row(out, "shop").status.containers
    assert int(container.uncapped_target["cpu"][:-1]) < int(container.target["cpu"][:-1])


def test_short_history_is_reported_but_not_applied(config: Config) -> None:
    out = RightsizingDecider(_history(days=0.5)).decide(_pass(config), {})
    assert not out.patches and not _findings(out).patches
    assert "of history" in _row(out, "shop").applied["cpu"]
    assert _row(out, "shop").cpu.confidence < 0.2


def _two_container_history() -> UsageHistory:
    """shop/api's pods run `api` (0.3 cores, 400 MiB) and `proxy` (0.1 cores, 100 MiB)."""
    t = times(7, end=NOW.timestamp())
    parts = {"api": (0.3, 400 * MI), "proxy": (0.1, 100 * MI)}
    containers = {
        ("shop", "api", "cpu"): {c: Series(t, np.full(t.size, cpu)) for c, (cpu, _) in parts.items()},
        ("shop", "api", "memory"): {c: Series(t, np.full(t.size, mem)) for c, (_, mem) in parts.items()},
    }
    series = {("shop", "api", "cpu"): Series(t, np.full(t.size, 0.4)),
              ("shop", "api", "memory"): Series(t, np.full(t.size, 500 * MI))}
    return UsageHistory(NOW - timedelta(days=7), NOW, series, replicas={("shop", "api"): 1.0},
                        containers=containers)


def test_per_container_history_gives_per_container_recommendations_and_patches(config: Config) -> None:
    out = RightsizingDecider(_two_container_history()).decide(_pass(config), {})
    recs = _row(out, "shop").status.containers
    assert [r.container for r in recs] == ["api", "proxy"]
    api, proxy = (int(r.target["cpu"][:-1]) for r in recs)
    assert api == pytest.approx(3 * proxy, rel=0.05)  # each container judged on its own usage
    (patch,) = out.patches
    # The pod's guarded step (1 core -> 500m at most 50% per step) shared by the containers' own needs.
    assert patch.requests["cpu"] == "500m"
    assert patch.containers["api"]["cpu"] == "375m" and patch.containers["proxy"]["cpu"] == "125m"
    assert set(patch.containers["api"]) == {"cpu", "memory"}


def test_recommendations_are_as_of_the_start_of_the_hour(config: Config) -> None:
    history = _history()
    decider = RightsizingDecider(history)
    early = decider.decide(_pass(config, dry_run=True, now=NOW + timedelta(minutes=5)), {})
    late = decider.decide(_pass(config, dry_run=True, now=NOW + timedelta(minutes=55)), {})
    fresh = RightsizingDecider(history).decide(_pass(config, dry_run=True, now=NOW), {})
    for tenant in ("shop", "media", "bank"):
        assert _row(early, tenant).cpu == _row(late, tenant).cpu == _row(fresh, tenant).cpu
        assert _row(early, tenant).status.containers == _row(fresh, tenant).status.containers


def test_a_pooled_patch_carries_its_tiers_per_container_maximum(config: Config) -> None:
    # The free tier's namespace refuses a container above 1 CPU / 2Gi (its LimitRange `max`); the patch
    # names that ceiling so the actuator never writes a request or limit every new pod would be refused for.
    out = RightsizingDecider(_history()).decide(_pass(config), {})
    (patch,) = [p for p in out.patches if p.tenant == "shop"]
    assert patch.ceilings == {"cpu": "1", "memory": "2Gi"}
    assert type(patch).from_json(patch.to_json()).ceilings == patch.ceilings  # survives the intent row


def _daily_job_history(days: int = 10, ahead: int = 9) -> UsageHistory:
    """shop/api: about 0.2 cores all day, and a job at 03:05 UTC every day at 1.6 cores, from `days` before
    NOW to `ahead` days after it (each pass reads only what lies before it)."""
    end = NOW + timedelta(days=ahead)
    t = times(days + ahead, end=end.timestamp())
    rng = np.random.default_rng(7)
    cpu = 0.2 * rng.uniform(0.9, 1.0, t.size)
    cpu[np.mod(t, 86400.0) == 3 * 3600 + 300] = 1.6
    memory = 300 * MI * rng.uniform(0.95, 1.0, t.size)
    return UsageHistory(NOW - timedelta(days=days), end,
                        {("shop", "api", "cpu"): Series(t, cpu), ("shop", "api", "memory"): Series(t, memory)},
                        replicas={("shop", "api"): 1.0})


def test_a_daily_schedule_reaches_its_job_hour_through_the_step_cap(config: Config) -> None:
    """The step cap measured each hour's step from the hour before, so a job's hour at 8x the rest of the
    day was never reached (at 50% a step, 0.2 cores could go to 0.3 at 03:00 and back at 04:00) while the
    recommendation said the job was covered. Measured from what was applied at that hour the day before,
    the schedule ramps in, by the cap, and then holds the job's hour."""
    decider = RightsizingDecider(_daily_job_history())
    state: dict[str, object] = {}
    request = 1.0  # the catalogue's, until the first patch
    at_three: list[float] = []
    at_four: list[float] = []
    for day, hour in itertools.product(range(8), (2, 3, 4)):  # around the job: the other hours are alike
        now = NOW.replace(hour=0) + timedelta(days=day + 1, hours=hour)
        snap = Snapshot(at=now, workloads={("shop", "api"): WorkloadMetrics("shop", "api", {
            "cpu_request": Reading(request), REPORTED: Reading(1.0)})})
        out = decider.decide(PassInput(snap, config, now), state)  # type: ignore[arg-type]
        for patch in out.patches:
            request = float(parse_quantity(patch.requests.get("cpu", str(request))))
            state[patch.state_key] = patch.on_applied
        (at_three if hour == 3 else at_four if hour == 4 else []).append(request)
    row = _row(decider.decide(_pass(config, now=now.replace(hour=3)), state), "shop")
    assert row.cpu.schedule is not None
    job = row.cpu.schedule[3]
    assert job > 4 * row.cpu.schedule[12]  # the recommendation covers the job in its hour
    assert at_three[0] < 0.5 * job  # a new schedule ramps in...
    assert all(b >= a for a, b in itertools.pairwise(at_three))
    assert at_three[-1] == pytest.approx(job, rel=0.02)  # ...and reaches the job's hour
    assert max(at_four[3:]) == pytest.approx(row.cpu.schedule[4], rel=0.02)  # and leaves it the hour after


def test_a_daily_schedule_moves_at_each_utc_hours_start_whenever_its_last_change_was(config: Config) -> None:
    """A schedule's request is the hour's: it changes on the first pass of each UTC hour. Counted as an
    hour since the last change, a change made at 02:40 held the 02:00 request until 03:40, through the job
    at 03:05, and every hour's change drifted later by the pass's own lateness."""
    decider = RightsizingDecider(_daily_job_history())
    day = NOW.replace(hour=0) + timedelta(days=3)
    state: dict[str, object] = {}
    request = 1.0
    values: dict[str, float] = {}
    for now in (day.replace(hour=2, minute=40), day.replace(hour=3, second=20), day.replace(hour=3, minute=50),
                day.replace(hour=4, second=5)):
        snap = Snapshot(at=now, workloads={("shop", "api"): WorkloadMetrics("shop", "api", {
            "cpu_request": Reading(request), REPORTED: Reading(1.0)})})
        out = decider.decide(PassInput(snap, config, now), state)  # type: ignore[arg-type]
        [patch] = [p for p in out.patches if p.tenant == "shop"] or [None]
        if patch is not None and "cpu" in patch.requests:
            request = float(parse_quantity(patch.requests["cpu"]))
            state[patch.state_key] = patch.on_applied
        values[now.strftime("%H:%M")] = request if patch is not None and "cpu" in patch.requests else float("nan")
    assert values["02:40"] > 0 and values["03:00"] > values["02:40"]  # the job's hour, from its first pass
    assert np.isnan(values["03:50"])  # one change an hour
    assert values["04:00"] < values["03:00"]  # and the next hour's at its start


def test_an_oom_kill_raises_the_vpa_status_of_a_history_kept_per_container(config: Config) -> None:
    """Usage history keeps the container label (the pool Deployments' one container included), and the
    status is then written per container from each container's own recommendation: those were made
    without the pod's OOM kills, so `rightsize --json` showed the pre-kill memory target while the
    patch asked for the bump."""
    kill = OomKill(NOW.timestamp() - 3600, 1400 * MI)
    plain = _history(ooms=(kill,))
    per_container = {key: {"api": series} for key, series in plain.series.items() if key[0] == "shop"}
    history = UsageHistory(plain.start, plain.end, plain.series, ooms=plain.ooms, replicas=dict(plain.replicas),
                           containers=per_container)
    shop = _row(RightsizingDecider(history).decide(_pass(config), {}), "shop")
    (container,) = shop.status.containers
    assert container.container == "api"
    for key in ("target", "lower_bound", "upper_bound", "uncapped_target"):
        assert parse_quantity(getattr(container, key)["memory"]) >= 1400 * MI * 1.2, key
    assert parse_quantity(container.target["memory"]) >= (shop.memory.recommended or 0.0)


def test_each_container_takes_its_own_oom_kills(config: Config) -> None:
    kill = OomKill(NOW.timestamp() - 3600, 1400 * MI)
    plain = _history(ooms=(kill,))
    per_container = {key: {"api": series, "proxy": Series(series.times, series.values * 0.1)}
                     for key, series in plain.series.items() if key[0] == "shop"}
    history = UsageHistory(plain.start, plain.end, plain.series, ooms=plain.ooms, replicas=dict(plain.replicas),
                           containers=per_container, container_ooms={("shop", "api"): {"api": (kill,)}})
    shop = _row(RightsizingDecider(history).decide(_pass(config), {}), "shop")
    targets = {c.container: parse_quantity(c.target["memory"]) for c in shop.status.containers}
    assert targets["api"] >= 1400 * MI * 1.2
    assert targets["proxy"] < 100 * MI  # not killed: its own usage


def test_a_schedule_is_read_at_the_utc_hour_whatever_the_offset_of_the_time_given(config: Config) -> None:
    """`rightsize --at 2026-03-05T08:30:00+05:30` is 03:00 UTC, the job's hour: the hour was read from the
    time as given (08), so the target, the patch and the VPA status were another hour's."""
    decider = RightsizingDecider(_daily_job_history())
    utc = NOW.replace(hour=3) + timedelta(days=3)
    india = utc.astimezone(timezone(timedelta(hours=5, minutes=30)))
    rows = [_row(decider.decide(_pass(config, now=now), {}), "shop") for now in (utc, india)]
    assert rows[0].cpu.schedule is not None and rows[0].cpu.recommended == rows[0].cpu.schedule[3]
    assert rows[1].cpu.recommended == rows[0].cpu.recommended
    assert rows[1].status.containers == rows[0].status.containers
