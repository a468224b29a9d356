"""Money arithmetic for settlement: Decimal only, rounded to the currency's minor unit half-up.

Amounts are kept at four decimals on SDRs (OCPI precision) and rounded to the currency's minor
unit (2 for EUR, 0 for JPY, 3 for BHD) on statements, once, after summing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from clearinghouse.lib.codes import CURRENCY_MINOR_UNITS

ZERO = Decimal("0")


def minor_unit(currency: str) -> int:
    return CURRENCY_MINOR_UNITS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return amount * percent / Decimal(100)


def with_vat(amount: Decimal, vat_percent: Decimal, currency: str) -> tuple[Decimal, Decimal, Decimal]:
    """(net, vat, gross) of a net amount, each rounded to the currency."""
    net = round_money(amount, currency)
    vat = round_money(percent_of(net, vat_percent), currency)
    return net, vat, net + vat
