"""The figures of a run's statements, from its lines and the partners' fee plans.

Framework-free: plain values in, plain values out, so the arithmetic is tested by hand-computed
examples without a database. Rounding happens once per line (the sums arrive exact, at SDR
precision) and once per fee; every total on a statement is a sum of rounded figures, so what a
statement prints adds up. Netting goes through settlement.netting over the whole run, whose
positions balance with the hub's fee income.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..money import ZERO, percent_of, round_money, with_vat
from ..netting import FeeTotal, PairTotal, PaymentInstruction, Position, net_positions, payment_instruction

ENERGY_EXPONENT = Decimal("0.001")  # statements show energy to the watt-hour


@dataclass(frozen=True)
class LineSums:
    """A statement line as the run summed it: exact sums of its SDRs (credits negative)."""

    line_id: int
    cso_id: int
    csp_id: int
    sdr_count: int
    credit_count: int
    energy_kwh: Decimal
    amount_excl_vat: Decimal
    amount_incl_vat: Decimal
    credits_incl_vat: Decimal
    disputed_count: int
    disputed_incl_vat: Decimal


def line_sums_of(line: Any) -> LineSums:
    """The sums of a stored line (any object with a StatementLine's attributes)."""
    return LineSums(
        line_id=line.pk,
        cso_id=line.cso_id,
        csp_id=line.csp_id,
        sdr_count=line.sdr_count,
        credit_count=line.credit_count,
        energy_kwh=line.energy_kwh,
        amount_excl_vat=line.amount_excl_vat,
        amount_incl_vat=line.amount_incl_vat,
        credits_incl_vat=line.credits_incl_vat,
        disputed_count=line.disputed_count,
        disputed_incl_vat=line.disputed_incl_vat,
    )


@dataclass(frozen=True)
class RoundedLine:
    """A line as a statement shows it, from one partner's side (`role`)."""

    sums: LineSums
    role: str  # "CSO": the counterparty (the CSP) owes the partner; "CSP": the partner owes the CSO
    counterparty_id: int
    energy_kwh: Decimal
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    credits_incl_vat: Decimal  # the credits included in the amount, as a positive figure
    disputed_held_incl_vat: Decimal

    @property
    def is_empty(self) -> bool:
        return self.sums.sdr_count == 0 and self.sums.disputed_count == 0


@dataclass(frozen=True)
class FeeRates:
    """A fee plan's rates (all zero for a partner without a plan)."""

    cso_fee_per_sdr: Decimal = ZERO
    cso_fee_percent: Decimal = ZERO
    csp_fee_per_sdr: Decimal = ZERO
    csp_fee_percent: Decimal = ZERO
    vat_percent: Decimal = ZERO

    def per_sdr(self, role: str) -> Decimal:
        return self.cso_fee_per_sdr if role == "CSO" else self.csp_fee_per_sdr

    def percent(self, role: str) -> Decimal:
        return self.cso_fee_percent if role == "CSO" else self.csp_fee_percent


@dataclass(frozen=True)
class FeeFigure:
    role: str
    kind: str  # "PER_SDR" or "PERCENT"
    description: str
    basis: str
    quantity: Decimal
    rate: Decimal
    amount_excl_vat: Decimal
    vat_rate_percent: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal


@dataclass
class PartnerFigures:
    """Everything one partner's statement says, rounded."""

    partner_id: int
    currency: str
    lines: list[RoundedLine] = field(default_factory=list)
    fees: list[FeeFigure] = field(default_factory=list)
    position: Position | None = None
    payment: PaymentInstruction | None = None

    @property
    def sdr_count(self) -> int:
        return sum(line.sums.sdr_count for line in self.lines)

    @property
    def energy_kwh(self) -> Decimal:
        return sum((line.energy_kwh for line in self.lines), ZERO)

    @property
    def disputed_held_incl_vat(self) -> Decimal:
        return sum((line.disputed_held_incl_vat for line in self.lines), ZERO)

    @property
    def hub_fees(self) -> Decimal:
        return sum((fee.amount_incl_vat for fee in self.fees), ZERO)


def round_energy(kwh: Decimal) -> Decimal:
    return kwh.quantize(ENERGY_EXPONENT, rounding=ROUND_HALF_UP)


def rounded_line(sums: LineSums, *, role: str, currency: str) -> RoundedLine:
    """The line from one side, each amount rounded once; VAT is gross minus net, so they add up."""
    excl = round_money(sums.amount_excl_vat, currency)
    incl = round_money(sums.amount_incl_vat, currency)
    return RoundedLine(
        sums=sums,
        role=role,
        counterparty_id=sums.csp_id if role == "CSO" else sums.cso_id,
        energy_kwh=round_energy(sums.energy_kwh),
        amount_excl_vat=excl,
        vat_amount=incl - excl,
        amount_incl_vat=incl,
        credits_incl_vat=round_money(-sums.credits_incl_vat, currency),
        disputed_held_incl_vat=round_money(sums.disputed_incl_vat, currency),
    )


def _number(value: Decimal) -> str:
    return f"{value:,f}"


def role_fees(*, role: str, lines: Iterable[RoundedLine], rates: FeeRates, currency: str) -> list[FeeFigure]:
    """The hub's fees for one role: per settled SDR (credits do not count: they add no session)
    and a percentage of the settled amount excl. VAT (credits lower it, and with it the fee)."""
    mine = [line for line in lines if line.role == role]
    sessions = sum(line.sums.sdr_count - line.sums.credit_count for line in mine)
    base = sum((line.amount_excl_vat for line in mine), ZERO)
    fees: list[FeeFigure] = []
    per_sdr, percent = rates.per_sdr(role), rates.percent(role)
    if per_sdr > 0 and sessions > 0:
        net, vat, gross = with_vat(per_sdr * sessions, rates.vat_percent, currency)
        fees.append(
            FeeFigure(
                role=role,
                kind="PER_SDR",
                description=f"Transaction fee as {role}",
                basis=f"{sessions:,} SDRs × {_number(per_sdr.normalize())}",
                quantity=Decimal(sessions),
                rate=per_sdr,
                amount_excl_vat=net,
                vat_rate_percent=rates.vat_percent,
                vat_amount=vat,
                amount_incl_vat=gross,
            )
        )
    if percent > 0 and base != 0:
        net, vat, gross = with_vat(percent_of(base, percent), rates.vat_percent, currency)
        fees.append(
            FeeFigure(
                role=role,
                kind="PERCENT",
                description=f"Clearing fee as {role}",
                basis=f"{_number(percent.normalize())} % of {_number(base)} settled excl. VAT",
                quantity=base,
                rate=percent,
                amount_excl_vat=net,
                vat_rate_percent=rates.vat_percent,
                vat_amount=vat,
                amount_incl_vat=gross,
            )
        )
    return fees


def run_figures(
    *, lines: Iterable[LineSums], rates: Mapping[int, FeeRates], currency: str
) -> dict[int, PartnerFigures]:
    """Every partner's statement figures in a run: its lines from its side, its fees, its net
    position and payment instruction. Raises if the positions and fees do not balance."""
    figures: dict[int, PartnerFigures] = defaultdict(lambda: PartnerFigures(0, currency))
    pairs: list[PairTotal] = []
    for sums in lines:
        for role, partner_id in (("CSO", sums.cso_id), ("CSP", sums.csp_id)):
            partner = figures[partner_id]
            partner.partner_id = partner_id
            partner.lines.append(rounded_line(sums, role=role, currency=currency))
        incl = round_money(sums.amount_incl_vat, currency)
        pairs.append(PairTotal(sums.cso_id, sums.csp_id, currency, incl))
    for partner in figures.values():
        partner.lines.sort(key=lambda line: (line.role, line.counterparty_id, line.sums.line_id))
        plan = rates.get(partner.partner_id, FeeRates())
        for role in ("CSO", "CSP"):
            partner.fees += role_fees(role=role, lines=partner.lines, rates=plan, currency=currency)
    fee_totals = [FeeTotal(p.partner_id, currency, p.hub_fees) for p in figures.values()]
    positions = {pos.partner_id: pos for pos in net_positions(pairs, fee_totals)}
    for partner_id, partner in figures.items():
        partner.position = positions[partner_id]
        partner.payment = payment_instruction(partner.position)
    # The hub is the central counterparty: what partners are owed plus the fees is what they owe.
    balance = sum((p.net for p in positions.values()), ZERO) + sum(t.amount_incl_vat for t in fee_totals)
    if balance != 0:
        raise ArithmeticError(f"settlement positions do not balance: {balance}")
    return dict(figures)


def partner_lines(*, lines: Iterable[LineSums], partner_id: int, currency: str) -> list[RoundedLine]:
    """One partner's lines from its side, in statement order (as CSO first, then as CSP)."""
    out = []
    for sums in lines:
        for role, member in (("CSO", sums.cso_id), ("CSP", sums.csp_id)):
            if member == partner_id:
                out.append(rounded_line(sums, role=role, currency=currency))
    out.sort(key=lambda line: (line.role, line.counterparty_id, line.sums.line_id))
    return out
