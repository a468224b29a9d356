"""The OCPI 2.2.1 rating algorithm: tariff choice, pricing, step sizes, VAT, clamping.

Read ``docs/rating.md`` for the rules with their sources and a worked example;
the comments here say where each rule lives in the code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any
from zoneinfo import ZoneInfo

from .model import (
    CURRENCY_MISMATCH,
    ENERGY,
    FLAT,
    MALFORMED_CDR,
    MALFORMED_TARIFF,
    MAX_PRICE,
    MIN_PRICE,
    MONEY_QUANTUM,
    NO_TARIFF,
    PARKING_TIME,
    RESERVATION_FLAT,
    RESERVATION_TIME,
    TIME,
    BilledLine,
    Price,
    RatingError,
    RatingResult,
)
from .parsing import SECONDS_PER_HOUR, WH_PER_KWH, Component, Element, Tariff, load_zone, parse_tariff
from .restrictions import PeriodContext, find_component
from .sessions import Period, Session, parse_session

# Intermediate arithmetic runs with 60 significant digits so that no realistic
# product or quotient is rounded before the single, explicit rounding of each
# line to 4 decimals; traps turn any arithmetic anomaly into an exception.
_WORK_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
# Reported volumes (hours) are shown with 28 significant digits: they are for
# reading, the money is computed from exact seconds / Wh.
_DISPLAY_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_ZERO_MONEY = Decimal("0.0000")


def rate_cdr(
    *,
    tariffs: Sequence[Mapping[str, Any]],
    cdr: Mapping[str, Any],
    time_zone: str,
    parsed: dict[tuple[int, int], Any] | None = None,
    volumes: Sequence[Sequence[tuple[str, Decimal]]] | None = None,
) -> RatingResult:
    """Compute the cost of a session (CDR) from the tariffs that applied.

    Per charging period the tariff is the one named by the period's
    ``tariff_id`` when that id is among ``tariffs`` (the CDR is authoritative,
    e.g. for a session that started before the tariff's end date); otherwise the
    first tariff of ``tariffs`` whose ``start_date_time``/``end_date_time`` cover
    the period start.  ``time_zone`` is the location's IANA zone, in which
    restrictions are evaluated.  Raises ``RatingError`` for input that cannot be
    rated.

    ``parsed``, a dict the caller keeps while the tariff documents stay unchanged
    (a batch of SDRs rated against the same published tariffs), remembers each
    document's parsed form so that it is validated and parsed once.

    ``volumes``, each charging period's dimensions as the caller read them already
    (see ``parse_session``), saves reading them again.
    """
    with localcontext(_WORK_CONTEXT):
        return _rate(tariffs, cdr, time_zone, {} if parsed is None else parsed, volumes)


def rate_session(*, tariff: Mapping[str, Any], cdr: Mapping[str, Any], time_zone: str) -> RatingResult:
    """``rate_cdr`` for the common case of a single tariff."""
    return rate_cdr(tariffs=[tariff], cdr=cdr, time_zone=time_zone)


# --------------------------------------------------------------------------- internals


@dataclass
class _Accumulator:
    """Mutable tally of one price component's usage while periods are walked."""

    label: str
    tariff: Tariff
    element: Element
    component: Component
    base_per_unit: Decimal  # Wh per kWh, seconds per hour, or 1 for FLAT
    unit: str
    quantity: Decimal = Decimal(0)  # consumed, in base units (Wh / s / 1)
    extra: Decimal = Decimal(0)  # added by the session's step-size round-up
    periods: list[int] = field(default_factory=list)
    step_rounded: bool = False

    def add(self, period: int, quantity: Decimal) -> None:
        self.quantity += quantity
        if period not in self.periods:
            self.periods.append(period)

    def to_line(self) -> BilledLine:
        billed = self.quantity + self.extra
        excl, incl = line_amounts(billed, self.component.price, self.base_per_unit, self.component.vat)
        volume = _DISPLAY_CONTEXT.divide(self.quantity, self.base_per_unit)
        billed_volume = _DISPLAY_CONTEXT.divide(billed, self.base_per_unit)
        return BilledLine(
            dimension=self.label,
            tariff_id=self.tariff.id,
            element_index=self.element.index,
            period_indexes=tuple(self.periods),
            volume=volume,
            billed_volume=billed_volume,
            unit=self.unit,
            unit_price=self.component.price,
            vat=self.component.vat,
            step_size=None if self.label in (FLAT, RESERVATION_FLAT) else self.component.step_size,
            step_rounded=self.step_rounded,
            excl_vat=excl,
            incl_vat=incl,
        )


def money(amount: Decimal) -> Decimal:
    """Round an exact amount to the 4-decimal money quantum, half-up."""
    return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


def line_amounts(
    quantity: Decimal, price: Decimal, base_per_unit: Decimal, vat: Decimal | None
) -> tuple[Decimal, Decimal | None]:
    """Exact ``quantity * price`` (converted to the price unit), rounded once.

    The incl-VAT amount is derived from the *exact* excl-VAT amount, not from
    the rounded one, so the two roundings are independent.  Without a VAT
    percentage the incl-VAT amount is unknown (``None``) unless the line is
    zero, in which case it is zero whatever the VAT (the spec's free-of-charge
    example omits VAT for exactly that reason).
    """
    exact = quantity * price / base_per_unit
    excl = money(exact)
    if vat is None:
        return excl, (_ZERO_MONEY if exact == 0 else None)
    return excl, money(exact * (_HUNDRED + vat) / _HUNDRED)


def _choose_tariff(tariffs: Sequence[Tariff], period: Period) -> Tariff:
    if period.tariff_id is not None:
        named = [t for t in tariffs if t.id == period.tariff_id]
        if named:
            return next((t for t in named if t.valid_at(period.start)), named[0])
    for tariff in tariffs:
        if tariff.valid_at(period.start):
            return tariff
    raise RatingError(
        NO_TARIFF,
        f"no tariff applies to charging period {period.index} starting {period.start.isoformat()}",
    )


def _contexts(session: Session, zone: ZoneInfo) -> list[PeriodContext]:
    """Restriction inputs per period (local time, energy so far, duration so far).

    The session duration is counted from the first non-reservation period, so
    that a reservation preceding the charging session (which moves the CDR's
    ``start_date_time`` earlier) does not eat into ``min/max_duration``.
    """
    charging_start = next((p.start for p in session.periods if not p.is_reservation), session.start)
    contexts = []
    energy_before = Decimal(0)
    for period in session.periods:
        origin = session.start if period.is_reservation else charging_start
        elapsed = max(period.start - origin, timedelta(0))
        contexts.append(
            PeriodContext(
                local_start=period.start.astimezone(zone),
                energy_before_kwh=energy_before,
                duration_seconds=Decimal(elapsed // timedelta(microseconds=1)) / 1_000_000,
                measurements=period.measurements,
                is_reservation=period.is_reservation,
                reservation_expired=session.reservation_expired,
            )
        )
        if not period.is_reservation:
            energy_before += period.energy_kwh
    return contexts


def _round_up_steps(accumulators: Sequence[_Accumulator], last: _Accumulator) -> None:
    """Apply ``step_size`` once to the session total of one dimension.

    OCPI 2.2.1 (CDRs, step_size): the total consumed amount of the dimension is
    rounded up to a multiple of the step size of the *last* price component used
    for it; the extra is billed at that component's price.  Earlier components
    and earlier periods are billed exactly.  A step size of 0 means exact.
    """
    step = Decimal(last.component.step_size)
    if step <= 0:
        return
    last.step_rounded = True
    total = sum((a.quantity for a in accumulators if a.label == last.label), Decimal(0))
    rounded = (total / step).to_integral_value(rounding=ROUND_CEILING) * step
    last.extra += rounded - total


def _sum_prices(lines: Sequence[BilledLine]) -> Price:
    """The sum of the lines; incl. VAT unknown (None) when any line's is. One pass: a rating sums
    its lines six times."""
    excl: Decimal = _ZERO_MONEY
    incl: Decimal | None = _ZERO_MONEY
    for line in lines:
        excl += line.excl_vat
        if incl is not None:
            incl = None if line.incl_vat is None else incl + line.incl_vat
    return Price(excl, incl)


def _adjustment(label: str, tariff: Tariff, current: Price, bound: Price) -> tuple[BilledLine | None, Price]:
    """One min/max price clamp, as an audit line; returns the line and the new subtotal.

    Excl and incl VAT are clamped independently (OCPI: both rules apply).  When
    the bound has no ``incl_vat`` but the excl amount had to move, the incl
    amount can no longer be known and becomes ``None``.
    """
    pick = max if label == MIN_PRICE else min
    new_excl = pick(current.excl_vat, bound.excl_vat)
    delta_excl = new_excl - current.excl_vat
    delta_incl: Decimal | None
    if current.incl_vat is None:
        delta_incl = None
    elif bound.incl_vat is not None:
        delta_incl = pick(current.incl_vat, bound.incl_vat) - current.incl_vat
    else:
        delta_incl = None if delta_excl else Decimal(0)
    if delta_excl == 0 and not delta_incl:
        return None, current
    # Bounds finer than the money quantum are rounded in the direction that keeps
    # them respected (a minimum up, a maximum down).
    direction = ROUND_CEILING if label == MIN_PRICE else ROUND_FLOOR
    delta_excl = delta_excl.quantize(MONEY_QUANTUM, rounding=direction)
    if delta_incl is not None:
        delta_incl = delta_incl.quantize(MONEY_QUANTUM, rounding=direction)
    line = BilledLine(
        dimension=label,
        tariff_id=tariff.id,
        element_index=None,
        period_indexes=(),
        volume=_ONE,
        billed_volume=_ONE,
        unit="adjustment",
        unit_price=delta_excl,
        vat=None,
        step_size=None,
        step_rounded=False,
        excl_vat=delta_excl,
        incl_vat=delta_incl,
    )
    new_incl = None if delta_incl is None or current.incl_vat is None else current.incl_vat + delta_incl
    return line, Price(current.excl_vat + delta_excl, new_incl)


def _hours(seconds: Decimal) -> Decimal:
    return _DISPLAY_CONTEXT.divide(seconds, SECONDS_PER_HOUR)


def _parse_tariff(raw: Any, position: int, parsed: dict[tuple[int, int], Any]) -> Tariff:
    key = (id(raw), position)
    known = parsed.get(key)
    if known is not None and known[0] is raw:  # the document itself is kept: its id stays its own
        return known[1]
    tariff = parse_tariff(raw, position)
    parsed[key] = (raw, tariff)
    return tariff


def _rate(
    tariffs: Sequence[Mapping[str, Any]],
    cdr: Mapping[str, Any],
    time_zone: str,
    cache: dict[tuple[int, int], Any],
    volumes: Sequence[Sequence[tuple[str, Decimal]]] | None = None,
) -> RatingResult:
    zone = load_zone(time_zone)
    if type(tariffs) is not list and (
        isinstance(tariffs, (str, bytes, Mapping)) or not isinstance(tariffs, Sequence)
    ):
        raise RatingError(MALFORMED_TARIFF, "tariffs: expected a list of Tariff objects")
    if not tariffs:
        raise RatingError(NO_TARIFF, "no tariffs were given")
    parsed = [_parse_tariff(raw, position, cache) for position, raw in enumerate(tariffs)]
    session = parse_session(cdr, volumes=volumes)
    periods = session.periods

    # 1. Tariff per period, and a single currency for everything billed.
    chosen = [_choose_tariff(parsed, period) for period in periods]
    used: list[Tariff] = []
    for tariff in chosen:
        if all(t.position != tariff.position for t in used):
            used.append(tariff)
    currencies = sorted({t.currency for t in used})
    if len(currencies) > 1:
        raise RatingError(CURRENCY_MISMATCH, f"the applicable tariffs mix currencies {currencies}")
    currency = currencies[0]
    if session.currency is not None and session.currency != currency:
        raise RatingError(
            CURRENCY_MISMATCH, f"the CDR is in {session.currency} but its tariffs are in {currency}"
        )

    if session.unattributed_energy_kwh > 0 and any(
        component.dimension == ENERGY and component.price != 0
        for tariff in used
        for element in tariff.elements
        for component in element.components
    ):
        raise RatingError(
            MALFORMED_CDR,
            "the CDR gives total_energy but no per-period ENERGY dimensions, "
            "so energy-priced tariff elements cannot be applied",
        )

    contexts = _contexts(session, zone)
    accumulators: dict[tuple[str, int, int], _Accumulator] = {}

    def account(
        label: str, period: Period, dimension: str, quantity: Decimal, per: Decimal, unit: str
    ) -> _Accumulator | None:
        tariff = chosen[period.index]
        found = find_component(tariff, dimension, contexts[period.index])
        if found is None:
            return None  # no element prices this dimension now: it is free
        element, component = found
        key = (label, tariff.position, element.index)
        acc = accumulators.get(key)
        if acc is None:
            acc = accumulators[key] = _Accumulator(label, tariff, element, component, per, unit)
        acc.add(period.index, quantity)
        return acc

    # 2. FLAT fees: once for the charging session, evaluated at its first period,
    #    and once for a reservation, evaluated at the first reservation period.
    first_charging = next((p for p in periods if not p.is_reservation), None)
    if first_charging is not None:
        account(FLAT, first_charging, FLAT, _ONE, _ONE, "flat")
    first_reservation = next((p for p in periods if p.is_reservation), None)
    if first_reservation is not None:
        account(RESERVATION_FLAT, first_reservation, FLAT, _ONE, _ONE, "flat")

    # 3. Volumes, period by period, each priced by its first matching element.
    last: dict[str, _Accumulator] = {}
    for period in periods:
        if period.is_reservation:
            items = [(RESERVATION_TIME, TIME, period.reservation_seconds, SECONDS_PER_HOUR, "h")]
        else:
            items = [
                (ENERGY, ENERGY, period.energy_kwh * WH_PER_KWH, WH_PER_KWH, "kWh"),
                (TIME, TIME, period.charging_seconds, SECONDS_PER_HOUR, "h"),
                (PARKING_TIME, PARKING_TIME, period.parking_seconds, SECONDS_PER_HOUR, "h"),
            ]
        for label, dimension, quantity, per, unit in items:
            if quantity > 0:
                acc = account(label, period, dimension, quantity, per, unit)
                if acc is not None:
                    last[label] = acc

    # 4. Step sizes: once for ENERGY; once for TIME and PARKING_TIME together,
    #    on parking when any parking was billed (charging followed by parking is
    #    billed exactly), else on charging time; once for reservation time.
    accs = list(accumulators.values())
    for label in (ENERGY, PARKING_TIME if PARKING_TIME in last else TIME, RESERVATION_TIME):
        if label in last:
            _round_up_steps(accs, last[label])

    priced = [(acc.tariff, acc.to_line()) for acc in accs]

    # 5. min_price / max_price per tariff, on the subtotal that tariff priced.
    lines: list[BilledLine] = [line for _, line in priced]
    for tariff in used:
        if tariff.min_price is None and tariff.max_price is None:
            continue  # nothing to clamp: its subtotal is not needed
        subtotal = _sum_prices([line for t, line in priced if t.position == tariff.position])
        for label, bound in ((MIN_PRICE, tariff.min_price), (MAX_PRICE, tariff.max_price)):
            if bound is not None:
                adjustment, subtotal = _adjustment(label, tariff, subtotal, bound)
                if adjustment is not None:
                    lines.append(adjustment)

    # The category totals: each the sum of its lines in order (one pass sorts them out).
    by_label: dict[str, list[BilledLine]] = {}
    for line in lines:
        by_label.setdefault(line.dimension, []).append(line)

    def category(*labels: str) -> Price:
        if len(labels) == 1:
            return _sum_prices(by_label.get(labels[0], ()))
        return _sum_prices([line for line in lines if line.dimension in labels])

    has_reservation = any(p.is_reservation for p in periods)
    charging = [p for p in periods if not p.is_reservation]
    charging_seconds = sum((p.charging_seconds for p in charging), Decimal(0))
    parking_seconds = sum((p.parking_seconds for p in charging), Decimal(0))
    reservation_seconds = sum((p.reservation_seconds for p in periods), Decimal(0))
    return RatingResult(
        currency=currency,
        total_cost=_sum_prices(lines),
        total_fixed_cost=category(FLAT),
        total_energy_cost=category(ENERGY),
        total_time_cost=category(TIME),
        total_parking_cost=category(PARKING_TIME),
        total_reservation_cost=category(RESERVATION_FLAT, RESERVATION_TIME) if has_reservation else None,
        total_energy=sum((p.energy_kwh for p in charging), session.unattributed_energy_kwh),
        total_time=_hours(charging_seconds + parking_seconds),
        total_parking_time=_hours(parking_seconds),
        total_charging_time=_hours(charging_seconds),
        total_reservation_time=_hours(reservation_seconds),
        lines=tuple(lines),
    )
