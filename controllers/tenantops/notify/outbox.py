"""A durable outbox for mail and alert notifications: queued before sending, retried with backoff, sent
once, never lost.

Messages live in their own table (`outbox`) of the controller's state database (the SQLite file at
`Settings.state`, or the PostgreSQL database of `TENANTOPS_DATABASE_URL` that replicas share), created by
the state store's migrations (`tenantops.record.schema`); a pass can queue mail in its own commit
(`Outbox.prepare` + `StateStore.commit(messages=...)`).

Guarantees, and how they are kept:

- **Queued once.** `enqueue` is idempotent on `dedup_key` (e.g. `report:weekly:2026-11-16`): the key is
  UNIQUE and the insert ignores a second one, so a controller restarted mid-pass, or two replicas, queue
  a report for a period exactly once.
- **Never lost.** A message leaves the table only by being accepted by the server (`sent`) or by failing
  permanently (`failed`, surfaced as an `Alert` and in `tenantops_outbox_failed_total`). A down or
  refusing server only moves `next_attempt_at` forward: exponential backoff from `base_delay` doubling
  up to `max_delay`; after `max_attempts` temporary failures the message is failed too, so a broken
  configuration cannot hide forever behind "will retry". A failed row stays untold (`alerted` 0) until
  the caller has queued its alert (`mark_told`); a run stopped in between, or one that tells no one,
  leaves it for the next run to tell (`untold`), under the same notice key, so it is told once.
- **Kept for a retention, then pruned.** A row nothing is owed on (`sent`, a job `done`, `in_doubt`, or
  `failed` once its failure was told) is deleted once it settled longer ago than the ControllerPolicy's
  `outbox_retention_days`, a bounded batch after each pass (`Outbox.prune` states the rule), unless its
  key still keeps a mail from being queued again (`_still_deduplicating`); pending and claimed rows never.
- **Sent once.** A row is claimed before sending (`status = 'sending'` with a lease, committed; in
  PostgreSQL the claim locks rows `FOR UPDATE SKIP LOCKED`, so two replicas never claim one row), so a
  second deliverer skips it; the server's acceptance and `status = 'sent'` are recorded in one
  transaction right after the send returns.
- **Crash between send and mark.** If the process dies after the server accepted a message but before
  `sent` was committed, the row stays `sending`. Nothing can tell from here whether the server got it.
  The outbox chooses the conservative side for reports and alerts: *resend* once the lease expires,
  because a lost cost report or alert is worse than a duplicate. Every message carries a `Message-ID`
  derived from its `dedup_key`, fixed when it is queued, so the resent copy is the same message and
  mail stores that de-duplicate on Message-ID collapse it. Each such resend is logged as `in doubt`
  and counted in `tenantops_outbox_in_doubt_total`. A row the controller stopped in the middle of
  twice running is given up on with its failure alert instead of being tried a third time: a message
  whose sending ends the process would otherwise end it again after every lease, for ever. While an
  attempt runs, its lease is renewed (`Outbox._holding`), so a lease that ran out always means the
  attempt stopped, never that it is slow (a report rendered for longer than the lease).
- **Reply lost after the message was sent.** When the transport says the whole message reached the
  server but its answer did not (`InDoubtDeliveryError`: the `250` after DATA lost to a broken or
  timed-out connection), the server most likely has it, and this time the outbox knows the send
  happened: the row is marked `in_doubt`, counted in `tenantops_outbox_in_doubt_total`, and not resent
  (resending is what mailed 23 duplicates with one Message-ID). An operator can requeue it
  (deploy/README.md, "Mail in doubt").
- **Refused for some recipients.** When the server takes the message for some recipients and refuses
  others at RCPT TO (`PartialDeliveryError`), the row goes on for the temporarily refused ones only (a
  greylisting relay, a full mailbox), so nobody gets a second copy and nobody goes without; the
  permanently refused are a failed row of their own (`<key>:refused:<attempt>`, the same message, named
  by its row's key rather than copied, told as a `mail-delivery-failed` alert like any failed row; set
  back to `pending` it goes to them only).
- **Claimed one at a time.** Each message is claimed just before its own send, so a slow server never
  leaves claimed-but-untried rows whose lease runs out and which would then be taken for in doubt.

**Jobs beside mail.** A row may be a job instead of a message (its kind one of `JOB_KINDS`): the
scheduled report's request, "render and send the report of this moment", recorded by a pass in one
cheap insert, idempotent on its key like any message. A delivery run given a handler for the kind claims
the row like a message and runs the handler instead of a transport (the report's handler queues the
tenants' budget mails, then the ops report, each under its own key); the row is then `done`. A handler
that raises is retried with the same backoff, and given up on (`failed`, an `Alert`) after
`max_attempts`, as a refused message is; a run stopped inside a handler leaves the row claimed, and the
next run after the lease runs the handler again, which queues only what is still missing. A run without
a handler for a kind (`tenantops report --send`) leaves its rows alone. A handler raising
`PermanentDeliveryError` (a refusal asking again will not change) fails the row at once.

**Alert notifications as jobs.** The chat webhook's notification of an alert transition (`WEBHOOK_NOTICE`,
key `webhook:<notice key>`) and Alertmanager's resolve (`ALERTMANAGER_RESOLVE`, key
`alertmanager:<notice key>`) are job rows committed in the pass that decided them, in the transaction
that records the episode, so a controller stopped after the pass neither loses the notification nor,
restarted, repeats it; the delivery run posts each and marks it `done` after a 2xx, with the same
backoff, give-up and failure alert as mail, and the same resend after a claim's lease ran out (a post
whose answer was lost may then arrive twice: for an alert, a duplicate is the lesser harm).

Time is passed in (`now`, when a delivery run starts), so backoff and leases are testable without sleeping.
A run is one message after another, and against a slow server 100 of them take many minutes; each claim
is therefore stamped with `now` plus the whole seconds the run has taken so far (a monotonic clock), so a claim
made 20 minutes into a run gets its own 5-minute lease, not one that ran out before it was taken, which
another replica would have read as "in doubt" and sent a second time while this one was still sending.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.engine import Row

from tenantops.endpoints import redact
from tenantops.notify.transport import (
    InDoubtDeliveryError,
    PartialDeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    Transport,
)
from tenantops.record import audit
from tenantops.record.database import Database, StateStoreError, may_exist, open_database
from tenantops.record.schema import outbox as table
from tenantops.record.schema import outbox_pruned as pruned_table
from tenantops.record.store import QueuedMessage, dialect_insert, enqueue_messages
from tenantops.structs.plan import Alert, Decision, Severity

log = logging.getLogger("tenantops.notify.outbox")

SENT = Counter("tenantops_outbox_sent_total", "Messages accepted by the mail service.", ["kind"])
FAILED = Counter(
    "tenantops_outbox_failed_total", "Messages given up on (permanent refusal or too many retries).", ["kind"]
)
RETRIES = Counter(
    "tenantops_outbox_retries_total", "Temporary delivery failures that were rescheduled.", ["kind"]
)
IN_DOUBT = Counter(
    "tenantops_outbox_in_doubt_total",
    "Messages whose delivery is uncertain: resent after a crash between send and mark, or sent whole with"
    " the reply lost (kept as in_doubt, not resent).",
    ["kind"],
)
# RFC 5322 allows 998-character lines; folding at 78 makes Python wrap a long Subject right after the
# colon, which some parsers (Python's included) read back with a leading space.
WIRE_POLICY = email_policy.SMTP.clone(max_line_length=998)

PENDING = Gauge("tenantops_outbox_pending", "Messages waiting in the outbox after the last delivery run.")

class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"  # sent whole, reply lost: most likely delivered, never resent automatically
    DONE = "done"  # a job row (`JOB_KINDS`) whose handler ran to the end


REPORT_REQUEST = "report-request"
"""The kind of a scheduled report's request: a job, rendered and queued as mail by the delivery run."""

