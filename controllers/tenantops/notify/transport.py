"""What the outbox needs from a mail transport, and the ways a delivery can fail.

The split into temporary and permanent failure decides the retry (as kopf's `TemporaryError` vs
`PermanentError`): a down server or a 4xx reply is worth waiting for; a 5xx reply will not change by
asking again, so the message is failed at once and a person is told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class DeliveryError(Exception):
    """A message was not accepted. `code` is the server's reply code when there was one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryDeliveryError(DeliveryError):
    """Try again later: connection refused, timeout, or a 4xx reply."""


class PermanentDeliveryError(DeliveryError):
    """Do not try again: a 5xx reply, or a message the service will never take."""


class InDoubtDeliveryError(DeliveryError):
    """The whole message reached the service but its answer did not (the connection broke or timed out
    after the final `.` of DATA): it was most likely accepted, so sending it again would most likely
    duplicate it. The outbox marks it in doubt and counts it instead of resending."""


class PartialDeliveryError(DeliveryError):
    """The service took the message for some recipients and refused the others (at RCPT TO), or refused
    every one, some only for now. `temporary`
    and `permanent` map each refused recipient to the server's reply. The accepted ones have their copy,
    so only the temporarily refused are tried again, with the same bytes (the same Message-ID); the
    permanently refused are told to a person."""

    def __init__(self, message: str, *, temporary: Mapping[str, str], permanent: Mapping[str, str],
                 accepted: int = 1) -> None:
        super().__init__(message)
        self.temporary = dict(temporary)
        self.permanent = dict(permanent)
        self.accepted = accepted  # recipients that took it (0: every one refused, some only for now)


class Transport(Protocol):
    """Hands one raw RFC 5322 message to a mail service for the given envelope."""

    name: str

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        """Return only when the service has accepted the message; raise a `DeliveryError` otherwise."""
        ...
