"""`tenantops run`: the long-running controller (interval passes, health and metrics port, hot reload)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import click

from tenantops.cli.options import HTTP_PORT_HELP, config_options, load, refuse_unread, settings_from
from tenantops.cli.reconcile import controller_options
from tenantops.engine.deciders import DeciderUnavailable
from tenantops.engine.root import build_controller
from tenantops.engine.runner import LeaderHook, TenantFilter
from tenantops.engine.shards import parse_shard, shard_filter
from tenantops.record.http import Health, HealthServer
from tenantops.record.metrics import ControllerMetrics

if TYPE_CHECKING:
    from tenantops.act.kubeclient import KubeTarget

log = logging.getLogger(__name__)


@click.command("run")
@config_options
@controller_options
@click.option("--http-port", type=int, default=None,
              help=f"Port for /healthz, /readyz, /metrics. {HTTP_PORT_HELP}")
@click.option("--http-host", default="0.0.0.0", show_default=True, help="Address to bind the HTTP port to.")
@click.option("--shard", default=None, metavar="INDEX/COUNT",
              help="Reconcile only this shard of the tenants (e.g. 0/3).")
@click.option("--leader-elect", is_flag=True,
              help="Act only while holding a coordination.k8s.io Lease (for more than one replica).")
@click.option("--lease-namespace", default=None,
              help="Namespace of the Lease(s) (default: POD_NAMESPACE, else tenantops).")
@click.option("--lease-name", default="tenantops-leader", show_default=True, help="Lease name (no --shards).")
@click.option("--shards", type=click.IntRange(1), default=None,
              help="With --leader-elect: split tenants into this many shard Leases shared among replicas.")
@click.option("--identity", default=None,
              help="This replica's Lease holder identity (default: POD_NAME, else the host name).")
@click.option("--confirm-removals", is_flag=True,
              help="Accept a catalogue reload that removes more than the ControllerPolicy's max_removed_share "
                   "of the tenants at once (otherwise it is held and alerted), and a catalogue at start that "
                   "lacks that share of the last one accepted (otherwise their mail and intents are kept).")
@click.option("--max-passes", type=click.IntRange(1), default=None, hidden=True)
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, deciders: tuple[str, ...], dry_run: bool,
            init: bool,
            prometheus_url: str | None, state: str | None, database: str | None, kube_url: str | None,
            kube_context: str | None,
            aws_endpoint_url: str | None,
            http_port: int | None, http_host: str, shard: str | None, leader_elect: bool, lease_namespace: str | None,
            lease_name: str, shards: int | None, identity: str | None, confirm_removals: bool,
            max_passes: int | None) -> None:
    """Run passes every ControllerPolicy interval (plus jitter) until SIGTERM/SIGINT, which finish the
    current pass and exit 0. Catalogue and policy edits are picked up; an invalid edit is logged and the
    last good configuration keeps running. Unless dry-run, the cost report is mailed when its ReportPolicy
    schedule comes due. Right-sizing's usage history is fetched at start and then hourly. Each pass is the
    one `reconcile --once` runs."""
    settings = settings_from(ctx, catalog=catalog, policies=policies, prometheus_url=prometheus_url, state=state,
                             database_url=database, kube_url=kube_url, kube_context=kube_context,
                             aws_endpoint_url=aws_endpoint_url, http_port=http_port)
    tenant_filter = None
    if shard is not None:
        try:
            tenant_filter = shard_filter(*parse_shard(shard))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--shard") from None
    if shards is not None and not leader_elect:
        raise click.BadParameter("--shards needs --leader-elect (use --shard INDEX/COUNT for a static split)",
                                 param_hint="--shards")
    # Lease flags nothing reads were ignored: the controller ran unelected beside any other replica.
    if not leader_elect:
        refuse_unread(ctx, ("lease_namespace", "lease_name", "identity"), "without --leader-elect")
    elif shards is not None:
        refuse_unread(ctx, ("lease_name",), "with --shards (the shard Leases are tenantops-shard-*)")
    config = load(settings)  # an invalid configuration at start is bad input: exit 2
    leader: LeaderHook | None = None
    if leader_elect:
        from tenantops.act.kubeclient import KubeAccess
        from tenantops.engine.lease import lease_duration

        ctl = config.policies.controller  # the Lease outlasts any healthy gap between two renewals
        leader, lease_filter = _elector(KubeAccess.from_settings(settings), lease_namespace, lease_name, shards,
                                        identity, lease_duration(ctl.interval_seconds, ctl.jitter_seconds))
        tenant_filter = lease_filter or tenant_filter
    metrics = ControllerMetrics()
    interval = config.policies.controller.interval_seconds
    health = Health.for_interval(interval)
    try:
        controller = build_controller(settings, dry_run=dry_run, metrics=metrics, decider_names=list(deciders) or None,
                                      init=init)
    except DeciderUnavailable as exc:
        raise click.BadParameter(str(exc), param_hint="--decider") from None
    writers = [] if leader_elect or dry_run else controller.reconciler.store.leadership()
    if writers:  # kube controllers configured for leader election never act without it either
        controller.close()
        last = writers[0]
        where = f"{last.namespace}/{last.lease}" if last.namespace else last.lease
        what = f"{last.shards} shard Leases {where}-shard-*" if last.shards else f"Lease {where}"
        raise click.ClickException(f"this state is written by leader-elected replicas ({what}, "
                                   f"last taken by {writers[0].holder}): a loop without the Lease would write "
                                   "beside their leader; run with --leader-elect, or --dry-run")
    server = HealthServer(health, metrics.registry, host=http_host, port=settings.http_port).start()
    log.warning("tenantops controller: %d tenants, interval %.0fs, http on %s:%d%s", len(config.tenants), interval,
                http_host, server.port, " (dry run)" if dry_run else "")
    runner = controller.runner(config, tenant_filter=tenant_filter, health=health, leader=leader,
                               confirm_removals=confirm_removals)
    runner.install_signal_handlers()
    try:
        code = runner.run(max_passes=max_passes)
    finally:
        server.stop()
        controller.close()
    ctx.exit(code)


def _elector(kube_url: KubeTarget, namespace: str | None, name: str, shards: int | None,
             identity: str | None, duration: int = 15) -> tuple[LeaderHook, TenantFilter | None]:
    """One Lease (one active replica), or shard Leases whose owner reconciles the shard's tenants.

    Identity and namespace come from the pod (POD_NAME, POD_NAMESPACE, as deploy/base/deployment.yaml sets
    them) unless given as options, so every replica of a Deployment agrees on the Lease it competes for.
    """
    from tenantops.engine.lease import leader_elector, shard_elector

    env = dict(os.environ)
    if identity:
        env["POD_NAME"] = identity
    if namespace:
        env["POD_NAMESPACE"] = namespace
    if shards is None:
        return leader_elector(kube_url, name=name, env=env, duration_seconds=duration), None
    sharded = shard_elector(kube_url, shards, env=env, duration_seconds=duration)
    return sharded, lambda tenant: sharded.owned(tenant.id)
