"""Writing to the outbox, delivering a channel, re-driving and cancelling messages.

The delivery itself lives in delivery.py, the hooks in hooks.py and the sweep's read in
selectors.py; their public functions are exported here, where other apps call them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.audit import audit_record

from .delivery import backoff_seconds, channel_deliver, channel_wake, wakeup_collected
from .hooks import delivery_hooks_register
from .models import DeliveryChannel, OutboxMessage
from .selectors import EnqueueTarget, due_channel_ids, enqueue_target

__all__ = [
    "backoff_seconds",
    "channel_deliver",
    "delivery_hooks_register",
    "due_channel_ids",
    "outbox_cancel",
    "outbox_enqueue",
    "outbox_redrive",
]


def _channel_create(*, partner_id: int, role: str) -> int:
    try:
        with transaction.atomic():
            return DeliveryChannel.objects.create(partner_id=partner_id, role=role).pk
    except IntegrityError:  # created by a concurrent writer
        return DeliveryChannel.objects.get(partner_id=partner_id, role=role).pk


class _DeliverAfterCommit:
    """The on-commit callback that starts delivering a channel."""

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self.started = False
        # Django names a failing robust callback by its __qualname__.
        self.__qualname__ = f"deliver_channel({channel_id})"

    def __call__(self) -> None:
        self.started = True
        if wakeup_collected(self.channel_id):
            # Written by a delivery hook on a worker: the worker starts it (delivery.channel_deliver).
            return
        channel_wake(channel_id=self.channel_id)


def _schedule(channel_id: int) -> None:
    """Start the channel's delivery once the caller's transaction commits.

    One start per channel and transaction: a bulk write of a thousand messages to one partner needs
    one task, not a thousand that each find the lease taken. Callbacks of a rolled-back savepoint
    leave run_on_commit, so a later write registers again. Robust: when the broker is down the
    caller's committed work stands and the sweep starts the delivery later. A channel whose lease
    is held gets no task, nor one whose task is on its way: the holder, or that task, picks the
    message up (delivery.channel_wake).
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _sids, func, _robust in connection.run_on_commit:
            if (
                isinstance(func, _DeliverAfterCommit)
                and func.channel_id == channel_id
                and not func.started  # a test's captured callbacks run but stay in the list
            ):
                return
    transaction.on_commit(_DeliverAfterCommit(channel_id), robust=True)


def outbox_enqueue(
    *,
    partner_id: int,
    role: str,
    event_type: str,
    path: str,
    payload: Any,
    max_attempts: int | None = None,
    target: EnqueueTarget | None = None,
) -> OutboxMessage | None:
    """Write a message for a partner into the outbox, in the caller's transaction.

    Nothing is written for a partner that is not active or has no endpoint for the role: the
    message would have nowhere to go (partners without an endpoint pull instead). Delivery starts
    after the caller's transaction commits; a rollback leaves neither the message nor a send.
    `target` is the partner in this role as the caller read it earlier in its transaction
    (selectors.enqueue_target_columns, one round trip saved); without it, it is read here.
    """
    if target is None:
        target = enqueue_target(partner_id=partner_id, role=role)
    if not target.reachable:
        return None
    channel_id = target.channel_id
    if channel_id is None:
        channel_id = _channel_create(partner_id=partner_id, role=role)
    message = OutboxMessage.objects.create(
        channel_id=channel_id,
        partner_id=partner_id,
        role=role,
        event_type=event_type,
        path=path.lstrip("/"),
        payload=payload,
        max_attempts=max_attempts or settings.ROUTING_MAX_ATTEMPTS,
        next_attempt_at=timezone.now(),
    )
    _schedule(channel_id)
    return message


@transaction.atomic
def outbox_redrive(*, message_ids: Iterable[int]) -> int:
    """Send dead or cancelled messages again, from a fresh attempt count.

    A re-driven message keeps its place in its channel: it is older than the messages written after
    it, so it goes out before the ones still pending.
    """
    ids = list(message_ids)
    messages = OutboxMessage.objects.filter(
        pk__in=ids, state__in=[OutboxMessage.State.DEAD, OutboxMessage.State.CANCELLED]
    )
    channel_ids = set(messages.values_list("channel_id", flat=True))
    count = messages.update(state=OutboxMessage.State.PENDING, attempts=0, next_attempt_at=timezone.now())
    for channel_id in sorted(channel_ids):
        _schedule(channel_id)
    audit_record(
        action="outbox.redrive", object_type="routing.OutboxMessage", details={"ids": ids, "count": count}
    )
    return count


@transaction.atomic
def outbox_cancel(*, message_ids: Iterable[int]) -> int:
    """Stop trying pending messages (one in flight is recorded as delivered if the partner takes it)."""
    ids = list(message_ids)
    count = OutboxMessage.objects.filter(pk__in=ids, state=OutboxMessage.State.PENDING).update(
        state=OutboxMessage.State.CANCELLED
    )
    audit_record(
        action="outbox.cancel", object_type="routing.OutboxMessage", details={"ids": ids, "count": count}
    )
    return count
