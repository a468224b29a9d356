"""Delivering one channel: its lease, head-of-line order, and one attempt per message."""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from clearinghouse.api.secrets import field_fernet
from clearinghouse.lib.crypto import decrypt
from partners.models import Partner
from partners.selectors import endpoint_for, signing_user_of

from . import client
from .hooks import hook_run
from .models import DeliveryChannel, OutboxMessage

logger = logging.getLogger(__name__)

PENDING = OutboxMessage.State.PENDING


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: half fixed, half random, so retries of many messages spread."""
    # The exponent is bounded so a large ROUTING_MAX_ATTEMPTS cannot overflow the float.
    exponent = min(max(attempts - 1, 0), 60)
    delay = min(settings.ROUTING_BACKOFF_CAP_SECONDS, settings.ROUTING_BACKOFF_BASE_SECONDS * 2**exponent)
    return delay / 2 + random.uniform(0, delay / 2)


# --- The lease ------------------------------------------------------------------------------------
# Only the worker holding a channel's lease sends its messages, so they go out one at a time and in
# order. Each change is a conditional UPDATE; a worker that dies leaves a lease that simply expires.


def _lease_claim(channel_id: int, token: str) -> bool:
    now = timezone.now()
    return bool(
        DeliveryChannel.objects.filter(pk=channel_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=settings.ROUTING_LEASE_SECONDS), lease_token=token)
    )


def _lease_renew(channel_id: int, token: str) -> bool:
    """Extend our lease before each send; False when it expired and another worker took the channel
    (this worker stalled longer than a lease), which must then stop at once."""
    return bool(
        DeliveryChannel.objects.filter(pk=channel_id, lease_token=token).update(
            lease_until=timezone.now() + timedelta(seconds=settings.ROUTING_LEASE_SECONDS)
        )
    )


def _lease_release(channel_id: int, token: str) -> None:
    DeliveryChannel.objects.filter(pk=channel_id, lease_token=token).update(lease_until=None, lease_token="")


# --- Settling a message ---------------------------------------------------------------------------


def _settle_dead(message: OutboxMessage, error: str, status_code: int | None = None) -> None:
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, state=PENDING).update(
            state=OutboxMessage.State.DEAD,
            last_error=error[:2000],
            last_status_code=status_code,
            attempts=message.attempts,
            url=message.url[:700],
        )
        if updated:
            message.state = OutboxMessage.State.DEAD
            message.last_error = error
            message.last_status_code = status_code
            hook_error = hook_run(message, "on_dead")
            if hook_error:
                OutboxMessage.objects.filter(pk=message.pk).update(last_error=f"{error[:1400]}; {hook_error}")
    logger.warning("delivery %s dead-lettered: %s", message.message_id, error[:200])


def _settle_failed(message: OutboxMessage, error: str, status_code: int | None, retryable: bool) -> bool:
    """Record a failed attempt; True when the channel may go on (the message is no longer its head)."""
    if not retryable or message.attempts >= message.max_attempts:
        _settle_dead(message, error, status_code)
        return True
    # Conditional on PENDING: a message cancelled while it was in flight stays cancelled.
    updated = OutboxMessage.objects.filter(pk=message.pk, state=PENDING).update(
        attempts=message.attempts,
        last_error=error[:2000],
        last_status_code=status_code,
        url=message.url[:700],
        next_attempt_at=timezone.now() + timedelta(seconds=backoff_seconds(message.attempts)),
    )
    return not updated


def _settle_delivered(message: OutboxMessage, response: client.PartnerResponse) -> None:
    fields = {
        "state": OutboxMessage.State.DELIVERED,
        "attempts": message.attempts,
        "delivered_at": timezone.now(),
        "last_status_code": response.status_code,
        "last_error": response.note,
        "response_body": response.body,
        "url": message.url[:700],
    }
    # Any state but DELIVERED: the partner has the message, so that is the truth even when staff
    # cancelled it meanwhile; and the on_delivered hook runs once even if a worker that lost its
    # lease delivered it a second time.
    target = OutboxMessage.objects.filter(pk=message.pk).exclude(state=OutboxMessage.State.DELIVERED)
    with transaction.atomic():
        try:
            with transaction.atomic():
                updated = target.update(**fields)
        except DatabaseError as exc:
            # An answer the database refuses to store (PostgreSQL rejects "\u0000" in JSON) must not
            # turn a delivered message into one that is sent again and again.
            fields["response_body"] = None
            fields["last_error"] = f"answer not kept: {type(exc).__name__}"
            updated = target.update(**fields)
        if updated:
            message.state = OutboxMessage.State.DELIVERED
            message.delivered_at = fields["delivered_at"]
            message.last_status_code = response.status_code
            message.response_body = fields["response_body"]
            hook_error = hook_run(message, "on_delivered", response.body)
            if hook_error:
                OutboxMessage.objects.filter(pk=message.pk).update(last_error=hook_error)


# --- One attempt ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: str
    secret: str
    key_id: str


def _target_of(message: OutboxMessage) -> _Target:
    """Where and how to sign, read at each attempt so endpoint changes and secret rotations apply."""
    endpoint = endpoint_for(partner_id=message.partner_id, role=message.role)
    if endpoint is None:
        raise client.DeliveryFailed("the partner has no active endpoint for this role")
    url = endpoint.url.rstrip("/") + "/" + message.path
    if not settings.ROUTING_ALLOW_HTTP and not url.lower().startswith("https://"):
        raise client.DeliveryFailed("the endpoint is plain http, which ROUTING_ALLOW_HTTP forbids")
    signer = signing_user_of(partner_id=message.partner_id)
    if signer is None:
        raise client.DeliveryFailed("the partner has no active API user whose secret could sign")
    secret = decrypt(field_fernet(), signer.hmac_secret_encrypted)
    return _Target(url=url, secret=secret, key_id=signer.user.get_username())


def _attempt(message: OutboxMessage) -> bool:
    """Send one message. True when the channel may go on to its next message."""
    status = Partner.objects.filter(pk=message.partner_id).values_list("status", flat=True).first()
    if status != Partner.Status.ACTIVE:
        _settle_dead(message, f"partner is {(status or 'deleted').lower()}: nothing is routed to it")
        return True
    message.attempts += 1
    try:
        target = _target_of(message)
        message.url = target.url
        response = client.signed_post(
            url=target.url,
            payload=message.payload,
            secret=target.secret,
            key_id=target.key_id,
            message_id=str(message.message_id),
            event_type=message.event_type,
        )
    except client.DeliveryFailed as exc:
        return _settle_failed(message, str(exc), exc.status_code, exc.retryable)
    except Exception as exc:
        # A fault on our side (a secret the configured keys cannot decrypt, a bug): counted as a
        # failed attempt, so the message backs off and is finally dead-lettered with the reason
        # instead of being retried at every sweep and holding up its channel forever.
        logger.exception("delivery %s failed on the hub's side", message.message_id)
        return _settle_failed(message, f"hub error: {type(exc).__name__}: {exc}", None, True)
    _settle_delivered(message, response)
    return True


# --- The channel ----------------------------------------------------------------------------------


def channel_deliver(*, channel_id: int) -> int:
    """Deliver a channel's due messages in order; returns how many were settled (sent or dead).

    A head that failed waits for its retry and the messages behind it wait too, so a partner always
    receives them in the order they were written. A run hands the channel back after a batch or half
    a lease, whichever comes first, so a partner that answers slowly cannot keep a worker from other
    channels; it re-enqueues itself to go on.
    """
    token = uuid.uuid4().hex
    if not _lease_claim(channel_id, token):
        return 0
    started = time.monotonic()
    budget = settings.ROUTING_LEASE_SECONDS / 2
    settled = 0
    more = False
    try:
        while True:
            head = OutboxMessage.objects.filter(channel_id=channel_id, state=PENDING).order_by("id").first()
            if head is None or head.next_attempt_at > timezone.now():
                break
            if settled >= settings.ROUTING_BATCH_SIZE or time.monotonic() - started > budget:
                more = True
                break
            if not _lease_renew(channel_id, token):
                logger.warning("lease on channel %s lost; another worker delivers it", channel_id)
                break
            if not _attempt(head):
                break
            settled += 1
    finally:
        _lease_release(channel_id, token)
    if more:
        from .tasks import deliver_channel

        deliver_channel.delay(channel_id)
    return settled
