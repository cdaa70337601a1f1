"""A tenant removed from the catalogue is mailed no more: the runner drops its pending outbox mail, with
one audit row per tenant, at start-up and after the reload that removes it; ops-wide mail and other
tenants' mail stay, and a reload held for confirmation drops nothing. The real Runner and StateStore on
both backends (the `state_url` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import yaml

from tenantops.config import load_config
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.notify.outbox import Outbox, Status
from tenantops.record import audit
from tenantops.record.store import StateStore

from .conftest import CATALOG, StaticSource, TargetTracking

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
VALUES = {("alpha", "api"): (40.0, 4.0), ("beta", "api"): (10.0, 1.0)}


def _mail(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenantops@example.com", to, "alert"
    msg.set_content("body")
    return msg


def _runner(config_files: tuple[Path, Path], store: StateStore, *, confirm: bool) -> Runner:
    catalog, policies = config_files
    reconciler = Reconciler(StaticSource(VALUES), store, [TargetTracking()], register_actuators())
    return Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies,
                  confirm_removals=confirm, clock=lambda: NOW)


def _dropped(store: StateStore) -> list[tuple[str | None, object]]:
    return [(e.tenant, e.new) for e in audit.query(store.connection, kind="outbox")]


def test_mail_of_removed_tenants_is_dropped_at_start_and_on_reload(config_files, state_url: str) -> None:
    catalog, _ = config_files
    store = StateStore(state_url)
    outbox = Outbox(state_url)
    for tenant in ("alpha", "gamma", "gamma", "zeta"):  # zeta left the catalogue while the controller was down
        outbox.enqueue("alert", f"alert:{tenant}:{len(outbox.entries())}", _mail(f"ops@{tenant}.example"),
                       now=NOW, tenant=tenant)
    outbox.enqueue("cost-report", "report:w1", _mail("oncall@example.com"), now=NOW)  # ops-wide
    runner = _runner(config_files, store, confirm=True)
    try:
        assert runner.tick() is not None
        assert _dropped(store) == [("zeta", 1)]  # at start-up
        catalog.write_text(yaml.safe_dump({**CATALOG, "tenants": CATALOG["tenants"][:2]}, sort_keys=False))
        assert runner.tick() is not None and runner.stats.reloads == 1
        assert _dropped(store) == [("zeta", 1), ("gamma", 2)]  # after the reload, before its pass
        assert {e.tenant for e in outbox.entries(Status.PENDING)} == {"alpha", None}
        runner.tick()
        assert len(_dropped(store)) == 2  # nothing more to drop: no further rows
    finally:
        store.close()


def test_a_held_reload_keeps_the_mail_of_the_tenants_it_would_remove(config_files, state_url: str) -> None:
    catalog, _ = config_files
    store = StateStore(state_url)
    outbox = Outbox(state_url)
    outbox.enqueue("alert", "alert:gamma", _mail("ops@gamma.example"), now=NOW, tenant="gamma")
    runner = _runner(config_files, store, confirm=False)
    try:
        runner.tick()
        catalog.write_text(yaml.safe_dump({**CATALOG, "tenants": CATALOG["tenants"][:2]}, sort_keys=False))
        runner.tick()
        assert runner.stats.held_reloads == 1
        assert [e.dedup_key for e in outbox.entries(Status.PENDING)] == ["alert:gamma"] and _dropped(store) == []
    finally:
        store.close()


def _alerting_runner(config_files: tuple[Path, Path], store: StateStore, *, confirm: bool) -> Runner:
    """`_runner` with the facts decider too, which raises the controller's notices as alerts."""
    from tenantops.decide.facts import FactsDecider

    catalog, policies = config_files
    reconciler = Reconciler(StaticSource(VALUES), store, [TargetTracking(), FactsDecider()], register_actuators())
    return Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies,
                  confirm_removals=confirm, clock=lambda: NOW)


def test_a_catalogue_cut_short_while_no_controller_ran_keeps_the_mail_until_confirmed(
        config_files, state_url: str) -> None:
    """No last good configuration is in memory at start-up: the catalogue is measured against the tenants
    of the last one a writer accepted (recorded in the state). Two of four tenants gone is more than the
    shipped max_removed_share: gamma keeps its mail (and intents), and the hold is alerted, until confirmed."""
    catalog, _ = config_files
    store = StateStore(state_url)
    try:
        assert _alerting_runner(config_files, store, confirm=False).tick() is not None  # records the four tenants
    finally:
        store.close()
    outbox = Outbox(state_url)
    outbox.enqueue("alert", "alert:gamma", _mail("ops@gamma.example"), now=NOW, tenant="gamma")
    catalog.write_text(yaml.safe_dump({**CATALOG, "tenants": CATALOG["tenants"][:2]}, sort_keys=False))
    store = StateStore(state_url)  # a restart, with the catalogue cut short meanwhile
    try:
        result = _alerting_runner(config_files, store, confirm=False).tick()
        assert result is not None and _dropped(store) == []
        assert [e.dedup_key for e in outbox.entries(Status.PENDING)] == ["alert:gamma"]
        [held] = [a for a in result.alerts if a.cause == "controller-removals-held"]
        assert "removes 2 of 4 tenants (delta, gamma)" in held.summary
        confirmed = _alerting_runner(config_files, store, confirm=True).tick()
        assert confirmed is not None and _dropped(store) == [("gamma", 1)]
        [resolved] = [a for a in confirmed.alerts if a.cause == "controller-removals-held"]
        assert resolved.transition == "resolve"
        # Accepted now: the record holds the two, and a pass without the flag holds nothing.
        again = _alerting_runner(config_files, store, confirm=False).tick()
        assert again is not None and not [a for a in again.alerts if a.cause == "controller-removals-held"]
    finally:
        store.close()