WEBHOOK_NOTICE = "alert-webhook"
"""The kind of one alert notification for the chat webhook: a job whose payload is the JSON to post, queued
in the pass that decided it (`notify.alerting.plan_mail`) and posted by the delivery run
(`notify.alerting.webhook_jobs`)."""

ALERTMANAGER_RESOLVE = "alertmanager-resolve"
"""The kind of one resolved alert for Alertmanager: a job whose payload is the postable alert with its
`endsAt`, queued in the pass that resolved the episode and posted by the delivery run until it is taken or
Alertmanager has ended the alert on its own (`notify.alerting.alertmanager_jobs`)."""

JOB_KINDS = frozenset({REPORT_REQUEST, WEBHOOK_NOTICE, ALERTMANAGER_RESOLVE})
"""Row kinds that are jobs for a handler, not messages for a transport."""

MAIL = "mail"
CHANNEL_KINDS: Mapping[str, frozenset[str]] = {"webhook": frozenset({WEBHOOK_NOTICE}),
                                               "alertmanager": frozenset({ALERTMANAGER_RESOLVE})}
"""The row kinds of each channel but mail; every other kind (messages, report requests) is `MAIL`'s. A
delivery run given a `channel` claims only its rows, so each channel can be delivered on its own thread
and a slow mail server never delays a webhook post (`notify.worker`)."""
CHANNELS = (MAIL, *CHANNEL_KINDS)


MESSAGE_OF = b"outbox-message-of:"
"""How a row stores a message another row holds: this prefix and that row's key. The recipients refused for
good are such a row (`Outbox._refusal`): a second full copy of a large report, kept with the failed row, is
what it saved. The delivery run sends the message of the row named (`Outbox._message_of`)."""

STOPPED_MIDWAY = "stopped midway"
"""How a row's `last_error` marks that a run stopped while sending it (see `Outbox._stopped_twice`)."""


PRUNE_BATCH = 500
"""Rows `Outbox.prune` examines per call (one call after each pass): a table a year of passes filled is
emptied of its old rows over a few thousand passes, each a read and a delete of at most this many rows."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff after a temporary failure: `base_delay * 2**(attempts-1)`, capped at `max_delay`."""

    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 20
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """Wait before attempt number `attempts + 1`; `attempts` counts tries already made (>= 1)."""
        exponent = max(0, attempts - 1)
        if exponent >= 32:
            return self.max_delay
        return min(self.max_delay, self.base_delay * (1 << exponent))


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    kind: str
    dedup_key: str
    sender: str
    recipients: tuple[str, ...]
    status: Status
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    message: bytes = field(repr=False)
    tenant: str | None = None


@dataclass
class DeliveryReport:
    """What one `deliver` run did. `alerts` holds one Alert per message given up on in this run."""

    sent: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # job rows whose handler ran to the end
    dropped: list[str] = field(default_factory=list)  # job rows no longer true (`Obsolete`): done unposted


Job = Callable[["OutboxEntry", datetime], None]
"""The handler of one job kind: given the claimed row and the time of the claim; raising means "retry"."""


class Obsolete(Exception):
    """Raised by a job handler whose job is no longer true (a notice superseded, or too old to post): the row
    is done without it, with an audit row of `rule`, `reason` and `inputs`, in one transaction."""

    def __init__(self, rule: str, reason: str, **inputs: Any) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.inputs = inputs


