"""The partner registry."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Partner(models.Model):
    """A company connected to the hub, with the CSO role, the CSP role, or both."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"
        TERMINATED = "TERMINATED", "Terminated"

    name = models.CharField("display name", max_length=200)
    legal_name = models.CharField(max_length=300, blank=True)
    country_code = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    party_id = models.CharField(max_length=3, help_text="three letters or digits")
    is_cso = models.BooleanField("CSO role", default=False)
    is_csp = models.BooleanField("CSP role", default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    vat_id = models.CharField("VAT id", max_length=40, blank=True)
    billing_street = models.CharField(max_length=200, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_city = models.CharField(max_length=100, blank=True)
    billing_country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    settlement_currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217")
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Operator ID (DE*ABC) and provider ID (DE-ABC) both derive from this pair.
            models.UniqueConstraint(fields=["country_code", "party_id"], name="partner_unique_party"),
            models.CheckConstraint(condition=Q(is_cso=True) | Q(is_csp=True), name="partner_has_role"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country_code}{self.party_id})"

    @property
    def operator_id(self) -> str:
        return f"{self.country_code}*{self.party_id}"

    @property
    def provider_id(self) -> str:
        return f"{self.country_code}-{self.party_id}"

    @property
    def roles(self) -> list[str]:
        return [role for role, on in (("CSO", self.is_cso), ("CSP", self.is_csp)) if on]


class PartnerUser(models.Model):
    """The API login of a partner: a Django user tied to one partner, with its HMAC secret."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_user"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_users")
    # Fernet-encrypted with FIELD_ENCRYPTION_KEY; the clear secret is shown once, when issued.
    hmac_secret_encrypted = models.TextField(editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "partner API user"

    def __str__(self) -> str:
        return self.user.get_username()


class RoamingEndpoint(models.Model):
    """A partner's base URL where the hub delivers messages for one role."""

    class Role(models.TextChoices):
        CSO = "CSO", "CSO"
        CSP = "CSP", "CSP"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    role = models.CharField(max_length=3, choices=Role.choices)
    url = models.URLField(max_length=500)
    protocol = models.CharField(max_length=20, default="i3")
    version = models.CharField(max_length=20, default="1")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner_id", "role", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "role", "protocol"], name="endpoint_unique_partner_role_protocol"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.role} {self.url}"


class RoamingAgreement(models.Model):
    """A bilateral roaming contract between a CSO and a CSP, made through the hub."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"
        TERMINATED = "TERMINATED", "Terminated"

    class Mode(models.TextChoices):
        CLEARING_HOUSE = "CLEARING_HOUSE", "Clearing house mode"
        MIXED = "MIXED", "Mixed mode"

    class AuthorizationSubtype(models.TextChoices):
        HUB_ISSUED = "HUB_ISSUED", "Credentials issued by the hub"
        CSP_ISSUED = "CSP_ISSUED", "Credentials issued by the CSP"

    cso = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements_as_cso")
    csp = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements_as_csp")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CLEARING_HOUSE)
    authorization_subtype = models.CharField(
        max_length=12, choices=AuthorizationSubtype.choices, default=AuthorizationSubtype.CSP_ISSUED
    )
    # A tariff the agreement pins (by the CSO's tariff id); the tariffs live in `locations`.
    pinned_tariff_id = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(cso=F("csp")), name="agreement_distinct_parties"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="agreement_valid_range",
            ),
        ]
        indexes = [
            # agreement_active_between(): the hot lookup of every authorization.
            models.Index(fields=["cso", "csp", "status"], name="agreement_pair_status"),
        ]

    def __str__(self) -> str:
        return f"{self.cso.operator_id} ↔ {self.csp.provider_id} ({self.mode})"
