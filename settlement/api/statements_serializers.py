"""The shapes of the statement endpoints' answers, for the OpenAPI schema.

The answers are built by settlement.services.settlement_representation (the same builder writes
the statement.final message); these serializers describe them.
"""

from __future__ import annotations

from rest_framework import serializers

from ..models import Cadence, StatementState

MONEY = "decimal string in the currency's minor unit"
STATES = ", ".join(StatementState.values)


class StatementPartnerOut(serializers.Serializer):
    name = serializers.CharField()
    operator_id = serializers.CharField(allow_null=True, help_text="e.g. DE*ABC, when a CSO")
    provider_id = serializers.CharField(allow_null=True, help_text="e.g. DE-ABC, when a CSP")


class StatementPeriodOut(serializers.Serializer):
    key = serializers.CharField(help_text="2026-11 (month), 2026-W48 (ISO week) or 2026-11-26 (day)")
    cadence = serializers.CharField(help_text=", ".join(Cadence.values))
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="exclusive")


class StatementPaymentOut(serializers.Serializer):
    payer = serializers.CharField(help_text="HUB or PARTNER")
    payee = serializers.CharField(help_text="PARTNER or HUB")
    amount = serializers.CharField(help_text=MONEY)


class StatementReportsOut(serializers.Serializer):
    csv = serializers.CharField()
    xlsx = serializers.CharField()
    pdf = serializers.CharField()


class StatementOut(serializers.Serializer):
    """A settlement statement: one partner, one period, one currency; gross amounts."""

    id = serializers.IntegerField()
    number = serializers.CharField(allow_null=True, help_text="assigned when final, e.g. CH-2026-000123")
    state = serializers.CharField(help_text=STATES)
    partner = StatementPartnerOut()
    period = StatementPeriodOut()
    currency = serializers.CharField()
    sdr_count = serializers.IntegerField()
    energy_kwh = serializers.CharField()
    receivable_as_cso = serializers.CharField(help_text=MONEY)
    payable_as_csp = serializers.CharField(help_text=MONEY)
    hub_fees = serializers.CharField(help_text=MONEY)
    net = serializers.CharField(help_text="receivable - payable - fees; positive: the hub pays you")
    disputed_held_incl_vat = serializers.CharField(help_text=MONEY)
    payment = StatementPaymentOut(allow_null=True)
    paid_amount = serializers.CharField(help_text=MONEY)
    issued_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    reports = StatementReportsOut(help_text="paths of the CSV, XLSX and PDF reports")


class CounterpartyOut(serializers.Serializer):
    name = serializers.CharField()
    id = serializers.CharField(
        help_text="the CSP's provider ID (role CSO) or the CSO's operator ID (role CSP)"
    )


class StatementLineOut(serializers.Serializer):
    role = serializers.CharField(help_text="CSO: the counterparty owes you; CSP: you owe the counterparty")
    counterparty = CounterpartyOut()
    sdr_count = serializers.IntegerField()
    credit_count = serializers.IntegerField()
    energy_kwh = serializers.CharField()
    amount_excl_vat = serializers.CharField(help_text=MONEY)
    vat_amount = serializers.CharField(help_text=MONEY)
    amount_incl_vat = serializers.CharField(help_text=MONEY)
    credits_incl_vat = serializers.CharField(help_text="credits included in the amount, as a positive figure")
    disputed_count = serializers.IntegerField()
    disputed_held_incl_vat = serializers.CharField(help_text=MONEY)


class StatementFeeOut(serializers.Serializer):
    role = serializers.CharField()
    kind = serializers.CharField(help_text="PER_SDR or PERCENT")
    description = serializers.CharField()
    basis = serializers.CharField()
    amount_excl_vat = serializers.CharField(help_text=MONEY)
    vat_rate_percent = serializers.CharField()
    vat_amount = serializers.CharField(help_text=MONEY)
    amount_incl_vat = serializers.CharField(help_text=MONEY)


class StatementDetailOut(StatementOut):
    """A statement with its lines and the hub's fees."""

    lines = StatementLineOut(many=True)
    fees = StatementFeeOut(many=True)
