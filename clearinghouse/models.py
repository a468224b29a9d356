"""Models of the shared plumbing."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One write through the API or the admin: who, for which partner, what, when, request id."""

    class Channel(models.TextChoices):
        API = "API", "API"
        ADMIN = "ADMIN", "Admin"
        SYSTEM = "SYSTEM", "System"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    # A plain id, not a foreign key: the plumbing sits below the partner registry.
    partner_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"


class IdempotencyRecord(models.Model):
    """The first answer to a creating POST sent with an Idempotency-Key, replayed on repeats."""

    class State(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS"
        COMPLETED = "COMPLETED"

    partner_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner_id", "key"], name="idempotency_unique_partner_key"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.key}"


class UsedNonce(models.Model):
    """Nonces seen while the cache (Redis) was unreachable: replay protection never switches off."""

    partner_id = models.BigIntegerField()
    nonce = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner_id", "nonce"], name="nonce_unique_partner_nonce"),
        ]

    def __str__(self) -> str:
        return self.nonce
