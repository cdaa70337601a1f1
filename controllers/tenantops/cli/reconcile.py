"""`tenantops reconcile --once [--dry-run] [--json]`: one pass, then exit (cron jobs, CI checks, debugging)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tenantops.cli.options import (
    PROMETHEUS_URL_HELP,
    STATE_HELP,
    config_options,
    echo_json,
    json_option,
    load,
    settings_from,
)
from tenantops.endpoints import Unreachable
from tenantops.engine.deciders import DeciderUnavailable
from tenantops.engine.reconcile import PassResult, Reconciler
from tenantops.engine.root import Controller, build_controller
from tenantops.engine.scale_effects import ScaleEffects
from tenantops.structs.plan import ScaleAction, TargetKind

if TYPE_CHECKING:
    from tenantops.config.loader import Config
    from tenantops.config.settings import Settings
    from tenantops.engine.lease import AllShards, LeaseElector
    from tenantops.record.store import StateStore

F = TypeVar("F", bound=Callable[..., Any])


def controller_options(func: F) -> F:
    """Endpoints and paths of the controller, each also settable by its TENANTOPS_* variable."""
    for name, help_text in reversed((
        ("--prometheus-url", f"Prometheus base URL. {PROMETHEUS_URL_HELP}"),
        ("--state", f"SQLite file for decider state and the audit log. {STATE_HELP}"),
        ("--database", "State store URL: sqlite:///PATH or postgresql://USER@HOST/DB (shared by replicas). "
                       "Env: TENANTOPS_DATABASE_URL. Default: the SQLite file at --state."),
        ("--kube-url", "Kubernetes API URL (default: in-cluster, then kubeconfig). Env: TENANTOPS_KUBE_URL."),
        ("--kube-context", "kubeconfig context (as kubectl --context; file: TENANTOPS_KUBECONFIG, else KUBECONFIG). "
                           "Env: TENANTOPS_KUBE_CONTEXT."),
        ("--aws-endpoint-url", "AWS endpoint override (e.g. a local moto server). Env: TENANTOPS_AWS_ENDPOINT_URL."),
    )):
        func = click.option(name, default=None, help=help_text)(func)
    func = click.option("--decider", "deciders", multiple=True,
                        help="Run only these deciders (repeatable; default: all installed). The scheduled cost "
                             "report is the `reports` decider.")(func)
    func = click.option("--init", is_flag=True,
                        help="Allow starting from an empty state where a state file was emptied or deleted "
                             "(a new installation); without it that is an error.")(func)
    func = click.option("--dry-run", is_flag=True,
                        help="Plan and record, but change nothing in the cluster or cloud.")(func)
    return func


def print_result(result: PassResult) -> None:
    s = result.summary()
    click.echo(f"pass at {s['at']}{' (dry run)' if result.dry_run else ''}: {result.tenants} tenants, "
               f"{result.workloads} workloads in {s['timings'].get('total', 0):.3f}s")
    for err in result.query_errors:
        click.echo(f"  query error: {err}")
    for d in result.deciders:
        state = "ok" if d.ok else f"FAILED ({d.detail})"
        click.echo(f"  decider {d.name}: {state}; {d.actions} actions, {d.alerts} alerts, {d.decisions} decisions")
    counts = ", ".join(f"{k}={v}" for k, v in s["actions"].items() if v) or "none"
    click.echo(f"  actions: {counts}")
    for o in result.outcomes:
        if o.detail != "no-op":
            click.echo(f"    {o.status.value:<9} {o.action.tenant}/{o.action.workload}: "
                       f"{o.action.current} -> {o.action.desired} ({o.action.rule}) {o.detail}")
    click.echo(f"  alerts: {len(result.alerts)}; audit rows: {result.decisions}; state keys written: "
               f"{result.state_written}")


def _probe_kubernetes(reconciler: Reconciler, setting: str) -> None:
    """A one-shot pass that would act: say once that the API server is down, before any action fails on it."""
    from tenantops.act.kubeclient import probe
    from tenantops.act.kubernetes import KubernetesActuator

    scale = reconciler.actuators.get(ScaleAction)
    kube = scale.targets.get(TargetKind.KUBERNETES) if isinstance(scale, ScaleEffects) else None
    if isinstance(kube, KubernetesActuator):
        try:
            probe(kube.api_client, setting=setting)
        except Unreachable:
            reconciler.store.close()
            raise


def _probe_prometheus(controller: Controller) -> None:
    """Before a one-shot pass: a Prometheus that does not answer is said in one line (exit 1), and no pass is
    run, since it would observe nothing (`PrometheusSource.probe`)."""
    from tenantops.observe.prometheus import PrometheusSource

    source = controller.reconciler.source
    if isinstance(source, PrometheusSource):
        try:
            source.probe()
        except Unreachable:
            controller.close()
            raise


def _one_pass_leader(settings: Settings, config: Config, store: StateStore,
                     namespace: str | None) -> LeaseElector | AllShards | None:
    """The leader's Lease for a pass that would act on a state leader-elected replicas write (None where
    none ever did): the pass takes it, or is refused while another holds it (`lease.one_pass_elector`).
    It is looked for in `namespace` (--lease-namespace) when given, else in the namespace the leadership
    record names, else in this pod's (a record written before namespaces were kept names none). Beside
    sharded replicas it is every shard Lease of their group (`lease.one_pass_shards`)."""
    writers = store.leadership()
    if not writers:
        return None
    from tenantops.act.kubeclient import KubeAccess
    from tenantops.engine.lease import lease_duration, one_pass_elector, one_pass_shards

    ctl, last = config.policies.controller, writers[0]
    kube, duration = KubeAccess.from_settings(settings), lease_duration(ctl.interval_seconds, ctl.jitter_seconds)
    if last.shards:
        return one_pass_shards(kube, last.lease, last.shards, namespace=namespace or last.namespace,
                               duration_seconds=duration)
    return one_pass_elector(kube, last.lease, namespace=namespace or last.namespace, duration_seconds=duration)


@click.command("reconcile")
@click.option("--once", is_flag=True, help="Run exactly one pass and exit (the only mode; `tenantops run` loops).")
@config_options
@controller_options
@click.option("--lease-namespace", default=None,
              help="Namespace of the leader's Lease on a state that `run --leader-elect` writes (default: the "
                   "namespace the state's leadership record names, else POD_NAMESPACE, else tenantops).")
@click.option("--confirm-removals", is_flag=True,
              help="Accept a catalogue that lacks more than the ControllerPolicy's max_removed_share of the "
                   "tenants of the last one accepted (otherwise their queued mail and intents are kept, and "
                   "alerted).")
@json_option
@click.pass_context
def command(ctx: click.Context, once: bool, catalog: str | None, policies: str | None, deciders: tuple[str, ...],
            dry_run: bool, init: bool, prometheus_url: str | None, state: str | None, database: str | None,
            kube_url: str | None, kube_context: str | None, aws_endpoint_url: str | None,
            lease_namespace: str | None, confirm_removals: bool, as_json: bool) -> None:
    """Observe, decide, act and record once for every tenant, then run what `tenantops run` runs after a
    pass (alerts routed, due reports queued, mail delivered; not in a dry run). Exit 1 if anything in the
    pass failed. On a state that `run --leader-elect` replicas write, a pass that acts takes the leader's
    Lease for its duration (beside sharded replicas, every shard Lease) and is refused (exit 1) while a
    running replica holds it; a dry run never is. A Prometheus that does not answer (and, for a pass that
    acts, a Kubernetes API) is one line naming its setting, exit 1, before any pass is run."""
    settings = settings_from(ctx, catalog=catalog, policies=policies, prometheus_url=prometheus_url, state=state,
                             database_url=database, kube_url=kube_url, kube_context=kube_context,
                             aws_endpoint_url=aws_endpoint_url)
    config = load(settings)
    try:
        controller = build_controller(settings, dry_run=dry_run, decider_names=list(deciders) or None,
                                      init=init)
    except DeciderUnavailable as exc:
        raise click.BadParameter(str(exc), param_hint="--decider") from None
    leader = None
    if not dry_run:
        _probe_kubernetes(controller.reconciler, "TENANTOPS_KUBE_URL" if settings.kube_url else
                          "TENANTOPS_KUBE_CONTEXT" if settings.kube_context else "kubeconfig")
    _probe_prometheus(controller)
    if not dry_run:
        leader = _one_pass_leader(settings, config, controller.reconciler.store, lease_namespace)
    try:
        runner = controller.runner(config, clock=lambda: datetime.now(UTC), leader=leader,
                                   confirm_removals=confirm_removals)
        result = runner.tick()
    finally:
        if leader is not None:
            leader.release()
        controller.close()
    if leader is not None and runner.stats.skipped_not_leader:
        from tenantops.engine.lease import refusal

        raise click.ClickException(refusal(leader))
    down = getattr(controller.reconciler.source, "unreachable", None)
    if isinstance(down, Unreachable):  # the pass is recorded, but it saw nothing: one line naming the setting
        if as_json and result is not None:
            echo_json(result.summary())
        raise down
    if result is None:  # the pass itself failed (logged): nothing to print but the exit code
        ctx.exit(1)
    if as_json:
        echo_json(result.summary())
    else:
        print_result(result)
    if not result.ok:
        ctx.exit(1)