def _ts(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def message_id_for(dedup_key: str, domain: str = "tenantops") -> str:
    """A Message-ID fixed by the dedup key, so a resent copy is recognisably the same message."""
    digest = hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def prepare(kind: str, dedup_key: str, message: EmailMessage | bytes, *, now: datetime, sender: str | None = None,
            recipients: Sequence[str] | None = None, tenant: str | None = None) -> QueuedMessage:
    """The stored form of a message (envelope, Message-ID, no Bcc), ready for `StateStore.commit(messages=)`.

    `tenant` is the tenant the message is about (None for ops-wide mail): pending mail of a tenant that
    leaves the catalogue is dropped (`StateStore.drop_mail_of_removed`)."""
    if isinstance(message, bytes):
        parsed = BytesParser(policy=email_policy.SMTP).parsebytes(message)
        assert isinstance(parsed, EmailMessage)
        message = parsed
    env_sender, env_recipients = _envelope(message)
    sender = sender or env_sender
    rcpts = list(recipients) if recipients is not None else env_recipients
    if not sender:
        raise ValueError(f"outbox message {dedup_key!r} has no sender (From header or sender=)")
    if not rcpts:
        raise ValueError(f"outbox message {dedup_key!r} has no recipients")
    if "Message-ID" not in message:
        message["Message-ID"] = message_id_for(dedup_key)
    del message["Bcc"]
    raw = message.as_bytes(policy=WIRE_POLICY)
    return QueuedMessage(kind, dedup_key, sender, tuple(rcpts), raw, _ts(now), tenant)


def prepare_job(kind: str, dedup_key: str, payload: bytes, *, now: datetime, recipients: Sequence[str] = (),
                tenant: str | None = None) -> QueuedMessage:
    """The stored form of a job row (`kind` one of `JOB_KINDS`), ready for `StateStore.commit(messages=)`."""
    if kind not in JOB_KINDS:
        raise ValueError(f"{kind!r} is not a job kind ({', '.join(sorted(JOB_KINDS))})")
    return QueuedMessage(kind, dedup_key, "", tuple(recipients), payload, _ts(now), tenant)


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    sender_addrs = getaddresses([str(message.get("From", ""))])
    sender = sender_addrs[0][1] if sender_addrs else ""
    fields_ = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    recipients = [addr for _, addr in getaddresses(fields_) if addr]
    return sender, recipients


class Outbox:
    """The outbox table of the state database at `location` (a URL, a SQLite path, or an open `Database`).

    Cheap to construct from a `Database`; from a location it connects per call (no pool is left behind
    by the short-lived instances the report and alert paths create).
    """

    def __init__(self, location: str | Path | Database, retry: RetryPolicy | None = None) -> None:
        self.db = location if isinstance(location, Database) else open_database(location, pooled=False)
        self.path = Path(self.db.url.database or "") if not self.db.is_postgresql else Path()
        self.retry = retry or RetryPolicy()
        self._pruned_to = 0  # the id of the last row `prune` examined, when it stopped before the end

    # -- queueing -------------------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        dedup_key: str,
        message: EmailMessage | bytes,
        *,
        now: datetime,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
        tenant: str | None = None,
    ) -> bool:
        """Queue `message` unless `dedup_key` was queued before; True when it was newly queued.

        The envelope defaults to the message's From and To/Cc/Bcc. A Message-ID derived from the key is
        added when the message has none, and Bcc is removed from the stored copy.
        """
        prepared = prepare(kind, dedup_key, message, now=now, sender=sender, recipients=recipients, tenant=tenant)
        with self.db.begin() as conn:
            queued = enqueue_messages(conn, [prepared], postgres=self.db.is_postgresql) == 1
        if queued:
            log.info("queued %s message %s for %d recipient(s)", kind, dedup_key, len(prepared.recipients))
        else:
            log.debug("not queued again: %s already in the outbox", dedup_key)
        return queued

    def enqueue_job(self, kind: str, dedup_key: str, payload: bytes, *, now: datetime,
                    recipients: Sequence[str] = (), tenant: str | None = None) -> bool:
        """Record a job row (`kind` one of `JOB_KINDS`) unless `dedup_key` is there already; True when new.
        `recipients` are for the reader of the table (and of a failure alert); the job says what it does.
        `tenant` is the tenant it is about, as for mail."""
        job = prepare_job(kind, dedup_key, payload, now=now, recipients=recipients, tenant=tenant)
        with self.db.begin() as conn:
            queued = enqueue_messages(conn, [job], postgres=self.db.is_postgresql) == 1
        if queued:
            log.info("queued %s job %s", kind, dedup_key)
        return queued

    # -- delivering -----------------------------------------------------------------------------------

    def _claim(self, now: datetime, limit: int, skip: Sequence[str] = (),
               channel: str | None = None) -> tuple[list[OutboxEntry], set[int]]:
        """Mark due rows `sending` with a lease; rows whose lease ran out while sending are in doubt. Rows
        of the kinds in `skip` (jobs without a handler in this run) are left alone, and with a `channel`
        so are the other channels' rows."""
        stamp = _ts(now)
        lease = _ts(now + self.retry.lease)
        due = sa.or_(
            sa.and_(table.c.status == Status.PENDING.value, table.c.next_attempt_at <= stamp),
            sa.and_(table.c.status == Status.SENDING.value, table.c.lease_until <= stamp),
        )
        if skip:
            due = sa.and_(due, table.c.kind.notin_(list(skip)))
        if channel is not None:
            due = sa.and_(due, _of_channel(channel))
        with self.db.begin() as conn:
            # SKIP LOCKED (PostgreSQL): another replica's claim in flight is passed over, not waited for.
            rows = conn.execute(
                sa.select(table).where(due).order_by(table.c.next_attempt_at, table.c.id).limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            entries: list[OutboxEntry] = []
            doubtful: set[int] = set()
            for row in rows:
                if row.status == Status.SENDING:
                    doubtful.add(int(row.id))
                conn.execute(
                    sa.update(table).where(table.c.id == row.id)
                    .values(status=Status.SENDING.value, attempts=table.c.attempts + 1, lease_until=lease)
                )
                entries.append(_entry(row, attempts=int(row.attempts) + 1))
        return entries, doubtful

    def _set(self, entry_id: int, **values: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(sa.update(table).where(table.c.id == entry_id).values(**values))

    def deliver(self, transport: Transport | None, now: datetime, limit: int = 100,
                jobs: Mapping[str, Job] | None = None, *, channel: str | None = None,
                checks: Mapping[str, Job] | None = None) -> DeliveryReport:
        """Try every due message once, the run starting at `now`, and run the job rows of the kinds `jobs`
        has a handler for (what they queue is sent in the same run). With a `channel` (one of `CHANNELS`),
        only that channel's rows are taken; a run for a channel without mail needs no `transport`. A message
        of a kind `checks` has a check for is sent only when the check does not raise `Obsolete` (a mail no
        longer true), and otherwise done unsent with its audit row. Returns what happened; never raises for
        a delivery failure or a failing job."""
        if channel is not None and channel not in CHANNELS:
            raise ValueError(f"unknown delivery channel {channel!r} (one of {', '.join(CHANNELS)})")
        if transport is None and channel in (None, MAIL):
            raise ValueError("a delivery run that sends mail needs a transport")
        report = DeliveryReport()
        handlers = dict(jobs or {})
        skip = sorted(JOB_KINDS - handlers.keys())
        started = time.monotonic()
        for _ in range(limit):
            # This claim's own time, to the whole second (a run of quick sends is stamped `now` exactly).
            at = now + timedelta(seconds=int(time.monotonic() - started))
            claimed, doubtful = self._claim(at, 1, skip, channel)
            if not claimed:
                break
            entry = claimed[0]
            if entry.id in doubtful and self._stopped_twice(entry, at, report):
                continue
            with self._holding(entry, at):
                self._attempt(entry, entry.id in doubtful, transport, handlers, at, report, checks or {})
        told = {a.notice_key for a in report.alerts}
        report.alerts += [a for a in self.untold(channel) if a.notice_key not in told]
        PENDING.set(self.count(Status.PENDING) + self.count(Status.SENDING))
        return report

    def _message_of(self, entry: OutboxEntry) -> bytes | None:
        """The bytes `entry` sends: its own, or those of the row it names (`MESSAGE_OF`); None when that
        row is gone."""
        message = entry.message
        for _ in range(8):  # a refused row set back to pending and refused again names the same row
            if not message.startswith(MESSAGE_OF):
                return message
            with self.db.read() as conn:
                stored = conn.execute(sa.select(table.c.message).where(
                    table.c.dedup_key == message[len(MESSAGE_OF):].decode("utf-8"))).scalar()
            if stored is None:
                return None
            message = bytes(stored)
        return None

    @contextmanager
    def _holding(self, entry: OutboxEntry, at: datetime) -> Iterator[None]:
        """Keep the claim's lease from running out while its attempt runs: renewed every third of the lease,
        each time to the lease from now on the attempt's own clock (`at` plus the seconds since it began), by
        the attempt that holds it only (its `attempts`, still `sending`). A lease that ran out then means the
        attempt stopped (its process ended, or stalled for a whole lease), never that it is slow: a report
        rendered for longer than the lease is not taken by another run as stopped midway, run a second time,
        and then given up on as stopped twice running while the first was still at it."""
        began, done = time.monotonic(), threading.Event()

        def renew() -> None:
            while not done.wait(self.retry.lease.total_seconds() / 3):
                until = at + timedelta(seconds=time.monotonic() - began) + self.retry.lease
                try:
                    with self.db.begin() as conn:
                        conn.execute(sa.update(table).where(table.c.id == entry.id, table.c.attempts == entry.attempts,
                                                            table.c.status == Status.SENDING.value)
                                     .values(lease_until=_ts(until)))
                except (sa.exc.DBAPIError, StateStoreError) as exc:  # the next renewal tries again
                    log.warning("renewing the claim on %s failed: %s", entry.dedup_key, exc)

        renewer = threading.Thread(target=renew, name=f"outbox-lease-{entry.id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()

    def _attempt(self, entry: OutboxEntry, doubtful: bool, transport: Transport | None, handlers: Mapping[str, Job],
                 at: datetime, report: DeliveryReport, checks: Mapping[str, Job]) -> None:
        """One claimed row's attempt: its job's handler, or its send through `transport` (unless its kind's
        check finds it obsolete), and the outcome."""
        handler = handlers.get(entry.kind)
        if handler is not None:
            if doubtful:  # a job is safe to run again: it queues only what is missing
                log.warning("%s was running when a previous run stopped; running it again", entry.dedup_key)
            self._run_job(entry, handler, at, report)
            return
        check = checks.get(entry.kind)
        if check is not None:
            try:
                check(entry, at)
            except Obsolete as exc:
                self._obsolete(entry, exc, at, report)
                return
        if doubtful:
            IN_DOUBT.labels(entry.kind).inc()
            report.in_doubt.append(entry.dedup_key)
            log.warning(
                "in doubt: %s was being sent when a previous run stopped; resending with the same"
                " Message-ID", entry.dedup_key,
            )
        assert transport is not None  # a run without one takes only job rows (checked above)
        message = self._message_of(entry)
        if message is None:
            self._fail(entry, f"the message it sends is the row {entry.message[len(MESSAGE_OF):].decode()!r}'s,"
                              " which is no longer in the outbox", at, report)
            return
        try:
            transport.send(entry.sender, entry.recipients, message)
        except InDoubtDeliveryError as exc:
            self._doubt(entry, f"{transport.name}: {exc}", at, report)
        except PartialDeliveryError as exc:
            self._partial(entry, exc, transport.name, at, report)
        except PermanentDeliveryError as exc:
            self._fail(entry, f"{transport.name}: {exc}", at, report)
        except TemporaryDeliveryError as exc:
            self._reschedule(entry, f"{transport.name}: {exc}", at, report)
        except Exception as exc:  # a transport error nobody foresaw: a failed attempt, never the run's end
            log.warning("%s: unexpected error sending %s", transport.name, entry.dedup_key, exc_info=True)
            self._reschedule(entry, redact(f"{transport.name}: {type(exc).__name__}: {exc}"), at, report)
        else:
            self._set(entry.id, status=Status.SENT.value, sent_at=_ts(at), lease_until=None, last_error=None)
            SENT.labels(entry.kind).inc()
            report.sent.append(entry.dedup_key)
            log.info("sent %s via %s (attempt %d)", entry.dedup_key, transport.name, entry.attempts)

    def _stopped_twice(self, entry: OutboxEntry, now: datetime, report: DeliveryReport) -> bool:
        """Give up on a row the controller stopped in the middle of twice running: a message or report
        whose sending crashes the process (memory, a library fault) would otherwise be taken again after
        every lease, crash the controller each time and take scaling down with it, for ever, since no
        failure is ever recorded to count. The first stop is marked on the row (`last_error`) before it is
        tried again; a try that ends, either way, replaces the mark."""
        if (entry.last_error or "").startswith(STOPPED_MIDWAY):
            self._fail(entry, f"given up: the controller stopped while sending it twice running (attempt "
                              f"{entry.attempts}); a message that ends the process when sent", now, report)
            return True
        self._set(entry.id, last_error=f"{STOPPED_MIDWAY} at attempt {entry.attempts - 1}")
        return False

    def _run_job(self, entry: OutboxEntry, handler: Job, now: datetime, report: DeliveryReport) -> None:
        try:
            handler(entry, now)
        except Obsolete as exc:
            self._obsolete(entry, exc, now, report)
            return
        except PermanentDeliveryError as exc:  # a refusal that asking again will not change
            self._fail(entry, str(exc), now, report)
            return
        except Exception as exc:  # a job that fails is retried, then given up on and alerted, as mail is
            log.warning("job %s raised", entry.dedup_key, exc_info=True)
            self._reschedule(entry, f"{type(exc).__name__}: {exc}", now, report)
            return
        self._set(entry.id, status=Status.DONE.value, sent_at=_ts(now), lease_until=None, last_error=None)
        report.done.append(entry.dedup_key)
        log.info("done: %s (attempt %d)", entry.dedup_key, entry.attempts)

    def _obsolete(self, entry: OutboxEntry, exc: Obsolete, now: datetime, report: DeliveryReport) -> None:
        verb = "posted" if entry.kind in JOB_KINDS else "sent"
        decision = Decision(now, entry.tenant, None, "outbox", exc.rule, f"{entry.dedup_key} not {verb}: {exc.reason}",
                            inputs={"dedup_key": entry.dedup_key, "kind": entry.kind, "attempts": entry.attempts,
                                    "queued_at": entry.created_at.isoformat(), **exc.inputs})
        with self.db.begin() as conn:
            conn.execute(sa.update(table).where(table.c.id == entry.id).values(
                status=Status.DONE.value, sent_at=_ts(now), lease_until=None, last_error=f"not {verb}: {exc.reason}"))
            audit.append(conn, [decision])
        report.dropped.append(entry.dedup_key)
        log.warning("%s not %s: %s", entry.dedup_key, verb, exc.reason)

    def prune(self, now: datetime, retention: timedelta, limit: int = PRUNE_BATCH) -> list[str]:
        """Delete the rows nothing is owed on any more, settled longer than `retention` before `now` (their
        `sent_at`: when they were sent, done, given up on or found in doubt), at most `limit` of them examined
        per call; returns the keys deleted. The rule, so that pruning never loses nor repeats a mail:

        - `sent` and `done` rows: delivered (or done unposted, with an audit row).
        - `failed` rows once their failure was told (`alerted`, `mark_told`): the failure alert is queued,
          and for `retention` a person could set the row back to `pending`; an untold one stays until a
          run tells it (`untold`), whenever that is. (Rows failed before failures were marked, without a
          `sent_at`, are never pruned.)
        - `in_doubt` rows: never resent by the outbox, only by a person who finds the recipients lack the
          mail (deploy/README.md, "Mail in doubt"); `retention` is how long that stays possible.
        - Never a `pending` or `sending` row: the outbox still delivers it (a claim whose lease ran out is
          taken again). A row set back to `pending` is no longer settled, and its retention starts anew.
        - Never a row whose key still deduplicates (`_still_deduplicating`), whatever its status: its alert
          episode is still in the alert state, it is the scheduled report of the latest moment requested, or
          a row still to send names its message (`MESSAGE_OF`). Deleting it would let the key be queued, and
          mailed, again.

        The deleted rows are counted by kind and status in `outbox_pruned`, in the same transaction, so the
        counters read from the table (`OutboxCollector`) do not go down. Each call takes the rows after the
        last one the previous call examined, by id, and starts again from the first when it reaches the
        end, so rows kept for deduplication are read again once per round, not every pass."""
        cutoff = _ts(now - retention)
        owed_nothing = sa.or_(
            table.c.status.in_([Status.SENT.value, Status.DONE.value, Status.IN_DOUBT.value]),
            sa.and_(table.c.status == Status.FAILED.value, table.c.alerted == 1),
        )
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(table.c.id, table.c.dedup_key, table.c.kind, table.c.status)
                                .where(owed_nothing, table.c.sent_at < cutoff, table.c.id > self._pruned_to)
                                .order_by(table.c.id).limit(limit)).all()
            self._pruned_to = int(rows[-1].id) if len(rows) == limit else 0
            kept = _still_deduplicating(conn, [str(row.dedup_key) for row in rows])
            gone = [row for row in rows if row.dedup_key not in kept]
            if gone:
                conn.execute(sa.delete(table).where(table.c.id.in_([int(row.id) for row in gone]), owed_nothing))
                _count_pruned(conn, gone, postgres=self.db.is_postgresql)
        if gone:
            log.info("pruned %d settled outbox row(s) older than %s", len(gone), retention)
        return [str(row.dedup_key) for row in gone]

    def keys_starting(self, prefix: str) -> list[str]:
        """The keys of the rows whose key begins with `prefix` (taken literally)."""
        with self.db.read() as conn:
            return [str(k) for k in conn.execute(sa.select(table.c.dedup_key)
                                                 .where(table.c.dedup_key.startswith(prefix, autoescape=True)))
                    .scalars()]

    def _doubt(self, entry: OutboxEntry, error: str, now: datetime, report: DeliveryReport) -> None:
        self._set(entry.id, status=Status.IN_DOUBT.value, sent_at=_ts(now), lease_until=None, last_error=error)
        IN_DOUBT.labels(entry.kind).inc()
        report.in_doubt.append(entry.dedup_key)
        log.warning("in doubt, not resent: %s (%s)", entry.dedup_key, error)

    def _partial(self, entry: OutboxEntry, exc: PartialDeliveryError, transport: str, now: datetime,
                 report: DeliveryReport) -> None:
        """Refused for some recipients: the row goes on for the temporarily refused ones only (a greylisting
        relay takes them at a later attempt), and the permanently refused are an alert for a person."""
        error = f"{transport}: {exc}"
        if exc.accepted:
            SENT.labels(entry.kind).inc()
        if exc.permanent:
            why = "; ".join(f"{r}: {reply}" for r, reply in sorted(exc.permanent.items()))
            refused = self._refusal(entry, tuple(sorted(exc.permanent)), f"{transport}: refused ({why})", now)
            report.alerts.append(failure_alert(refused, refused.last_error or why, now))
            FAILED.labels(entry.kind).inc()
            log.error("refused permanently for %s: %s (%s)", ", ".join(refused.recipients), entry.dedup_key, why)
        if not exc.temporary:
            self._set(entry.id, status=Status.SENT.value, sent_at=_ts(now), lease_until=None, last_error=error)
            report.sent.append(entry.dedup_key)
            return
        remaining = tuple(r for r in entry.recipients if r in exc.temporary) or tuple(sorted(exc.temporary))
        self._set(entry.id, recipients=json.dumps(list(remaining)))
        self._reschedule(replace(entry, recipients=remaining), error, now, report)

    def _refusal(self, entry: OutboxEntry, recipients: tuple[str, ...], error: str, now: datetime) -> OutboxEntry:
        """The recipients `entry` was refused for good, as a failed row of their own (key
        `<key>:refused:<attempt>`, the same message), untold until its alert is queued: so the refusal
        is told even by a run stopped before it routed its alerts (`untold`), and setting the row back
        to `pending` sends the message to them only."""
        # The row names the message's row rather than holding a second copy of it (`MESSAGE_OF`).
        message = entry.message if entry.message.startswith(MESSAGE_OF) else MESSAGE_OF + entry.dedup_key.encode()
        refused = replace(entry, dedup_key=f"{entry.dedup_key}:refused:{entry.attempts}", recipients=recipients,
                          status=Status.FAILED, last_error=error, message=message)
        row = QueuedMessage(entry.kind, refused.dedup_key, entry.sender, recipients, message, _ts(now),
                            entry.tenant)
        with self.db.begin() as conn:
            enqueue_messages(conn, [row], postgres=self.db.is_postgresql)
            conn.execute(sa.update(table).where(table.c.dedup_key == refused.dedup_key,
                                                table.c.status == Status.PENDING.value)
                         .values(status=Status.FAILED.value, attempts=entry.attempts, sent_at=_ts(now),
                                 last_error=error, alerted=0))
        return refused

    def _reschedule(self, entry: OutboxEntry, error: str, now: datetime, report: DeliveryReport) -> None:
        if entry.attempts >= self.retry.max_attempts:
            self._fail(entry, f"gave up after {entry.attempts} attempts; last error: {error}", now, report)
            return
        at = now + self.retry.delay(entry.attempts)
        self._set(entry.id, status=Status.PENDING.value, next_attempt_at=_ts(at), lease_until=None, last_error=error)
        RETRIES.labels(entry.kind).inc()
        report.retried.append(entry.dedup_key)
        log.warning("will retry %s at %s (attempt %d failed: %s)", entry.dedup_key, at.isoformat(),
                    entry.attempts, error)

    def _fail(self, entry: OutboxEntry, error: str, now: datetime, report: DeliveryReport) -> None:
        # `alerted` 0 until the caller has queued the failure alert (`mark_told`); `sent_at` is when the
        # row was given up on, which the alert's episode is made of, so one told again is the same notice.
        self._set(entry.id, status=Status.FAILED.value, sent_at=_ts(now), lease_until=None, last_error=error,
                  alerted=0)
        FAILED.labels(entry.kind).inc()
        report.failed.append(entry.dedup_key)
        report.alerts.append(failure_alert(entry, error, now))
        log.error("failed permanently: %s (%s)", entry.dedup_key, error)

    # -- reading --------------------------------------------------------------------------------------

    def entries(self, status: Status | None = None) -> list[OutboxEntry]:
        stmt = sa.select(table).order_by(table.c.id)
        if status:
            stmt = stmt.where(table.c.status == str(status))
        with self.db.read() as conn:
            return [_entry(row) for row in conn.execute(stmt).all()]

    def get(self, dedup_key: str) -> OutboxEntry | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(table).where(table.c.dedup_key == dedup_key)).first()
        return None if row is None else _entry(row)

    def count(self, status: Status) -> int:
        with self.db.read() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.status == str(status)))
            return int(n.scalar_one())

    def failure_alerts(self, channel: str | None = None) -> list[Alert]:
        """One Alert per row still failed (of `channel`'s kinds, or all), told or not: the set a route that
        wants every condition firing now is given each pass (Alertmanager ends an alert not posted again
        before its `endsAt`). Read without the messages themselves, which the alerts do not need."""
        stmt = sa.select(*[c for c in table.c if c.name != "message"]).where(table.c.status == Status.FAILED.value)
        if channel is not None:
            stmt = stmt.where(_of_channel(channel))
        with self.db.read() as conn:
            rows = conn.execute(stmt.order_by(table.c.id)).all()
        entries = [_entry(row, message=b"") for row in rows]
        return [failure_alert(e, e.last_error or "unknown error", e.sent_at) for e in entries]

    def untold(self, channel: str | None = None) -> list[Alert]:
        """The failure alerts of rows given up on whose alert was not queued yet (`mark_told`): a run
        stopped between failing a row and telling it, or one that tells no one (`tenantops report
        --send`). Rows failed before failures were marked untold (no `sent_at`) are not told again."""
        stmt = sa.select(table).where(table.c.status == Status.FAILED.value, table.c.alerted == 0,
                                      table.c.sent_at.is_not(None))
        if channel is not None:
            stmt = stmt.where(_of_channel(channel))
        with self.db.read() as conn:
            rows = [_entry(row) for row in conn.execute(stmt.order_by(table.c.id)).all()]
        return [failure_alert(e, e.last_error or "unknown error", e.sent_at) for e in rows]

    def mark_told(self, alerts: Sequence[Alert]) -> None:
        """Record that the failure alerts among `alerts` were queued to be told (alert mail and webhook
        notices are outbox rows), so no later run tells them again."""
        rows = sorted({str(a.details["row"]) for a in alerts if "row" in a.details})
        if rows:
            with self.db.begin() as conn:
                conn.execute(sa.update(table).where(table.c.dedup_key.in_(rows), table.c.status == Status.FAILED.value)
                             .values(alerted=1))


