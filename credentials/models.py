"""Credentials, hub-issued contracts, the driver's personal data, and authorization records.

Nothing secret is stored in clear: a credential is found by a keyed hash of its type and value,
staff see a masked hint, PINs and passwords are password-hashed, certificates are known by their
SHA-256 fingerprint only.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .decision import DecidedBy, Status, Whitelist


class CredentialType(models.TextChoices):
    RFID = "RFID", "RFID card"
    QR_STATIC = "QR_STATIC", "Static QR code"
    QR_DYNAMIC = "QR_DYNAMIC", "Dynamic QR code"
    APP_USER = "APP_USER", "App user"
    PNC = "PNC", "Plug & Charge contract certificate"
    REMOTE = "REMOTE", "Remote start"


class Credential(models.Model):
    """What identifies a driver's contract at a station, owned by the CSP of that contract.

    `lookup_hash` is keyed_hash(CREDENTIAL_PEPPER, "<type>:<normalised value>"), where the value is
    the RFID UID, the app username, or the contract ID for the types that are the contract ID
    (static and dynamic QR, Plug & Charge, remote). One presented value names at most one credential
    hub-wide, so the hash is unique.
    """

    class Issuer(models.TextChoices):
        HUB = "HUB", "Hub"
        CSP = "CSP", "CSP"

    class State(models.TextChoices):
        VALID = "VALID", "Valid"
        BLOCKED = "BLOCKED", "Blocked"
        EXPIRED = "EXPIRED", "Expired"

    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="credentials", verbose_name="CSP"
    )
    issuer = models.CharField(max_length=3, choices=Issuer.choices)
    type = models.CharField(max_length=10, choices=CredentialType.choices)
    lookup_hash = models.CharField(max_length=64, editable=False)
    value_hint = models.CharField(max_length=16, help_text="masked value for staff, e.g. …3F2A")
    contract_id = models.CharField("contract ID", max_length=18, help_text="normalised eMAID")
    status = models.CharField(max_length=7, choices=State.choices, default=State.VALID)
    whitelist = models.CharField(max_length=15, choices=[(w.value, w.value) for w in Whitelist])
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    visual_number = models.CharField(max_length=64, blank=True)
    group_id = models.CharField(max_length=64, blank=True)
    pin_hash = models.CharField(max_length=256, blank=True, editable=False)
    password_hash = models.CharField(max_length=256, blank=True, editable=False)
    certificate_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the contract certificate, lower-case hex"
    )
    # The Idempotency-Key of the issuing request: a repeat finds the credential instead of issuing
    # another, without the hub keeping the answer (it holds values shown once).
    issue_key = models.CharField(max_length=255, blank=True, editable=False)
    issue_request_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["lookup_hash"], name="credential_unique_lookup"),
            models.UniqueConstraint(
                fields=["csp", "issue_key"], condition=~Q(issue_key=""), name="credential_unique_issue_key"
            ),
            models.CheckConstraint(condition=Q(type__in=CredentialType.values), name="credential_type_valid"),
            models.CheckConstraint(condition=Q(issuer__in=["HUB", "CSP"]), name="credential_issuer_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["VALID", "BLOCKED", "EXPIRED"]), name="credential_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(whitelist__in=[w.value for w in Whitelist]), name="credential_whitelist_valid"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="credential_valid_range",
            ),
        ]
        indexes = [
            # credentials_of(): a CSP's credentials, changed since, in a stable order.
            models.Index(fields=["csp", "updated_at", "id"], name="credential_csp_updated"),
            # credential_owner(), the stop check ("another credential of the same contract") and the
            # staff search by contract ID.
            models.Index(fields=["contract_id"], name="credential_contract"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.value_hint} ({self.contract_id})"


class IssuedContract(models.Model):
    """A contract ID the hub issued under its own provider ID, for the CSP that asked for it.

    The unique contract ID is what makes issuance safe: a randomly drawn ID that already exists fails
    the insert and is drawn again.
    """

    contract_id = models.CharField("contract ID", max_length=18, unique=True)
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="issued_contracts", verbose_name="CSP"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.contract_id


class DriverPersonalData(models.Model):
    """A driver's name, e-mail and phone, when a CSP sends them: kept apart from contracts and
    credentials, never copied into sessions, SDRs or logs, removed by an erasure request."""

    contract_id = models.CharField("contract ID", max_length=18, unique=True)
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="+", verbose_name="CSP"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "driver personal data"

    def __str__(self) -> str:
        return f"personal data of {self.contract_id}"


class DynamicQrUse(models.Model):
    """A dynamic QR code that was presented: the unique nonce makes every code usable once, however
    many hub processes see it at the same moment."""

    nonce = models.CharField(max_length=32, unique=True)
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(default=timezone.now)
    # dynamic_qr_uses_purge(): rows of codes past their expiry are no longer needed.
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"code {self.nonce[:6]}… of credential {self.credential_id}"


class AuthorizationRecord(models.Model):
    """One authorization decision (start or stop): who asked, at which EVSE, for which credential,
    what was decided, by whom, how fast. The audit trail of authorization, and what sessions and SDRs
    quote by `authorization_reference`."""

    class Kind(models.TextChoices):
        START = "START", "Start"
        STOP = "STOP", "Stop"

    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.START)
    cso = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSO"
    )
    csp = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="CSP",
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    start = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="stops",
        help_text="the start authorization a stop refers to",
    )  # fmt: skip
    evse_id = models.CharField("EVSE ID", max_length=40)
    cso_session_id = models.CharField("CSO session ID", max_length=64, blank=True)
    credential_type = models.CharField(max_length=10, choices=CredentialType.choices)
    credential_hint = models.CharField(max_length=16, blank=True)
    # The presented value's keyed hash: lets a stop recognise the same credential, even one the hub
    # only knows from a CSP's answer.
    lookup_hash = models.CharField(max_length=64, blank=True)
    contract_id = models.CharField("contract ID", max_length=18, blank=True)
    whitelist = models.CharField(max_length=15, blank=True)
    status = models.CharField(max_length=12, choices=[(s.value, s.value) for s in Status])
    reason = models.CharField(max_length=40, blank=True)
    decided_by = models.CharField(max_length=3, choices=[(d.value, d.value) for d in DecidedBy], blank=True)
    authorization_reference = models.CharField(max_length=32, unique=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Routed questions only: whom the hub asks, until when, when a worker took the question, and
    # the presented credential (encrypted) the CSP needs, erased by the decision.
    routed_to = models.JSONField(default=list, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    pending_credential = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="authorization_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status=Status.PENDING) & Q(decided_by=""))
                | (~Q(status=Status.PENDING) & Q(decided_by__in=[d.value for d in DecidedBy])),
                name="authorization_decided_by_consistent",
            ),
            models.CheckConstraint(
                condition=(Q(kind="START") & Q(start__isnull=True))
                | (Q(kind="STOP") & Q(start__isnull=False)),
                name="authorization_stop_has_start",
            ),
        ]
        indexes = [
            # authorizations_expire_overdue(): routed questions whose deadline passed undecided.
            models.Index(
                fields=["deadline_at"], name="authorization_pending_due", condition=Q(status="PENDING")
            ),
            # authorizations_anonymise_due() (privacy retention): records not anonymised yet, by age.
            models.Index(
                fields=["created_at"],
                name="authorization_retention_due",
                condition=~Q(lookup_hash="") | ~Q(credential_hint=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.authorization_reference[:8]}… {self.status}"


# Privacy records (erasures, exports, retention runs) live in their own module of this app.
from .privacy.models import DataExport, Erasure, RetentionRun  # noqa: E402

__all__ = [
    "AuthorizationRecord",
    "Credential",
    "CredentialType",
    "DataExport",
    "DriverPersonalData",
    "DynamicQrUse",
    "Erasure",
    "IssuedContract",
    "RetentionRun",
]
