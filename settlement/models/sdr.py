"""Service detail records: the billable record of one charging session, with its charging periods.

An SDR is stored once per (CSO, SDR id) and never changed afterwards; only the hub's state columns
move (delivered, accepted, disputed, settled). A correction is another SDR: a credit that negates
the original, optionally followed by a replacement. The columns the settlement run groups by
(CSO, CSP, currency, end time, totals, state, credit) are plain indexed columns, so grouping happens
in SQL and never reads the JSON document.
"""

from __future__ import annotations

from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clearinghouse.db import DocumentField

MONEY = {"max_digits": 18, "decimal_places": 4}
QUANTITY = {"max_digits": 16, "decimal_places": 6}


class SdrState(models.TextChoices):
    """RECEIVED → VALIDATED → DELIVERED → ACCEPTED | DISPUTED → SETTLED, or REJECTED."""

    RECEIVED = "RECEIVED", "Received"
    VALIDATED = "VALIDATED", "Validated"
    DELIVERED = "DELIVERED", "Delivered"
    ACCEPTED = "ACCEPTED", "Accepted"
    DISPUTED = "DISPUTED", "Disputed"
    SETTLED = "SETTLED", "Settled"
    REJECTED = "REJECTED", "Rejected"


class TariffSource(models.TextChoices):
    NONE = "", "not rated"
    AGREEMENT = "AGREEMENT", "tariff pinned by the agreement"
    PUBLISHED = "PUBLISHED", "tariff published by the CSO"
    SDR = "SDR", "tariff listed in the SDR"


class DisputeReason(models.TextChoices):
    INCORRECT_COST = "INCORRECT_COST", "The cost does not follow the agreed tariff"
    INCORRECT_ENERGY = "INCORRECT_ENERGY", "The energy is wrong"
    INCORRECT_TIME = "INCORRECT_TIME", "The times or durations are wrong"
    UNKNOWN_CONTRACT = "UNKNOWN_CONTRACT", "The contract is not this CSP's"
    NOT_AUTHORIZED = "NOT_AUTHORIZED", "The session was not authorized"
    DUPLICATE = "DUPLICATE", "The session was billed in another SDR"
    OTHER = "OTHER", "Other (see message)"


