"""Fee plans, settlement runs, statement lines, statements, payments, and who may read them.

A settlement run settles the accepted SDRs of one (cadence, period, currency). Each SDR joined a
SettlementBucket when it was accepted; the run closes the buckets onto the StatementLine of their
(CSO, CSP) pair, so an SDR reaches a line through its one bucket only and the database (the FK and
the triggers of migration 0004) refuses to settle it twice. Every partner taking part in a run gets one
Statement, built from the lines where it is the CSO (receivable) or the CSP (payable), the hub's
fees and its net position. A statement becomes FINAL with a number from a gap-free sequence; from
then on triggers (migration 0003) refuse changes to its figures, its fees and its run's lines.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Abs
from django.db.models.lookups import LessThan
from django.utils import timezone

MONEY = {"max_digits": 18, "decimal_places": 4}
SUM = {"max_digits": 24, "decimal_places": 4}  # a run's sums of SDR amounts, exact
ENERGY_SUM = {"max_digits": 24, "decimal_places": 6}
RATE = {"max_digits": 7, "decimal_places": 4}


def equal_amounts(lhs: models.Expression, rhs: models.Expression) -> LessThan:
    """lhs = rhs for amounts of at most four decimals: exact on PostgreSQL (numeric), and true to
    the stored values on SQLite, which computes with doubles (0.5 + 0.1 is not quite 0.6 there)."""
    return LessThan(Abs(lhs - rhs), Value(Decimal("0.00001")))


class Cadence(models.TextChoices):
    """How often a partner settles (settlement.periods.Cadence, as database choices)."""

    DAILY = "DAILY", "Daily"
    WEEKLY = "WEEKLY", "Weekly (ISO weeks)"
    MONTHLY = "MONTHLY", "Monthly"


class Role(models.TextChoices):
    CSO = "CSO", "CSO"
    CSP = "CSP", "CSP"


class FeePlan(models.Model):
    """What the hub charges one partner, per role, and how often the partner settles.

    A partner without a plan settles monthly and pays no fees. Fees are in the statement's currency:
    per settled SDR (credits aside) and/or a percentage of the settled amount excl. VAT, plus VAT.
    """

    partner = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="fee_plan")
    cadence = models.CharField(max_length=7, choices=Cadence.choices, default=Cadence.MONTHLY)
    cso_fee_per_sdr = models.DecimalField("fee per SDR as CSO", default=0, **MONEY)
    cso_fee_percent = models.DecimalField("% of the settled amount as CSO", default=0, **RATE)
    csp_fee_per_sdr = models.DecimalField("fee per SDR as CSP", default=0, **MONEY)
    csp_fee_percent = models.DecimalField("% of the settled amount as CSP", default=0, **RATE)
    vat_percent = models.DecimalField("VAT % on the fees", default=0, **RATE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner_id"]
        constraints = [
            models.CheckConstraint(condition=Q(cadence__in=Cadence.values), name="fee_plan_cadence_valid"),
            models.CheckConstraint(
                condition=Q(cso_fee_per_sdr__gte=0, csp_fee_per_sdr__gte=0), name="fee_plan_fees_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(cso_fee_percent__gte=0, cso_fee_percent__lte=100)
                & Q(csp_fee_percent__gte=0, csp_fee_percent__lte=100)
                & Q(vat_percent__gte=0, vat_percent__lte=100),
                name="fee_plan_percentages_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"fee plan of {self.partner}"


class FinanceUser(models.Model):
    """A partner's finance user: a Django user who logs in to /finance/ and sees that partner's
    statements only. Hub finance staff are staff users with the statement permissions instead."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="finance_user"
    )
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="finance_users")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["partner_id", "id"]
        verbose_name = "partner finance user"

    def __str__(self) -> str:
        return f"{self.user} ({self.partner})"


class RunState(models.TextChoices):
    """PENDING → RUNNING → DONE | FAILED; a FAILED, DONE or stale RUNNING run may be claimed again
    until one of its statements is finalised (closed_at)."""

    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class SettlementRun(models.Model):
    """The settlement of one period of one cadence in one currency.

    Claimed with a conditional UPDATE (claim_token, heartbeat_at), so two workers never run it at
    once and a run whose worker died is taken over once its heartbeat is stale. Closed (and never
    run again) once one of its statements is finalised: later SDRs go to the next open period.
    """

    cadence = models.CharField(max_length=7, choices=Cadence.choices)
    period_key = models.CharField(max_length=10, help_text="2026-11, 2026-W48 or 2026-11-26")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="exclusive")
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=7, choices=RunState.choices, default=RunState.PENDING)
    claim_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="when its first statement became final")
    sdr_count = models.PositiveBigIntegerField("SDRs settled", default=0)
    statement_count = models.PositiveIntegerField(default=0)
    requested_by = models.CharField(max_length=150, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start", "cadence", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["cadence", "period_key", "currency"], name="settlement_run_unique"
            ),
            models.CheckConstraint(condition=Q(state__in=RunState.values), name="settlement_run_state_valid"),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")), name="settlement_run_period_valid"
            ),
            # Only a finished run can have final statements.
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(state=RunState.DONE),
                name="settlement_run_closed_when_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_key} {self.currency} ({self.state})"


