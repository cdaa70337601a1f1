"""The live view renders tenants, utilisation, cost and the latest decision with its reason."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from tenantops.structs.cost_findings import CostFindings, TenantFinding
from tenantops.structs.findings import Findings
from tenantops_lab.demo.view import ActionEvent, DemoLog, DemoView
from tenantops_lab.sandbox.workload_sim import WorkloadSimulator, WorkloadSpec


def _sim() -> WorkloadSimulator:
    specs = [WorkloadSpec("acme", "api", "silo", 1.0, 2**30, 1, 10, 0.6, np.full(5, 3.0), trace="nyc_taxi",
                          initial_replicas=2),
             WorkloadSpec("hooli", "api", "pool", 0.25, 2**28, 1, 10, 0.7, np.full(5, 0.1), trace="elb",
                          initial_replicas=3)]
    sim = WorkloadSimulator(specs)
    sim.begin()
    return sim


def _cost(**tenants: tuple[float, float]) -> Findings:
    """A pass's findings with each tenant's cost so far and cost per hour."""
    found = {t: TenantFinding(t, usd, rate, {}, False, usd, "2026-03", usd, 100.0, usd, usd, usd, None, "none")
             for t, (usd, rate) in tenants.items()}
    return Findings(cost=CostFindings("2026-03-02T12:00:00+00:00", 60.0, 0.5, 0.0, 0.0, 0.0, 0.0, found))


def test_render_shows_each_workload_and_the_reason_of_its_last_action() -> None:
    log = DemoLog()
    log.record_pass([ActionEvent(3.0, "acme", "api", 2, 6, "applied", "reactive", "HPA rule on cpu: 150% of target")],
                    _cost(acme=(0.5, 1.25)), ["warning: over budget"],
                    0.02, True)
    console = Console(record=True, width=200, force_terminal=False)
    console.print(DemoView(_sim(), log, 60, 1.0).render())
    text = console.export_text()
    assert "acme" in text and "hooli" in text and "nyc_taxi" in text
    assert "2→6 HPA rule on cpu: 150% of target" in text
    assert "1.25" in text and "0.50" in text  # $/h and $ so far
    assert "over budget" in text
    assert "passes 1" in text and "actions 1" in text


def test_plain_output_prints_each_action_once() -> None:
    log = DemoLog()
    view = DemoView(_sim(), log, 60, 1.0)
    console = Console(record=True, width=200)
    log.record_pass([ActionEvent(1.0, "hooli", "api", 3, 1, "applied", "stabilized", "load fell")], Findings(), [],
                    None, True)
    view.print_new_actions(console)
    view.print_new_actions(console)
    assert console.export_text().count("hooli/api 3->1") == 1


def test_at_80x24_every_workload_fits_on_its_own_line_with_the_newest_decisions_below() -> None:
    log = DemoLog()
    events = [ActionEvent(float(i), "acme", "api", i, i + 1, "applied", "reactive", "reason " + "x" * 200)
              for i in range(30)]
    log.record_pass(events, Findings(), [], 0.02, True)
    sim = _sim()
    console = Console(record=True, width=80, height=24, force_terminal=False)
    console.print(DemoView(sim, log, 60, 1.0).render(80, 24))
    lines = console.export_text().splitlines()
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("acme/api") for line in lines) and any(line.startswith("hooli/api") for line in lines)
    assert "decisions" in "\n".join(lines)
    assert "29→30" in "\n".join(lines)  # the newest decision is shown


def test_at_80_columns_the_status_line_keeps_its_latency_unit() -> None:
    """At 80x24 the status line of a demo ended "1.0/62.8 m…": the latency's unit was cut (an hour-long one,
    `--minutes 60`, passes a pass every 30 trace seconds)."""
    log = DemoLog()
    for _ in range(3600):
        log.record_pass([], Findings(), [], 0.02, True)
    log.record_pass([ActionEvent(float(i), "acme", "api", 2, 3, "applied", "reactive", "load rose")
                     for i in range(150)], Findings(), [], 0.02, True)
    sim = _sim()
    spec = sim.specs[0]
    sim.latency.observe(spec.key, 0.0, 9.0, 2, spec)  # the load needs more replicas than the 2 running
    sim.latency.observe(spec.key, 62.8, 9.0, 5, spec)  # and gets them 62.8 s (trace minutes) later
    console = Console(record=True, width=80, height=24, force_terminal=False)
    console.print(DemoView(sim, log, 3600, 1.0).render(80, 24))
    status = console.export_text().splitlines()[0]
    assert status.endswith("p50/p99 62.8/62.8 min") and "…" not in status, status
    wide = Console(record=True, width=160, height=40, force_terminal=False)
    wide.print(DemoView(sim, log, 3600, 1.0).render(160, 40))
    assert "scale-up latency p50/p99 62.8/62.8 min" in wide.export_text()