class Sdr(models.Model):
    """One service detail record (an OCPI 2.2.1 CDR) as a CSO sent it, with the hub's columns.

    `cdr` is the document as received; the columns are what the hub read from it (totals at four
    decimals, times in UTC, the contract ID normalised) plus what the hub added: its own rating,
    the findings of its validation, and the state.
    """

    # No single-column indexes on the partners: sdr_cso_updated and sdr_csp_updated lead with them.
    cso = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="sdrs_as_cso",
        verbose_name="CSO",
        db_index=False,
    )
    csp = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="sdrs_as_csp",
        null=True,
        blank=True,
        verbose_name="CSP",
        db_index=False,
    )
    sdr_id = models.CharField("SDR id", max_length=39, help_text="the CSO's id (OCPI CDR.id)")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical CDR")
    state = models.CharField(max_length=9, choices=SdrState.choices)
    credit = models.BooleanField(default=False)
    credit_reference_id = models.CharField(max_length=39, blank=True)
    # The links below are empty on nearly every SDR: their indexes (in Meta) hold only the rows
    # that have one, so storing an SDR adds no entry to them.
    credit_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credits", db_index=False
    )
    replacement_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replacements",
        db_index=False,
    )
    session_id = models.CharField("session id", max_length=36, blank=True)
    contract_id = models.CharField("contract ID", max_length=36, blank=True, help_text="normalised eMAID")
    evse_id = models.CharField("EVSE ID", max_length=48, blank=True)
    connector_id = models.CharField(max_length=36, blank=True)
    authorization_reference = models.CharField(max_length=36, blank=True)
    auth_method = models.CharField(max_length=12, blank=True)
    start_date_time = models.DateTimeField(null=True, blank=True)
    end_date_time = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    total_cost_excl_vat = models.DecimalField(null=True, blank=True, **MONEY)
    total_cost_incl_vat = models.DecimalField(null=True, blank=True, **MONEY)
    total_energy = models.DecimalField("total energy (kWh)", null=True, blank=True, **QUANTITY)
    total_time = models.DecimalField("total time (h)", null=True, blank=True, **QUANTITY)
    total_parking_time = models.DecimalField("parking time (h)", null=True, blank=True, **QUANTITY)
    hub_cost_excl_vat = models.DecimalField(null=True, blank=True, **MONEY)
    hub_cost_incl_vat = models.DecimalField(null=True, blank=True, **MONEY)
    cost_difference = models.DecimalField(
        null=True, blank=True, help_text="total_cost excl. VAT minus the hub's cost excl. VAT", **MONEY
    )
    tariff_source = models.CharField(max_length=9, choices=TariffSource.choices, blank=True)
    has_warnings = models.BooleanField(default=False)
    cdr = DocumentField("CDR as received", encoder=DjangoJSONEncoder)
    rating = DocumentField(null=True, blank=True, encoder=DjangoJSONEncoder, help_text="the hub's lines")
    dispute_reason_code = models.CharField(max_length=20, choices=DisputeReason.choices, blank=True)
    dispute_message = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    # Set when the SDR becomes ACCEPTED: the settlement bucket of its pair and period. The bucket is
    # the SDR's one link to a statement line (see SettlementBucket); SETTLED is "ACCEPTED in a
    # closed bucket", never written to the SDR row.
    bucket = models.ForeignKey(
        "settlement.SettlementBucket",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sdrs",
        db_index=False,  # partial: see Meta.indexes
    )
    # Moves with every state change: the `since` of GET /sdrs/ reads it.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SDR"
        verbose_name_plural = "SDRs"
        ordering = ["-id"]
        constraints = [
            # One SDR per CSO and id. A rejected SDR does not hold its id, so the CSO can send the
            # fixed record under the same id.
            models.UniqueConstraint(
                fields=["cso", "sdr_id"], condition=~Q(state="REJECTED"), name="sdr_unique_cso_sdr_id"
            ),
            # The same rejected content is kept once, however often it is sent.
            models.UniqueConstraint(
                fields=["cso", "sdr_id", "content_hash"],
                condition=Q(state="REJECTED"),
                name="sdr_unique_rejected_content",
            ),
            # An SDR is credited at most once.
            models.UniqueConstraint(
                fields=["credit_of"],
                condition=Q(credit=True) & ~Q(state="REJECTED"),
                name="sdr_unique_credit_per_original",
            ),
            models.CheckConstraint(condition=Q(state__in=SdrState.values), name="sdr_state_valid"),
            models.CheckConstraint(
                condition=Q(state="REJECTED")
                | (
                    Q(csp__isnull=False)
                    & Q(start_date_time__isnull=False)
                    & Q(end_date_time__isnull=False)
                    & ~Q(currency="")
                    & Q(total_cost_excl_vat__isnull=False)
                    & Q(total_energy__isnull=False)
                    & Q(total_time__isnull=False)
                ),
                name="sdr_complete_unless_rejected",
            ),
            models.CheckConstraint(
                condition=Q(end_date_time__gte=F("start_date_time")) | Q(state="REJECTED"),
                name="sdr_end_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(total_energy__gte=0) | Q(state="REJECTED"), name="sdr_energy_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(state="REJECTED")
                | Q(credit=False, total_cost_excl_vat__gte=0)
                | Q(credit=True, total_cost_excl_vat__lte=0),
                name="sdr_cost_sign_matches_credit",
            ),
            models.CheckConstraint(
                condition=Q(state="REJECTED")
                | Q(credit=False, credit_of__isnull=True)
                | Q(credit=True, credit_of__isnull=False),
                name="sdr_credit_has_original",
            ),
        ]
        indexes = [
            # GET /sdrs/ for a CSO and for a CSP: pages in (updated_at, id) order, ?since= a range.
            models.Index(fields=["cso", "updated_at", "id"], name="sdr_cso_updated"),
            models.Index(fields=["csp", "updated_at", "id"], name="sdr_csp_updated"),
            # sdrs_accept_undisputed(): delivered SDRs whose dispute window has passed.
            models.Index(fields=["delivered_at"], name="sdr_dispute_window", condition=Q(state="DELIVERED")),
            # Accepted SDRs not yet in a bucket (none once acceptance has placed them; older rows and
            # SDRs stored as ACCEPTED by other means): the settlement run places them first.
            models.Index(
                fields=["currency", "end_date_time"],
                name="sdr_unbucketed",
                condition=Q(state="ACCEPTED", bucket__isnull=True),
            ),
            # The disputed SDRs a run's statements hold back.
            models.Index(
                fields=["currency", "end_date_time"], name="sdr_disputed", condition=Q(state="DISPUTED")
            ),
            # Period filters in the admin and the run's reports.
            models.Index(fields=["end_date_time"], name="sdr_end"),
            # Staff search by contract ID and session id; pseudonymisation of an erased contract.
            models.Index(fields=["contract_id"], name="sdr_contract"),
            # Most SDRs name no session (''): only those that do are indexed, and a lookup by a
            # session id (session_id = 'x') implies the condition, so it uses the index.
            models.Index(fields=["session_id"], name="sdr_session", condition=~Q(session_id="")),
            # The credits and replacements of an SDR, the SDRs of a bucket: only rows with a link.
            # A lookup by value (credit_of_id = x) implies the condition, so it uses them.
            models.Index(fields=["credit_of"], name="sdr_credit_of", condition=Q(credit_of__isnull=False)),
            models.Index(
                fields=["replacement_of"],
                name="sdr_replacement_of",
                condition=Q(replacement_of__isnull=False),
            ),
            models.Index(fields=["bucket"], name="sdr_bucket", condition=Q(bucket__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"SDR {self.sdr_id} ({self.effective_state})"

    @property
    def is_settled(self) -> bool:
        """ACCEPTED and in a closed settlement bucket (reads the bucket: select_related("bucket"))."""
        if self.state == SdrState.SETTLED:
            return True
        return (
            self.state == SdrState.ACCEPTED and self.bucket_id is not None and self.bucket.line_id is not None
        )

    @property
    def effective_state(self) -> str:
        """The state as the API, reports and pages show it: SETTLED once its bucket is closed."""
        return SdrState.SETTLED if self.is_settled else self.state

    @property
    def settled_at(self) -> datetime | None:
        """When the run that settled it closed its bucket."""
        return self.bucket.closed_at if self.is_settled and self.bucket_id is not None else None


class SdrChargingPeriod(models.Model):
    """One charging period of an SDR (an IEC 63119 charging transaction), with its volumes as
    columns; it ends where the next one starts, the last one at the session end."""

    # No index of its own: sdr_period_unique_index leads with the SDR.
    sdr = models.ForeignKey(Sdr, on_delete=models.CASCADE, related_name="periods", db_index=False)
    index = models.PositiveSmallIntegerField()
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    tariff_id = models.CharField(max_length=36, blank=True)
    energy = models.DecimalField("energy (kWh)", null=True, blank=True, **QUANTITY)
    charging_time = models.DecimalField("charging time (h)", null=True, blank=True, **QUANTITY)
    parking_time = models.DecimalField("parking time (h)", null=True, blank=True, **QUANTITY)
    reservation_time = models.DecimalField("reservation time (h)", null=True, blank=True, **QUANTITY)
    dimensions = DocumentField(encoder=DjangoJSONEncoder, help_text="every dimension as sent")

    class Meta:
        verbose_name = "charging period"
        ordering = ["sdr_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["sdr", "index"], name="sdr_period_unique_index"),
            models.CheckConstraint(
                condition=Q(end_date_time__gte=F("start_date_time")), name="sdr_period_end_not_before_start"
            ),
        ]

    def __str__(self) -> str:
        return f"period {self.index} of SDR {self.sdr_id}"


class SdrFinding(models.Model):
    """One finding of the hub's validation: an error rejected the SDR, a warning is shown to both
    sides."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error"
        WARNING = "warning", "Warning"

    sdr = models.ForeignKey(Sdr, on_delete=models.CASCADE, related_name="findings")
    code = models.CharField(max_length=40)
    severity = models.CharField(max_length=7, choices=Severity.choices)
    message = models.CharField(max_length=500)
    field = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["sdr_id", "id"]
        indexes = [
            # The admin's findings filter: SDRs with a given code.
            models.Index(fields=["code", "sdr"], name="sdr_finding_code"),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.code}"


class SdrEvent(models.Model):
    """One transition of an SDR's state, who made it and why: the SDR's history, shown to both sides.

    The transition to SETTLED is recorded by the statement line that settles the SDR, not here.
    """

    class Actor(models.TextChoices):
        CSO = "CSO", "CSO"
        CSP = "CSP", "CSP"
        HUB = "HUB", "Hub"

    sdr = models.ForeignKey(Sdr, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=9, choices=SdrState.choices)
    to_state = models.CharField(max_length=9, choices=SdrState.choices)
    actor = models.CharField(max_length=3, choices=Actor.choices)
    # Empty for the hub's own transitions (most of them): indexed only where set (Meta).
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reason_code = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SDR event"
        ordering = ["sdr_id", "id"]
        indexes = [
            models.Index(fields=["partner"], name="sdr_event_partner", condition=Q(partner__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state} by {self.actor}"


class DisputedSdr(Sdr):
    """The staff's dispute queue: SDRs a CSP disputed and the CSO has not yet corrected."""

    class Meta:
        proxy = True
        verbose_name = "disputed SDR"
        verbose_name_plural = "dispute queue"