class StatementLine(models.Model):
    """What one CSP owes one CSO in a run: exact sums of the settled SDRs at SDR precision (four
    decimals; statements round them once), plus the disputed SDRs held back."""

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="lines")
    cso = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSO"
    )
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP"
    )
    sdr_count = models.PositiveBigIntegerField(default=0)
    credit_count = models.PositiveBigIntegerField(default=0)
    energy_kwh = models.DecimalField(default=0, help_text="credits count negative", **ENERGY_SUM)
    amount_excl_vat = models.DecimalField(default=0, **SUM)
    amount_incl_vat = models.DecimalField(default=0, help_text="excl. VAT where an SDR states none", **SUM)
    credits_incl_vat = models.DecimalField(default=0, help_text="the credits among them (≤ 0)", **SUM)
    disputed_count = models.PositiveBigIntegerField(default=0)
    disputed_incl_vat = models.DecimalField(default=0, **SUM)

    class Meta:
        ordering = ["run_id", "cso_id", "csp_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "cso", "csp"], name="statement_line_unique_pair"),
            models.CheckConstraint(
                condition=Q(credits_incl_vat__lte=0), name="statement_line_credits_negative"
            ),
        ]
        indexes = [
            # A CSP's lines in a run (its statement); the CSO side is served by the unique index.
            models.Index(fields=["run", "csp"], name="statement_line_run_csp"),
        ]

    def __str__(self) -> str:
        return f"line {self.cso_id} ← {self.csp_id} of run {self.run_id}"


