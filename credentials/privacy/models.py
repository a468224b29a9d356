"""Records of privacy requests and of the retention job (imported by credentials/models.py).

None of them holds a contract ID in clear: an erasure and an export name the contract by its
pseudonym, which the hub can compute from a contract ID again (so a second request finds the first)
but nobody can turn back into one without the key. A SCHEDULED erasure keeps the contract ID
encrypted until it runs, and forgets it then.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    API = "API", "API (the CSP)"
    ADMIN = "ADMIN", "Admin (hub staff)"


class Erasure(models.Model):
    """A request to forget a contract: its personal data and credentials deleted, its contract ID
    replaced by the pseudonym everywhere else. One per contract (the pseudonym is unique), so a
    second request finds the first. Irreversible: nothing moves a COMPLETED erasure."""

    class State(models.TextChoices):
        SCHEDULED = "SCHEDULED", "Scheduled (waits for the contract's sessions to end)"
        COMPLETED = "COMPLETED", "Completed"

    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP"
    )
    pseudonym = models.CharField(max_length=18, help_text="what replaced the contract ID")
    state = models.CharField(max_length=9, choices=State.choices, default=State.SCHEDULED)
    # The canonical contract ID, encrypted, while the erasure waits; "" once it ran.
    pending_contract = models.TextField(blank=True, editable=False)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    requested_by = models.CharField(max_length=150, blank=True, help_text="the API user or staff member")
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # What made it wait (open sessions per blocker) when it was last looked at.
    waiting_for = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Rows changed or deleted per step, e.g. {"charging_sessions.sessions": 3}.
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["pseudonym"], name="erasure_unique_contract"),
            models.CheckConstraint(
                condition=Q(state__in=["SCHEDULED", "COMPLETED"]), name="erasure_state_valid"
            ),
            models.CheckConstraint(condition=Q(channel__in=["API", "ADMIN"]), name="erasure_channel_valid"),
            models.CheckConstraint(
                condition=(Q(state="COMPLETED") & Q(completed_at__isnull=False) & Q(pending_contract=""))
                | (Q(state="SCHEDULED") & Q(completed_at__isnull=True) & ~Q(pending_contract="")),
                name="erasure_completed_forgets_contract",
            ),
        ]
        indexes = [
            # erasures_run_scheduled(): the erasures still waiting, oldest first.
            models.Index(fields=["requested_at"], name="erasure_scheduled", condition=Q(state="SCHEDULED")),
            models.Index(fields=["csp", "requested_at"], name="erasure_csp_requested"),
        ]

    def __str__(self) -> str:
        return f"erasure {self.pk} of {self.pseudonym} ({self.state})"


class DataExport(models.Model):
    """One export of everything the hub holds on a contract, for the CSP to give the driver: who
    asked, when, and how many records of each section it contained (not the records)."""

    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP"
    )
    pseudonym = models.CharField(max_length=18, help_text="the contract, by its pseudonym")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    requested_by = models.CharField(max_length=150, blank=True)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=["API", "ADMIN"]), name="export_channel_valid"),
        ]
        indexes = [
            # The export's own history section: earlier exports of the same contract.
            models.Index(fields=["pseudonym", "created_at"], name="export_contract"),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.pseudonym}"


class RetentionRun(models.Model):
    """One run of the nightly retention job: when, and how many rows each step anonymised or
    deleted. At most one runs at a time (a partial unique constraint on RUNNING)."""

    class State(models.TextChoices):
        RUNNING = "RUNNING", "Running"
        COMPLETED = "COMPLETED", "Completed"
        FAILED = "FAILED", "Failed"

    state = models.CharField(max_length=9, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The moment the periods were counted back from (the clock of the run).
    as_of = models.DateTimeField()
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="RUNNING"), name="retention_one_running"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["RUNNING", "COMPLETED", "FAILED"]), name="retention_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"retention run {self.pk} ({self.state})"
