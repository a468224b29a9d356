"""Writing to the outbox, delivering a channel, re-driving and cancelling messages."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clearinghouse.api.secrets import field_fernet
from clearinghouse.audit import audit_record
from clearinghouse.lib.crypto import decrypt
from partners.models import Partner
from partners.selectors import endpoint_for, signing_user_of

from . import client
from .models import DeliveryChannel, OutboxMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryHooks:
    on_delivered: Callable[[OutboxMessage, Any], None] | None = None
    on_dead: Callable[[OutboxMessage], None] | None = None


# Apps above the routing register what happens when their messages are answered or die.
_HOOKS: dict[str, DeliveryHooks] = {}


def delivery_hooks_register(
    event_type: str,
    *,
    on_delivered: Callable[[OutboxMessage, Any], None] | None = None,
    on_dead: Callable[[OutboxMessage], None] | None = None,
) -> None:
    _HOOKS[event_type] = DeliveryHooks(on_delivered=on_delivered, on_dead=on_dead)


def _channel_for(*, partner_id: int, role: str) -> DeliveryChannel:
    channel = DeliveryChannel.objects.filter(partner_id=partner_id, role=role).first()
    if channel:
        return channel
    try:
        with transaction.atomic():
            return DeliveryChannel.objects.create(partner_id=partner_id, role=role)
    except IntegrityError:  # created by a concurrent writer
        return DeliveryChannel.objects.get(partner_id=partner_id, role=role)


def _schedule(channel_id: int) -> None:
    from .tasks import deliver_channel

    transaction.on_commit(lambda: deliver_channel.delay(channel_id))


def outbox_enqueue(
    *,
    partner_id: int,
    role: str,
    event_type: str,
    path: str,
    payload: Any,
    max_attempts: int | None = None,
) -> OutboxMessage | None:
    """Write a message for a partner into the outbox, in the caller's transaction.

    Nothing is written for a partner that is not active or has no endpoint for the role: the
    message would have nowhere to go (partners without an endpoint pull instead).
    """
    partner_status = Partner.objects.filter(pk=partner_id).values_list("status", flat=True).first()
    if partner_status != Partner.Status.ACTIVE or endpoint_for(partner_id=partner_id, role=role) is None:
        return None
    channel = _channel_for(partner_id=partner_id, role=role)
    message = OutboxMessage.objects.create(
        channel=channel,
        partner_id=partner_id,
        role=role,
        event_type=event_type,
        path=path.lstrip("/"),
        payload=payload,
        max_attempts=max_attempts or settings.ROUTING_MAX_ATTEMPTS,
        next_attempt_at=timezone.now(),
    )
    _schedule(channel.pk)
    return message


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: half fixed, half random, so retries of many messages spread."""
    delay = min(
        settings.ROUTING_BACKOFF_CAP_SECONDS, settings.ROUTING_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)
    )
    return delay / 2 + random.uniform(0, delay / 2)


def _run_hook(message: OutboxMessage, name: str, *args: Any) -> None:
    hooks = _HOOKS.get(message.event_type)
    hook = getattr(hooks, name, None) if hooks else None
    if hook is None:
        return
    try:
        with transaction.atomic():
            hook(message, *args)
    except Exception:
        logger.exception("delivery hook %s failed for message %s", name, message.message_id)


def _mark_dead(message: OutboxMessage, error: str, status_code: int | None = None) -> None:
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, state=OutboxMessage.State.PENDING).update(
            state=OutboxMessage.State.DEAD,
            last_error=error[:2000],
            last_status_code=status_code,
            attempts=message.attempts,
        )
        if updated:
            message.state = OutboxMessage.State.DEAD
            message.last_error = error
            _run_hook(message, "on_dead")
    logger.warning("delivery %s dead-lettered: %s", message.message_id, error[:200])