class SettlementBucket(models.Model):
    """The accepted SDRs of one (CSO, CSP) pair, currency and settlement period that settle together.

    An SDR joins a bucket when it becomes ACCEPTED (settlement.services.settlement_buckets), and never
    leaves it: Sdr.bucket is the SDR's single link to a statement line. A run closes the open buckets
    of its (cadence, period, currency) by pointing them at their pair's line (a few row updates) and
    sums their SDRs with one GROUP BY. Triggers (migration 0004) keep it exact: a closed bucket never
    reopens or changes line, takes no SDR, and its SDRs never change state or bucket; so every SDR
    is on one line at most, once. A bucket whose period became final while it was open moves to the
    next open period (late SDRs).
    """

    cso = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSO", db_index=False
    )
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP", db_index=False
    )
    currency = models.CharField(max_length=3)
    cadence = models.CharField(max_length=7, choices=Cadence.choices)
    period_key = models.CharField(max_length=10)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="exclusive")
    line = models.ForeignKey(
        StatementLine, on_delete=models.PROTECT, null=True, blank=True, related_name="buckets"
    )
    closed_at = models.DateTimeField(null=True, blank=True, help_text="when a run settled it")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(line__isnull=True, closed_at__isnull=True)
                | Q(line__isnull=False, closed_at__isnull=False),
                name="settlement_bucket_closed_with_line",
            ),
        ]
        indexes = [
            # The open buckets of a (cadence, period, currency): what a run closes, what is due.
            models.Index(
                fields=["cadence", "currency", "period_key", "cso", "csp"],
                name="settlement_bucket_open",
                condition=Q(line__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.line_id is None else f"on line {self.line_id}"
        return f"bucket {self.cso_id} ← {self.csp_id} {self.period_key} {self.currency} ({state})"


class StatementState(models.TextChoices):
    """DRAFT → FINAL → PARTIALLY_PAID → PAID. Everything but a DRAFT is locked."""

    DRAFT = "DRAFT", "Draft"
    FINAL = "FINAL", "Final"
    PARTIALLY_PAID = "PARTIALLY_PAID", "Partially paid"
    PAID = "PAID", "Paid"


class Payer(models.TextChoices):
    NONE = "", "nobody (nothing due)"
    HUB = "HUB", "the hub pays the partner"
    PARTNER = "PARTNER", "the partner pays the hub"


def report_path(instance: Statement, filename: str) -> str:
    return f"statements/{instance.period_start:%Y}/{filename}"


class Statement(models.Model):
    """One partner's statement for a run: gross amounts rounded to the currency's minor unit.

    net = receivable as CSO - payable as CSP - hub fees; the hub pays a positive net, the partner
    pays a negative one. `snapshot` is the document as finalised (parties, lines, fees, notes),
    so a final statement renders the same bytes whatever changes in the partner registry later.
    """

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="statements")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="statements")
    cadence = models.CharField(max_length=7, choices=Cadence.choices)
    period_key = models.CharField(max_length=10)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=14, choices=StatementState.choices, default=StatementState.DRAFT)
    number = models.CharField(max_length=32, blank=True, help_text="assigned when final")
    sdr_count = models.PositiveBigIntegerField(default=0)
    energy_kwh = models.DecimalField(default=0, **ENERGY_SUM)
    receivable_as_cso = models.DecimalField(default=0, **MONEY)
    payable_as_csp = models.DecimalField(default=0, **MONEY)
    hub_fees = models.DecimalField(default=0, **MONEY)
    net = models.DecimalField(default=0, **MONEY)
    disputed_held_incl_vat = models.DecimalField(default=0, **MONEY)
    payer = models.CharField(max_length=7, choices=Payer.choices, blank=True)
    payment_amount = models.DecimalField(default=0, help_text="|net|", **MONEY)
    paid_amount = models.DecimalField(default=0, **MONEY)
    computed_at = models.DateTimeField(default=timezone.now)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.JSONField(null=True, blank=True, editable=False)
    report_csv = models.FileField(upload_to=report_path, blank=True, max_length=200)
    report_xlsx = models.FileField(upload_to=report_path, blank=True, max_length=200)
    report_pdf = models.FileField(upload_to=report_path, blank=True, max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start", "partner_id", "currency"]
        permissions = [
            ("finalise_statement", "Can finalise statements"),
            ("record_statement_payment", "Can record payments of statements"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["run", "partner"], name="statement_unique_run_partner"),
            models.UniqueConstraint(
                fields=["number"], condition=~Q(number=""), name="statement_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(state__in=StatementState.values), name="statement_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state=StatementState.DRAFT, number="")
                | (
                    ~Q(state=StatementState.DRAFT)
                    & ~Q(number="")
                    & Q(issued_at__isnull=False, snapshot__isnull=False)
                ),
                name="statement_final_is_numbered",
            ),
            models.CheckConstraint(
                condition=equal_amounts(
                    F("net"), F("receivable_as_cso") - F("payable_as_csp") - F("hub_fees")
                ),
                name="statement_net_balances",
            ),
            models.CheckConstraint(
                condition=Q(net__gt=0, payer=Payer.HUB, payment_amount=F("net"))
                | Q(net__lt=0, payer=Payer.PARTNER, payment_amount=-F("net"))
                | Q(net=0, payer=Payer.NONE, payment_amount=0),
                name="statement_payment_follows_net",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0, paid_amount__lte=F("payment_amount")),
                name="statement_paid_within_due",
            ),
        ]
        indexes = [
            # GET /statements/ of a partner in (updated_at, id) order; the finance pages' lists.
            models.Index(fields=["partner", "updated_at", "id"], name="statement_partner_updated"),
            models.Index(fields=["updated_at", "id"], name="statement_updated"),
            models.Index(fields=["period_start", "currency"], name="statement_period"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.period_key} {self.currency} #{self.pk}"

    @property
    def is_final(self) -> bool:
        return self.state != StatementState.DRAFT

    @property
    def outstanding(self) -> Decimal:
        return self.payment_amount - self.paid_amount


class FeeKind(models.TextChoices):
    PER_SDR = "PER_SDR", "fee per SDR"
    PERCENT = "PERCENT", "percentage of the settled amount"


class StatementFee(models.Model):
    """One hub fee on a statement: per SDR or a percentage, for one role, with its VAT."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="fees")
    role = models.CharField(max_length=3, choices=Role.choices)
    kind = models.CharField(max_length=7, choices=FeeKind.choices)
    description = models.CharField(max_length=120)
    basis = models.CharField(max_length=120)
    quantity = models.DecimalField(help_text="SDR count or the settled amount", **SUM)
    rate = models.DecimalField(help_text="fee per SDR or percent", **MONEY)
    amount_excl_vat = models.DecimalField(**MONEY)
    vat_rate_percent = models.DecimalField(**RATE)
    vat_amount = models.DecimalField(**MONEY)
    amount_incl_vat = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["statement_id", "role", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "role", "kind"], name="statement_fee_unique_kind"),
            models.CheckConstraint(
                condition=equal_amounts(F("amount_incl_vat"), F("amount_excl_vat") + F("vat_amount")),
                name="statement_fee_gross_is_net_plus_vat",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class StatementPayment(models.Model):
    """A payment recorded against a final statement (in whichever direction the net says)."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY)
    received_at = models.DateTimeField(default=timezone.now)
    reference = models.CharField(max_length=140, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["statement_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="statement_payment_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.statement_id}"


class StatementSequence(models.Model):
    """The counter of statement numbers of one year: locked (SELECT ... FOR UPDATE) while a number
    is taken, in the transaction that finalises the statement, so numbers have no gaps."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"
