"""`tenantops simulate`: replay recorded demand against a scaling policy and score it (docs/benchmarks.md §1).

The policy is the controller's own recommender; the baseline is the Kubernetes HPA at targets 0.2..0.9.
One trace prints its figures and the HPA curve; `--all` runs every trace in the traces folder and prints
the per-trace table the goal is judged on.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from tenantops.cli.options import FiniteFloatRange, echo_json, json_option, output_file, output_folder, settings_from
from tenantops.cli.progress import Progress
from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.config.kinds.scaling import BreakerSpec, ScalingSpec
from tenantops.config.loader import load_policies

DEFAULT_POLICY = "balanced"


def _specs(policies_dir: str, name: str, breakers: str) -> tuple[ScalingSpec, BreakerSpec]:
    policies = load_policies(policies_dir)
    for kind, wanted, option in (("ScalingPolicy", name, "--policy"), ("BreakerPolicy", breakers, "--breakers")):
        if (kind, wanted) not in policies.docs:
            known = ", ".join(policies.names(kind)) or "none"
            raise ConfigError([ConfigIssue(option, 0, option[2:], f"unknown {kind} {wanted!r}; defined: {known}")])
    return (cast(ScalingSpec, policies.get("ScalingPolicy", name)),
            cast(BreakerSpec, policies.get("BreakerPolicy", breakers)))


if TYPE_CHECKING:
    from tenantops.sim.trace import Trace

Job = tuple[str, "Trace | None", ScalingSpec, BreakerSpec, str, float | None, str | None, str | None]
"""(file, the trace already read from it or None, policy, breakers, policy name, capacity, --output, --plot)"""


def _one(job: Job) -> dict[str, Any]:
    from tenantops.sim.benchmark import simulate, write_decisions
    from tenantops.sim.trace import load_trace

    path, loaded, spec, brk, name, capacity, output, plot = job
    trace = loaded if loaded is not None else load_trace(path)
    result = simulate(trace, spec, name, capacity, brk)
    if output:
        write_decisions(output, trace, result)
    if plot:
        from tenantops.sim.plot import plot_run

        plot_run(plot, trace, result)
    out = result.as_dict()
    out["file"] = path
    return out


def _period(seconds: float) -> str:
    """A recording's sampling period, short: 60 -> "1m", 300 -> "5m", 1800 -> "30m", 15 -> "15s"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _in_order(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-minute recordings first (no sample held: the benchmark's first concern), then the coarser ones
    by sampling period, each group by name."""
    return sorted(results, key=lambda r: (not r["per_minute"], r["source_seconds"], r["trace"]))


def _summary(results: list[dict[str, Any]]) -> list[str]:
    """How many traces of each kind meet the goal, per-minute and coarser apart (they are judged apart)."""
    lines = []
    for label, group in (("per-minute", [r for r in results if r["per_minute"]]),
                         ("coarser (held)", [r for r in results if not r["per_minute"]])):
        if group:
            met = [str(r["trace"]) for r in group if r["meets_goal"]]
            lines.append(f"{label}: {len(met)} of {len(group)} meet the goal"
                         + (f" ({', '.join(met)})" if met else ""))
    return lines


def _row(r: dict[str, Any]) -> str:
    missed = [name for name, ok in r["goals"].items() if not ok]
    return (f"{r['trace']:<34} {_period(r['source_seconds']):>4} "
            f"{r['violation_rate']:>7.3%} {r['hpa_violation_rate_u07']:>8.3%} "
            f"{r['cost_vs_oracle']:>7.3f} {r['cost_vs_hpa']:>7.3f} {r['excess_closed']:>7.3f} {r['actions']:>7d} "
            f"{r['hpa_actions_u07']:>7d} {r['actions_vs_hpa']:>7.2f}  "
            f"{'yes' if r['meets_goal'] else 'NO (' + ', '.join(missed) + ')'}")


HEADER = (f"{'trace':<34} {'rec':>4} {'viol':>7} {'hpa@0.7':>8} {'vs_orcl':>7} {'vs_hpa':>7} {'excess':>7} "
          f"{'actions':>7} {'hpa_act':>7} {'act/hpa':>7}  goal")


def _read_all(files: list[Path]) -> dict[Path, Trace]:
    """Every trace of `--all` read and checked before any is replayed: a bad file is named (with every other
    bad one) before the replays, not after minutes of them, and nothing is printed for the good ones."""
    from tenantops.sim.trace import load_trace

    traces: dict[Path, Trace] = {}
    issues: list[ConfigIssue] = []
    for f in files:
        try:
            traces[f] = load_trace(f)
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    return traces


def _check_outputs(check: Callable[[str, str], Path], output: str | None, plot: str | None) -> None:
    """`--output` and `--plot` checked writable before any work (a file each, or with --all a folder each)."""
    for value, flag in ((output, "--output"), (plot, "--plot")):
        if value is not None:
            check(value, flag)


@click.command("simulate")
@click.option("--trace", "trace_file", type=click.Path(dir_okay=False), default=None,
              help="Trace CSV (timestamp,value).")
@click.option("--all", "run_all", is_flag=True, help="Run every *.csv in the traces folder and print the table.")
@click.option("--traces", "traces_dir", type=click.Path(file_okay=False), default=None,
              help="Traces folder for --all (implies --all). Env: TENANTOPS_TRACES. Default: data/traces.")
@click.option("--policy", "policy_name", default=DEFAULT_POLICY, show_default=True, help="ScalingPolicy name.")
@click.option("--breakers", "breakers_name", default="default", show_default=True,
              help="BreakerPolicy name (max step, freeze), applied as the controller applies it.")
@click.option("--only", default=None,
              help="With --all: a comma-separated list of trace names (file stems) to run, e.g. a held-out set.")
@click.option("--policies", type=click.Path(), default=None, help="Policy directory. Env: TENANTOPS_POLICIES.")
@click.option("--capacity", type=FiniteFloatRange(min=0, min_open=True), default=None,
              help="Units one replica serves per step (default: p99 of demand / 30).")
@click.option("--output", type=click.Path(), default=None,
              help="Decisions CSV (step,timestamp,demand,desired,provisioned,ready); with --all, a folder.")
@click.option("--plot", type=click.Path(), default=None,
              help="PNG of demand, capacity and replicas; with --all, a folder.")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Traces run in parallel (--all).")
@json_option
@click.pass_context
def command(
    ctx: click.Context, trace_file: str | None, run_all: bool, traces_dir: str | None, policy_name: str,
    breakers_name: str, only: str | None, policies: str | None, capacity: float | None, output: str | None,
    plot: str | None, jobs: int, as_json: bool,
) -> None:
    """Score a scaling policy on recorded demand against the Kubernetes HPA (violations, cost, excess closed)."""
    from tenantops.sim.trace import default_traces_dir, list_traces

    settings = settings_from(ctx, policies=policies)
    spec, brk = _specs(settings.policies, policy_name, breakers_name)
    if trace_file and (run_all or traces_dir):
        raise click.UsageError("give either --trace or --all/--traces, not both")
    if not trace_file and not (run_all or traces_dir):
        raise click.UsageError("give --trace FILE, or --all to run every trace in the traces folder")
    if trace_file and only is not None:
        raise click.UsageError("--only chooses among the traces of --all; with --trace there is one")
    if trace_file:
        _check_outputs(output_file, output, plot)
        result = _one((trace_file, None, spec, brk, policy_name, capacity, output, plot))
        _print_single(result, as_json)
        return
    files = list_traces(traces_dir or default_traces_dir())
    if only is not None:
        wanted = [name.strip() for name in only.split(",") if name.strip()]
        if not wanted:  # `--only ,` ran no trace and reported every goal met
            raise click.BadParameter(f"{only!r} names no trace", param_hint="--only")
        unknown = sorted(set(wanted) - {f.stem for f in files})
        if unknown:
            raise ConfigError([ConfigIssue("--only", 0, "only", f"no trace named {', '.join(unknown)}")])
        files = [f for f in files if f.stem in wanted]
    _check_outputs(output_folder, output, plot)
    traces = _read_all(files)
    jobs_list: list[Job] = [
        (str(f), traces[f], spec, brk, policy_name, capacity,
         str(Path(output) / f"{f.stem}.csv") if output else None, str(Path(plot) / f"{f.stem}.png") if plot else None)
        for f in files
    ]
    progress = Progress("simulate", len(jobs_list))
    progress.start(f"{len(jobs_list)} traces, policy {policy_name} and the HPA curve on each")
    results = []
    if jobs > 1 and len(jobs_list) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(jobs_list))) as pool:
            for r in pool.map(_one, jobs_list):
                progress.step(str(r["trace"]))
                results.append(r)
    else:
        for job in jobs_list:
            results.append(_one(job))
            progress.step(Path(job[0]).stem)
    if as_json:
        echo_json({"policy": policy_name, "traces": _in_order(results),
                   "all_meet_goal": all(r["meets_goal"] for r in results)})
        return
    click.echo(f"policy {policy_name}: goal violation_rate <= max(0.5%, HPA's at u=0.7), excess_closed >= 0.5, "
               "actions <= max(1.5 x HPA's at u=0.7, one per trace hour)")
    click.echo(HEADER)
    results = _in_order(results)
    for r in results:
        click.echo(_row(r))
    for line in _summary(results):
        click.echo(line)


def _print_single(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(r)
        return
    click.echo(f"trace {r['trace']} ({r['steps']} steps of 60 s, capacity {r['capacity']:.4g} units/replica), "
               f"policy {r['policy']}")
    click.echo(f"  violation_rate {r['violation_rate']:.3%}  unserved {r['unserved']:.4%}  actions {r['actions']} "
               f"({r['actions_vs_hpa']:.2f}x the HPA's at u=0.7; goal <= {r['goal_actions']:.0f})")
    click.echo(f"  cost {r['cost']:.1f} replica-h  oracle {r['oracle_cost']:.1f}  "
               f"hpa@same-reliability {r['hpa_cost']:.1f}")
    click.echo(f"  cost_vs_oracle {r['cost_vs_oracle']:.3f}  cost_vs_hpa {r['cost_vs_hpa']:.3f}  "
               f"excess_closed {r['excess_closed']:.3f}  goal {'met' if r['meets_goal'] else 'NOT met'} "
               f"({', '.join(f'{k} ' + ('ok' if ok else 'missed') for k, ok in r['goals'].items())})")
    click.echo("  HPA curve:  target  violation_rate  cost_vs_oracle  actions  actions_vs_hpa")
    for h in r["hpa_curve"]:
        click.echo(f"             {h['target']:.1f}     {h['violation_rate']:>10.3%}  "
                   f"{h['cost_vs_oracle']:>14.3f}  {h['actions']:>7d}  {h['actions_vs_hpa']:>14.2f}")