EPISODE_ROW = re.compile(r"^(?:alert|webhook|alertmanager):(?P<key>.+):(?P<episode>\d{4}-\d\d-\d\dT[\d:.]+"
                         r"(?:[+-]\d\d:\d\d|Z)):(?:fire|escalate|resolve):[a-z]+$")
"""The key of a row notifying one transition of an alert episode: its route, then the notice key
(`Alert.notice_key`: `<alert key>:<episode>:<transition>:<severity>`)."""


def _still_deduplicating(conn: sa.Connection, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that a later pass or run could queue again, whose row must stay for the key to
    be skipped (`enqueue_messages`): so pruning never repeats a notification or a report.

    - An alert notification keys its episode (the time it began) and transition, and the lifecycle
      (`decide.alerts`) can decide the same transition of that episode again while its record keeps that
      episode (a flapping condition goes on in its episode, an escalation after a resolve has its key): the
      row stays while the record in the alert state has that episode, which it forgets 40 days after the
      episode cleared; an episode begun after that has a new key.
    - A scheduled report's rows (`cost-report:<moment>`, its request and its tenants' mails): the reports
      state remembers the latest moment requested and asks only for later ones, but finds that one in the
      outbox when it has no state of its own (an upgrade); its rows stay, and every scheduled report's
      while nothing was recorded as requested.
    - A row whose message a row not settled yet sends (a recipient refused for good, `MESSAGE_OF`)."""
    from tenantops.decide.alerts import STATE as ALERTS
    from tenantops.decide.reports.decider import NAME as REPORTS
    from tenantops.decide.reports.decider import REQUESTED
    from tenantops.record.schema import state
    from tenantops.structs.reports import REPORT_KEY_PREFIX

    if not keys:
        return set()
    kept: set[str] = set()
    episodes: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        match = EPISODE_ROW.match(key)
        if match is not None:
            episodes.setdefault(match["key"], []).append((match["episode"], key))
    if episodes:
        records = conn.execute(sa.select(state.c.key, state.c.value).where(
            state.c.decider == ALERTS, state.c.key.in_(sorted(episodes)))).all()
        for alert_key, value in records:
            began = _began(value)
            kept.update(key for episode, key in episodes[str(alert_key)]
                        if began is not None and _same(episode, began))
    scheduled = f"{REPORT_KEY_PREFIX}:"  # then the moment; `tenantops report --send` keys `...:manual:...`
    reports = [k for k in keys if k.startswith(scheduled) and k[len(scheduled):][:1].isdigit()]
    if reports:
        latest = conn.execute(sa.select(state.c.value).where(state.c.decider == REPORTS,
                                                             state.c.key == REQUESTED)).scalar()
        moment = json.loads(latest) if latest is not None else None
        if not isinstance(moment, str):
            kept.update(reports)
        else:
            ours = f"{REPORT_KEY_PREFIX}:{moment}"
            kept.update(k for k in reports if k == ours or k.startswith(f"{ours}:"))
    named = conn.execute(sa.select(table.c.message).where(
        table.c.status.notin_([Status.SENT.value, Status.DONE.value]),
        table.c.dedup_key.contains(":refused:", autoescape=True))).scalars()
    kept.update(bytes(m)[len(MESSAGE_OF):].decode("utf-8") for m in named if bytes(m).startswith(MESSAGE_OF))
    return kept


def _count_pruned(conn: sa.Connection, rows: Sequence[Row[Any, Any, Any, Any]], *, postgres: bool) -> None:
    """Add the pruned `rows` to `outbox_pruned`, by kind and status (inside the pruning transaction)."""
    counts = collections.Counter((str(row.kind), str(row.status)) for row in rows)
    insert = dialect_insert(pruned_table, postgres=postgres)
    upsert = insert.on_conflict_do_update(index_elements=[pruned_table.c.kind, pruned_table.c.status],
                                          set_={"count": pruned_table.c.count + insert.excluded.count})
    for (kind, status), count in sorted(counts.items()):
        conn.execute(upsert, {"kind": kind, "status": status, "count": count})


def _began(value: str) -> datetime | None:
    """When the episode of an alert record (its JSON, `AlertRecord.to_json`) began, or None."""
    try:
        raw = json.loads(value)
        return datetime.fromisoformat(raw["ff"]) if isinstance(raw, dict) and raw.get("ff") else None
    except (ValueError, TypeError):
        return None


def _same(episode: str, began: datetime) -> bool:
    try:
        return datetime.fromisoformat(episode) == began
    except ValueError:
        return False


def _of_channel(channel: str) -> sa.ColumnElement[bool]:
    """The rows of `channel`: its kinds, or for mail every kind no other channel has."""
    if channel == MAIL:
        return table.c.kind.notin_(sorted(set().union(*CHANNEL_KINDS.values())))
    return table.c.kind.in_(sorted(CHANNEL_KINDS[channel]))


def _entry(row: Row[Any], attempts: int | None = None, message: bytes | None = None) -> OutboxEntry:
    return OutboxEntry(
        id=int(row.id),
        kind=str(row.kind),
        dedup_key=str(row.dedup_key),
        sender=str(row.sender),
        recipients=tuple(json.loads(row.recipients)),
        status=Status(row.status),
        attempts=int(row.attempts) if attempts is None else attempts,
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        next_attempt_at=datetime.fromtimestamp(row.next_attempt_at, UTC),
        sent_at=_dt(row.sent_at),
        last_error=row.last_error,
        message=bytes(row.message) if message is None else message,
        tenant=row.tenant,
    )


DELIVERY_FAILED_CAUSES = frozenset({"mail-delivery-failed", "webhook-delivery-failed",
                                    "alertmanager-delivery-failed"})
"""The causes of `failure_alert`: mail (and the report's render, which is mail), the chat webhook, and
Alertmanager; its `kind` detail says which outbox row failed."""


def failure_alert(entry: OutboxEntry, error: str, at: datetime | None = None) -> Alert:
    """The Alert a person sees when mail could not be delivered (or a job not done): what, to whom, why,
    what to do. `at` is when the failure happened: each failure of a row is its own notice (its episode),
    so a message refused for one recipient and later given up on for another is told twice, not once."""
    alert = _failure_alert(entry, error)
    if at is None:
        return alert
    return replace(alert, episode=at.astimezone(UTC).replace(microsecond=0).isoformat(), transition="fire")


def _details(entry: OutboxEntry) -> dict[str, Any]:
    """What a failure alert carries of its row: its kind (which channel), attempts, recipients, and its key
    (`Outbox.mark_told`)."""
    return {"kind": entry.kind, "attempts": entry.attempts, "recipients": list(entry.recipients),
            "row": entry.dedup_key}


def _failure_alert(entry: OutboxEntry, error: str) -> Alert:
    if entry.kind in (WEBHOOK_NOTICE, ALERTMANAGER_RESOLVE):
        # The cause names the channel that failed (on-call is sent to its setting, and routing skips it):
        # a webhook or Alertmanager that refused is not a mail problem.
        if entry.kind == WEBHOOK_NOTICE:
            where, setting, cause = "webhook", "TENANTOPS_WEBHOOK_URL", "webhook-delivery-failed"
        else:
            where, setting, cause = "Alertmanager", "TENANTOPS_ALERTMANAGER_URL", "alertmanager-delivery-failed"
        return Alert(
            key=f"outbox-failed:{entry.dedup_key}", tenant=None, severity=Severity.WARNING,
            cause=cause,
            summary=f"{where} notification {entry.dedup_key} was not delivered: {error}",
            suggested_action=(
                f"Check {setting} and that the receiver takes the post; the notification is kept in the outbox"
                " table with status 'failed', and setting it back to 'pending' sends it again."
            ),
            details=_details(entry),
        )
    if entry.kind in JOB_KINDS:
        return Alert(
            key=f"outbox-failed:{entry.dedup_key}", tenant=None, severity=Severity.WARNING,
            cause="mail-delivery-failed",
            summary=(f"{entry.kind} {entry.dedup_key} for {', '.join(entry.recipients) or 'ops'} was given up"
                     f" on: {error}"),
            suggested_action=(
                "Read the controller log for the error (the report could not be rendered or queued); the job is"
                " kept in the outbox table with status 'failed', and setting it back to 'pending' runs it again."
            ),
            details=_details(entry),
        )
    return Alert(
        key=f"outbox-failed:{entry.dedup_key}",
        tenant=None,
        severity=Severity.WARNING,
        cause="mail-delivery-failed",
        summary=(
            f"{entry.kind} mail {entry.dedup_key} to {', '.join(entry.recipients)} was not delivered: {error}"
        ),
        suggested_action=(
            "Check the mail transport settings (TENANTOPS_SMTP_* or SES identity) and the recipients;"
            " the message is kept in the outbox table with status 'failed'."
        ),
        details=_details(entry),
    )


class OutboxCollector:
    """Outbox figures read from the table at scrape time, for the controller's own registry:

        registry.register(OutboxCollector(store.db))

    Read from the database rather than counted in memory, so `tenantops_outbox_failed_total` survives a
    restart and agrees across replicas; the rows pruned are counted in `outbox_pruned` and added to the
    sent and failed counters, which keeps them monotonic. A scrape while the database is unreachable
    reports no outbox figures rather than failing /metrics.
    """

    def __init__(self, source: Database | str | Path) -> None:
        self.source = source

    def _database(self) -> Database | None:
        if isinstance(self.source, Database):
            return self.source
        return open_database(self.source, pooled=False) if may_exist(self.source) else None

    def describe(self) -> list[Any]:
        return []  # figures depend on the table's contents; nothing to pre-declare

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        messages = GaugeMetricFamily(
            "tenantops_outbox_messages", "Messages in the outbox by kind and status.", labels=["kind", "status"]
        )
        failed = CounterMetricFamily(
            "tenantops_outbox_failed", "Messages given up on (permanent refusal or too many retries).",
            labels=["kind"],
        )
        sent = CounterMetricFamily("tenantops_outbox_sent", "Messages accepted by the mail service.", labels=["kind"])
        oldest = GaugeMetricFamily(
            "tenantops_outbox_oldest_pending_timestamp_seconds",
            "Queue time of the oldest message not yet delivered (absent when none).",
        )
        rows: Sequence[Any] = []
        pruned: Sequence[Any] = []
        first = None
        try:
            db = self._database()
            if db is None:
                raise LookupError("no state database yet")
            with db.read() as conn:
                rows = conn.execute(
                    sa.select(table.c.kind, table.c.status, sa.func.count()).group_by(table.c.kind, table.c.status)
                ).all()
                pruned = conn.execute(sa.select(pruned_table.c.kind, pruned_table.c.status, pruned_table.c.count)).all()
                first = conn.execute(
                    sa.select(sa.func.min(table.c.created_at))
                    .where(table.c.status.in_([Status.PENDING.value, Status.SENDING.value]))
                ).scalar()
        except LookupError:
            pass
        except (sa.exc.DBAPIError, StateStoreError) as exc:
            log.warning("outbox figures unavailable: %s", exc)
        totals: dict[tuple[str, str], int] = {}
        for kind, status, count in rows:
            messages.add_metric([kind, status], count)
            totals[(kind, status)] = int(count)
        for kind, status, count in pruned:  # rows gone still count: a counter never goes down
            totals[(kind, status)] = totals.get((kind, status), 0) + int(count)
        for (kind, status), count in sorted(totals.items()):
            if status == Status.FAILED:
                failed.add_metric([kind], count)
            elif status == Status.SENT:
                sent.add_metric([kind], count)
        if first is not None:
            oldest.add_metric([], first)
        yield messages
        yield failed
        yield sent
        yield oldest
