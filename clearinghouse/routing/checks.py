"""Configuration sanity of the outbound routing, as system checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def routing_timeouts_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The lease, renewed before each attempt, must outlive the attempt, or a second worker could send
    the same channel while the first still waits for an answer (duplicates, and messages out of order).

    One attempt ends within the connect timeout plus twice the read timeout (the answer's headers,
    then a body cut off at the deadline); the lease must be twice that, a margin for a stalled worker.
    """
    errors: list[CheckMessage] = []
    attempt = settings.ROUTING_CONNECT_TIMEOUT + 2 * settings.ROUTING_READ_TIMEOUT
    if 2 * attempt >= settings.ROUTING_LEASE_SECONDS:
        errors.append(
            Error(
                f"ROUTING_LEASE_SECONDS ({settings.ROUTING_LEASE_SECONDS}) must exceed twice the longest "
                f"delivery attempt ({attempt:g} s: connect timeout plus twice the read timeout)",
                id="routing.E001",
            )
        )
    if settings.ROUTING_MAX_ATTEMPTS < 1:
        errors.append(Error("ROUTING_MAX_ATTEMPTS must be at least 1", id="routing.E002"))
    if settings.ROUTING_BATCH_SIZE < 1:
        errors.append(Error("ROUTING_BATCH_SIZE must be at least 1", id="routing.E003"))
    return errors