def _attempt(message: OutboxMessage) -> bool:
    """Send one message. True when the channel may go on to its next message."""
    partner = Partner.objects.only("status").get(pk=message.partner_id)
    if partner.status != Partner.Status.ACTIVE:
        _mark_dead(message, f"partner is {partner.status.lower()}: nothing is routed to it")
        return True
    endpoint = endpoint_for(partner_id=message.partner_id, role=message.role)
    signer = signing_user_of(partner_id=message.partner_id)
    message.attempts += 1
    try:
        if endpoint is None:
            raise client.DeliveryFailed("the partner has no active endpoint for this role")
        if signer is None:
            raise client.DeliveryFailed("the partner has no API user whose secret could sign")
        url = endpoint.url.rstrip("/") + "/" + message.path
        message.url = url
        response = client.signed_post(
            url=url,
            payload=message.payload,
            secret=decrypt(field_fernet(), signer.hmac_secret_encrypted),
            key_id=signer.user.get_username(),
            message_id=str(message.message_id),
            event_type=message.event_type,
        )
    except client.DeliveryFailed as exc:
        if not exc.retryable or message.attempts >= message.max_attempts:
            _mark_dead(message, str(exc), exc.status_code)
            return True
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=message.attempts,
            last_error=str(exc)[:2000],
            last_status_code=exc.status_code,
            url=message.url,
            next_attempt_at=timezone.now() + timedelta(seconds=backoff_seconds(message.attempts)),
        )
        return False
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxMessage.State.DELIVERED,
            attempts=message.attempts,
            delivered_at=timezone.now(),
            last_status_code=response.status_code,
            last_error="",
            response_body=response.body,
            url=message.url,
        )
        message.state = OutboxMessage.State.DELIVERED
        _run_hook(message, "on_delivered", response.body)
    return True


def channel_deliver(*, channel_id: int) -> int:
    """Deliver a channel's due messages in order; returns how many were settled (sent or dead).

    The lease is a conditional UPDATE: only one worker delivers a channel at a time, and a worker
    that died leaves a lease that expires, so the channel is never stuck.
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    lease = timedelta(seconds=settings.ROUTING_LEASE_SECONDS)
    claimed = (
        DeliveryChannel.objects.filter(pk=channel_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease, lease_token=token)
    )
    if not claimed:
        return 0
    settled = 0
    more = False
    try:
        while True:
            head = (
                OutboxMessage.objects.filter(channel_id=channel_id, state=OutboxMessage.State.PENDING)
                .order_by("id")
                .first()
            )
            if head is None or head.next_attempt_at > timezone.now():
                break  # empty, or the head waits for its retry: later messages wait behind it
            if settled >= settings.ROUTING_BATCH_SIZE:
                more = True
                break
            if not _attempt(head):
                break
            settled += 1
            DeliveryChannel.objects.filter(pk=channel_id, lease_token=token).update(
                lease_until=timezone.now() + lease
            )
    finally:
        DeliveryChannel.objects.filter(pk=channel_id, lease_token=token).update(
            lease_until=None, lease_token=""
        )
    if more:
        from .tasks import deliver_channel

        deliver_channel.delay(channel_id)
    return settled


def due_channel_ids(*, limit: int = 1000) -> list[int]:
    """Channels whose head message is due and that no worker holds."""
    now = timezone.now()
    ids = (
        OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING, next_attempt_at__lte=now)
        .values_list("channel_id", flat=True)
        .distinct()[:limit]
    )
    return list(
        DeliveryChannel.objects.filter(pk__in=list(ids))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)
    )


@transaction.atomic
def outbox_redrive(*, message_ids: Iterable[int]) -> int:
    """Send dead or cancelled messages again, from a fresh attempt count."""
    ids = list(message_ids)
    messages = OutboxMessage.objects.filter(
        pk__in=ids, state__in=[OutboxMessage.State.DEAD, OutboxMessage.State.CANCELLED]
    )
    channel_ids = set(messages.values_list("channel_id", flat=True))
    count = messages.update(state=OutboxMessage.State.PENDING, attempts=0, next_attempt_at=timezone.now())
    for channel_id in channel_ids:
        _schedule(channel_id)
    audit_record(
        action="outbox.redrive", object_type="routing.OutboxMessage", details={"ids": ids, "count": count}
    )
    return count


@transaction.atomic
def outbox_cancel(*, message_ids: Iterable[int]) -> int:
    """Stop trying pending messages."""
    ids = list(message_ids)
    count = OutboxMessage.objects.filter(pk__in=ids, state=OutboxMessage.State.PENDING).update(
        state=OutboxMessage.State.CANCELLED
    )
    audit_record(
        action="outbox.cancel", object_type="routing.OutboxMessage", details={"ids": ids, "count": count}
    )
    return count
