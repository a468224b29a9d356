"""The transactional outbox."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from clearinghouse.db import DocumentField


class DeliveryChannel(models.Model):
    """The ordered queue of messages to one partner in one role.

    A worker holds the channel's lease while it delivers, so one channel's messages go out one at a
    time and in the order they were written, while other channels proceed in parallel. A channel
    that nobody holds has at most one delivery task on its way (`wake_requested`).
    """

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="delivery_channels"
    )
    role = models.CharField(max_length=3)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    # A delivery task was started for the channel and has not tried to claim it yet: writers that
    # find it set start no other (delivery.channel_wake); every claim, won or lost, clears it. A
    # default in the database too: processes of the previous release still create channels.
    wake_requested = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "role"], name="channel_unique_partner_role"),
            models.CheckConstraint(condition=Q(role__in=["CSO", "CSP"]), name="channel_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}/{self.role}"


class OutboxMessage(models.Model):
    """One message to deliver to a partner, written in the transaction of the change that caused it."""

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        DELIVERED = "DELIVERED", "Delivered"
        DEAD = "DEAD", "Dead letter"
        CANCELLED = "CANCELLED", "Cancelled"

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(DeliveryChannel, on_delete=models.CASCADE, related_name="messages")
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="outbox_messages")
    role = models.CharField(max_length=3)
    event_type = models.CharField(max_length=64, db_index=True)
    path = models.CharField(max_length=200, help_text="appended to the partner's endpoint URL")
    # Decimals and datetimes become strings (money as decimal strings, RFC 3339 times), as on the wire.
    payload = DocumentField(encoder=DjangoJSONEncoder)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    url = models.CharField(max_length=700, blank=True, help_text="where it was last sent")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["PENDING", "DELIVERED", "DEAD", "CANCELLED"]),
                name="outbox_state_valid",
            ),
            models.CheckConstraint(condition=Q(role__in=["CSO", "CSP"]), name="outbox_role_valid"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="outbox_max_attempts_positive"),
        ]
        indexes = [
            # channel_deliver() and due_channel_ids(): the head of a channel's queue of pending
            # messages (the sweep probes it once per channel, so it needs no index of its own).
            models.Index(fields=["channel", "id"], name="outbox_pending_head", condition=Q(state="PENDING")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.partner_id}/{self.role} ({self.state})"
