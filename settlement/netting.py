"""Netting: each partner's position per currency and period, and who pays whom.

Framework-free. The hub is the central counterparty: a partner whose position is positive is paid by
the hub, one whose position is negative pays the hub. Positions always balance: the sum of every
partner's position plus the hub's fee income is zero (tested), so no money appears or disappears.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO, round_money


@dataclass(frozen=True)
class PairTotal:
    """What one CSP owes one CSO for a period and currency (gross, VAT included)."""

    cso_id: int
    csp_id: int
    currency: str
    amount_incl_vat: Decimal


@dataclass(frozen=True)
class FeeTotal:
    """What one partner owes the hub in fees for a period and currency (gross)."""

    partner_id: int
    currency: str
    amount_incl_vat: Decimal


@dataclass(frozen=True)
class Position:
    partner_id: int
    currency: str
    receivable_as_cso: Decimal
    payable_as_csp: Decimal
    hub_fees: Decimal

    @property
    def net(self) -> Decimal:
        return self.receivable_as_cso - self.payable_as_csp - self.hub_fees


@dataclass(frozen=True)
class PaymentInstruction:
    payer: str  # "HUB" or "PARTNER"
    payee: str
    partner_id: int
    currency: str
    amount: Decimal


def net_positions(pairs: Iterable[PairTotal], fees: Iterable[FeeTotal]) -> list[Position]:
    """Each partner's position per currency, from pair totals and fee totals."""
    receivable: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    payable: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    fee_sum: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for pair in pairs:
        receivable[(pair.cso_id, pair.currency)] += pair.amount_incl_vat
        payable[(pair.csp_id, pair.currency)] += pair.amount_incl_vat
    for fee in fees:
        fee_sum[(fee.partner_id, fee.currency)] += fee.amount_incl_vat
    keys = sorted(set(receivable) | set(payable) | set(fee_sum))
    return [
        Position(
            partner_id=partner_id,
            currency=currency,
            receivable_as_cso=round_money(receivable[(partner_id, currency)], currency),
            payable_as_csp=round_money(payable[(partner_id, currency)], currency),
            hub_fees=round_money(fee_sum[(partner_id, currency)], currency),
        )
        for partner_id, currency in keys
    ]


def payment_instruction(position: Position) -> PaymentInstruction | None:
    """Who pays whom: the hub pays a positive position, the partner pays a negative one."""
    net = position.net
    if net > 0:
        return PaymentInstruction("HUB", "PARTNER", position.partner_id, position.currency, net)
    if net < 0:
        return PaymentInstruction("PARTNER", "HUB", position.partner_id, position.currency, -net)
    return None
