"""What a statement report shows: the data contract between the settlement service and the renderers.

Framework-free and immutable. The service fills these objects from the database; the CSV, XLSX and
PDF renderers read nothing else. Because every value, the issue timestamp included, comes from the
document, the same document renders to the same bytes whenever and wherever it is rendered.

Contract references on SDR rows arrive masked or pseudonymised: the renderers never see a raw
credential, so no report can leak one.

The document checks its own arithmetic on construction (amounts already rounded to the currency's
minor unit, net = receivable - payable - fees, payment = |net|): a renderer must never round or
recompute money, and a statement whose figures disagree with each other must not be printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from clearinghouse.lib.codes import CURRENCY_MINOR_UNITS

from ..money import round_money

LINE_MONEY = (
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
    "credits_incl_vat",
    "disputed_held_incl_vat",
)
FEE_MONEY = ("amount_excl_vat", "vat_amount", "amount_incl_vat")


class StatementState(StrEnum):
    DRAFT = "DRAFT"
    FINAL = "FINAL"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"


class LineRole(StrEnum):
    """The partner's role on a statement line, seen from the partner the statement is for."""

    CSO = "CSO"  # the partner operated the charge points: the counterparty CSP owes it (receivable)
    CSP = "CSP"  # the partner's customers charged: it owes the counterparty CSO (payable)


def _require_aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _require_decimal(name: str, value: object) -> None:
    # A float here would already have lost cents; refuse it instead of printing it.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name} must be a finite Decimal, got {value!r}")


@dataclass(frozen=True, slots=True)
class Party:
    """A legal party named on the statement: the hub or the partner."""

    name: str
    legal_name: str
    vat_id: str
    address_lines: tuple[str, ...]
    identifiers: str  # e.g. "DE*ACH (CSO) · DE-ACH (CSP)"


@dataclass(frozen=True, slots=True)
class StatementLine:
    """The partner's totals with one counterparty in one role, VAT included where named."""

    counterparty_name: str
    counterparty_id: str  # the counterparty's operator ID (DE*ABC) or provider ID (DE-ABC)
    role: LineRole
    sdr_count: int
    energy_kwh: Decimal
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    credits_incl_vat: Decimal
    disputed_held_incl_vat: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", LineRole(self.role))
        if self.sdr_count < 0:
            raise ValueError("sdr_count must not be negative")
        _require_decimal("energy_kwh", self.energy_kwh)

    def money(self) -> dict[str, Decimal]:
        return {key: getattr(self, key) for key in LINE_MONEY}


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One hub fee charged to the partner, with how it was computed and its VAT."""

    description: str
    basis: str  # e.g. "120 SDRs × 0.10" or "1.5 % of 1,234.00"
    amount_excl_vat: Decimal
    vat_rate_percent: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal

    def __post_init__(self) -> None:
        _require_decimal("vat_rate_percent", self.vat_rate_percent)

    def money(self) -> dict[str, Decimal]:
        return {key: getattr(self, key) for key in FEE_MONEY}


@dataclass(frozen=True, slots=True)
class PositionSummary:
    """The partner's net position for the period and currency (gross amounts)."""

    receivable_as_cso: Decimal
    payable_as_csp: Decimal
    hub_fees: Decimal
    net: Decimal  # positive: the hub pays the partner; negative: the partner pays the hub

    def money(self) -> dict[str, Decimal]:
        return {
            "receivable_as_cso": self.receivable_as_cso,
            "payable_as_csp": self.payable_as_csp,
            "hub_fees": self.hub_fees,
            "net": self.net,
        }


@dataclass(frozen=True, slots=True)
class PaymentInstructionDoc:
    """Who pays whom how much, as a sentence and as fields."""

    text: str
    payer: str
    payee: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class StatementDocument:
    """Everything a statement report shows, in the statement's currency."""

    number: str  # invoice-style, from a gap-free sequence: "CH-2026-000123"
    state: StatementState
    hub: Party
    partner: Party
    period_key: str
    period_start: datetime  # inclusive
    period_end: datetime  # exclusive: periods are half-open [start, end)
    currency: str
    issued_at: datetime  # also the fixed timestamp inside every file, for reproducible bytes
    lines: tuple[StatementLine, ...]
    fees: tuple[FeeLine, ...]
    position: PositionSummary
    payment: PaymentInstructionDoc | None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", StatementState(self.state))
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "fees", tuple(self.fees))
        object.__setattr__(self, "notes", tuple(self.notes))
        if self.currency not in CURRENCY_MINOR_UNITS:
            raise ValueError(f"not a currency with a minor unit: {self.currency!r}")
        for name in ("period_start", "period_end", "issued_at"):
            _require_aware(name, getattr(self, name))
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        self._check_money()

    @property
    def is_final(self) -> bool:
        """FINAL, PAID and PARTIALLY_PAID are locked statements; only a DRAFT may still change."""
        return self.state is not StatementState.DRAFT

    def line_totals(self) -> dict[str, Decimal]:
        """Column sums of the statement lines: energy and every amount (exact, already rounded)."""
        keys = ("energy_kwh", *LINE_MONEY)
        return {key: sum((getattr(line, key) for line in self.lines), Decimal(0)) for key in keys}

    def fee_totals(self) -> dict[str, Decimal]:
        return {key: sum((getattr(fee, key) for fee in self.fees), Decimal(0)) for key in FEE_MONEY}

    def _check_money(self) -> None:
        amounts: list[tuple[str, Decimal]] = []
        for index, line in enumerate(self.lines):
            amounts += [(f"lines[{index}].{key}", value) for key, value in line.money().items()]
        for index, fee in enumerate(self.fees):
            amounts += [(f"fees[{index}].{key}", value) for key, value in fee.money().items()]
        amounts += [(f"position.{key}", value) for key, value in self.position.money().items()]
        if self.payment is not None:
            amounts.append(("payment.amount", self.payment.amount))
        for name, value in amounts:
            _require_decimal(name, value)
            if value != round_money(value, self.currency):
                raise ValueError(f"{name} = {value} is not rounded to the minor unit of {self.currency}")
        position = self.position
        if position.net != position.receivable_as_cso - position.payable_as_csp - position.hub_fees:
            raise ValueError("position.net must equal receivable_as_cso - payable_as_csp - hub_fees")
        if self.payment is None:
            if position.net != 0:
                raise ValueError("a non-zero net position needs a payment instruction")
        elif self.payment.amount != abs(position.net) or self.payment.amount == 0:
            raise ValueError("payment.amount must equal the absolute net position")


@dataclass(frozen=True, slots=True)
class SdrRow:
    """One settled SDR as listed in the CSV and XLSX reports (amounts at SDR precision)."""

    sdr_id: str
    session_id: str
    cso_id_str: str  # operator ID, e.g. "DE*ACH"
    csp_id_str: str  # provider ID, e.g. "NL-BMO"
    contract_ref: str  # masked or pseudonymised by the caller, never the raw contract ID or token
    start: datetime
    end: datetime
    energy_kwh: Decimal
    amount_excl_vat: Decimal
    amount_incl_vat: Decimal
    is_credit: bool
    state: str
