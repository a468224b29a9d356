"""Reads of the outbox."""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from .models import DeliveryChannel, OutboxMessage


def due_channel_ids(*, limit: int = 1000) -> list[int]:
    """Channels whose head message is due and that no worker holds, the longest-waiting first.

    Only the head counts: the messages behind a head that waits for its retry wait too, so their
    channel is not due. Channels are few (two per partner at most) and each head is one probe of the
    outbox_pending_head index, so this reads no more than the channels, however long the queues.
    """
    now = timezone.now()
    head_due = (
        OutboxMessage.objects.filter(channel=OuterRef("pk"), state=OutboxMessage.State.PENDING)
        .order_by("id")
        .values("next_attempt_at")[:1]
    )
    return list(
        DeliveryChannel.objects.annotate(head_due=Subquery(head_due))
        .filter(head_due__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("head_due", "id")
        .values_list("pk", flat=True)[:limit]
    )
