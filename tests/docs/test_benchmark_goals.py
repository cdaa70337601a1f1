"""The goals and baselines docs/benchmarks.md states are the ones the commands judge by: a goal changed in the
code and not in the document (or the other way round) would have `simulate`, `rightsize --backtest` and
`bench controller` print "met" against a goal nobody wrote down."""

from __future__ import annotations

import re

from tests.cli.helpers import ROOT

from tenantops.cli import rightsize
from tenantops.decide.rightsizing import backtest as rightsizing
from tenantops.sim import benchmark, hpa
from tenantops.sim import environment as sim
from tenantops_lab.bench import controller, record

TEXT = " ".join((ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8").split())
NUMBER = r"(\d+(?:\.\d+)?)"


def stated(pattern: str) -> tuple[float, ...]:
    """The numbers the document states where `pattern` matches, each `#` of it standing for one."""
    found = re.search(pattern.replace("#", NUMBER), TEXT)
    assert found is not None, f"docs/benchmarks.md no longer states {pattern!r}"
    return tuple(float(g) for g in found.groups())


def test_autoscaling_goal_and_environment() -> None:
    assert stated(r"violation_rate ≤ max\(#%, HPA's at u = #\), `excess_closed` ≥ #, "
                  r"and actions ≤ max\(# × the HPA's at u = #") == (
        benchmark.GOAL_VIOLATION_FLOOR * 100, benchmark.GOAL_HPA_TARGET, benchmark.GOAL_EXCESS_CLOSED,
        benchmark.GOAL_ACTIONS_VS_HPA, benchmark.GOAL_HPA_TARGET)
    assert stated(r"startup `S = #` steps") == (sim.STARTUP_STEPS,)
    assert stated(r"`max_replicas = #`") == (sim.MAX_REPLICAS,)
    assert stated(r"tolerance #, scale-down stabilisation window # s") == (hpa.TOLERANCE, hpa.DOWN_WINDOW_SECONDS)
    assert stated(r"u ∈ \{#, #, …, #\}") == (hpa.TARGETS[0], hpa.TARGETS[1], hpa.TARGETS[-1])


def test_rightsizing_goal_and_baseline() -> None:
    assert stated(r"median `slack_vs_vpa` ≤ #; none above #") == (rightsize.GOAL_MEDIAN, rightsize.GOAL_MAX)
    assert stated(r"# h half-life, request = weighted percentile q of past usage plus a #% margin") == (
        rightsizing.VPA_HALF_LIFE_HOURS, round(rightsizing.VPA_MARGIN * 100))
    assert stated(r"at q ∈ \{#, #, #, #, #, #\}") == rightsizing.VPA_PERCENTILES
    assert stated(r"`overrun_budget` = max\(#%") == (rightsizing.MIN_OVERRUN_BUDGET * 100,)


def test_controller_scale_goals() -> None:
    assert stated(r"\(≤ # per pass\), the pass takes ≤ #× the floor, and N = 10,000 costs ≤ #×") == (
        controller.GOAL_QUERIES, controller.GOAL_FLOOR_RATIO, controller.GOAL_SCALE_RATIO)
    assert stated(r"PostgreSQL's steady record time is ≤ #× SQLite's") == (record.GOAL_POSTGRES_VS_SQLITE,)
