"""How a statement looks on the wire: in API answers and in the statement.final message.

Money as decimal strings in the currency's minor unit, energy in kWh to the watt-hour, times in
UTC with a `Z`. Plain dictionaries, one builder for both, so a partner reads the same record
whether the hub pushes it or the partner pulls it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse

from partners.models import Partner

from ..models import Statement
from ..money import round_money
from ..reports.formatting import money_text
from ..representation import rfc3339
from .settlement_figures import RoundedLine

FORMATS = ("csv", "xlsx", "pdf")


def _money(value: Decimal, currency: str) -> str:
    return money_text(round_money(value, currency), currency)


def statement_out(statement: Statement, *, detail: bool = False) -> dict[str, Any]:
    """The statement's record; with `detail`, its lines and fees too."""
    from ..selectors.statements import statement_lines

    cur = statement.currency
    partner = statement.partner
    payment = None
    if statement.payer:
        payee = "PARTNER" if statement.payer == "HUB" else "HUB"
        payment = {"payer": statement.payer, "payee": payee, "amount": _money(statement.payment_amount, cur)}
    record: dict[str, Any] = {
        "id": statement.pk,
        "number": statement.number or None,
        "state": statement.state,
        "partner": {
            "name": partner.name,
            "operator_id": partner.operator_id if partner.is_cso else None,
            "provider_id": partner.provider_id if partner.is_csp else None,
        },
        "period": {
            "key": statement.period_key,
            "cadence": statement.cadence,
            "start": rfc3339(statement.period_start),
            "end": rfc3339(statement.period_end),
        },
        "currency": cur,
        "sdr_count": statement.sdr_count,
        "energy_kwh": format(statement.energy_kwh.quantize(Decimal("0.001")), "f"),
        "receivable_as_cso": _money(statement.receivable_as_cso, cur),
        "payable_as_csp": _money(statement.payable_as_csp, cur),
        "hub_fees": _money(statement.hub_fees, cur),
        "net": _money(statement.net, cur),
        "disputed_held_incl_vat": _money(statement.disputed_held_incl_vat, cur),
        "payment": payment,
        "paid_amount": _money(statement.paid_amount, cur),
        "issued_at": rfc3339(statement.issued_at),
        "updated_at": rfc3339(statement.updated_at),
        "reports": {fmt: reverse(f"statement-report-{fmt}", kwargs={"pk": statement.pk}) for fmt in FORMATS},
    }
    if not detail:
        return record
    lines = statement_lines(statement)
    others = {p.pk: p for p in Partner.objects.filter(pk__in={line.counterparty_id for line in lines})}

    def counterparty(line: RoundedLine) -> dict[str, str]:
        other = others[line.counterparty_id]
        # As CSO the partner is owed by a CSP (provider ID); as CSP it owes a CSO (operator ID).
        return {"name": other.name, "id": other.provider_id if line.role == "CSO" else other.operator_id}

    record["lines"] = [
        {
            "role": line.role,
            "counterparty": counterparty(line),
            "sdr_count": line.sums.sdr_count,
            "credit_count": line.sums.credit_count,
            "energy_kwh": format(line.energy_kwh, "f"),
            "amount_excl_vat": _money(line.amount_excl_vat, cur),
            "vat_amount": _money(line.vat_amount, cur),
            "amount_incl_vat": _money(line.amount_incl_vat, cur),
            "credits_incl_vat": _money(line.credits_incl_vat, cur),
            "disputed_count": line.sums.disputed_count,
            "disputed_held_incl_vat": _money(line.disputed_held_incl_vat, cur),
        }
        for line in lines
    ]
    record["fees"] = [
        {
            "role": fee.role,
            "kind": fee.kind,
            "description": fee.description,
            "basis": fee.basis,
            "amount_excl_vat": _money(fee.amount_excl_vat, cur),
            "vat_rate_percent": format(fee.vat_rate_percent.normalize(), "f"),
            "vat_amount": _money(fee.vat_amount, cur),
            "amount_incl_vat": _money(fee.amount_incl_vat, cur),
        }
        for fee in statement.fees.order_by("id")
    ]
    return record
