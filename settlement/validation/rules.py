"""The rules an SDR must satisfy beyond its shape, and the hub's own rating of it.

`check_sdr` takes a parsed SDR and the batch's `Context` and returns a `Verdict`: the findings, the
CSP that pays, and the hub's cost. Pure computation: no database, no settings, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from settlement.rating import CURRENCY_MISMATCH as RATING_CURRENCY_MISMATCH
from settlement.rating import RatingError, RatingResult, rate_cdr

from . import findings as F
from .context import AgreementInfo, ConnectorInfo, Context, EvseInfo, StoredSdr
from .findings import Finding
from .reader import Money
from .schema import ParsedSdr

MONEY = Decimal("0.0001")
SECONDS_PER_HOUR = Decimal(3600)
# Period energies are summed and compared with total_energy; below this they agree (a CSO that
# rounds each period to three decimals is not wrong).
PERIOD_ENERGY_SLACK_KWH = Decimal("0.01")

TARIFF_FROM_AGREEMENT = "AGREEMENT"
TARIFF_PUBLISHED = "PUBLISHED"
TARIFF_FROM_SDR = "SDR"


@dataclass
class Verdict:
    """The outcome of checking one SDR: findings, the CSP that pays, the hub's rating."""

    sdr: ParsedSdr
    findings: list[Finding] = field(default_factory=list)
    csp_id: int | None = None
    original: StoredSdr | None = None
    rating: RatingResult | None = None
    tariff_source: str = ""
    hub_cost: Money | None = None
    cost_difference: Decimal | None = None

    @property
    def rejected(self) -> bool:
        return F.has_errors(self.findings)

    def add(self, code: str, message: str, path: str = "") -> None:
        self.findings.append(Finding(code, message, path))


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY)


def _seconds(sdr: ParsedSdr) -> Decimal:
    delta = sdr.end - sdr.start
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)


def check_consistency(v: Verdict, ctx: Context) -> None:
    """Rules the record must satisfy on its own: who sent it, times, volumes, signs, credit flags."""
    sdr, tol = v.sdr, ctx.tolerances
    if (sdr.country_code, sdr.party_id) != (ctx.cso_country_code, ctx.cso_party_id):
        v.add(F.PARTY_MISMATCH, "country_code and party_id must be the sending CSO's own", "party_id")
    if sdr.end < sdr.start:
        v.add(F.END_BEFORE_START, "end_date_time is before start_date_time", "end_date_time")
    else:
        seconds = _seconds(sdr)
        reported = sdr.total_time * SECONDS_PER_HOUR
        if abs(reported - seconds) > tol.total_time_seconds:
            v.add(
                F.TOTAL_TIME_MISMATCH,
                f"total_time is {sdr.total_time} h but the session lasted {seconds / SECONDS_PER_HOUR:.4f} h "
                f"(tolerance {tol.total_time_seconds} s)",
                "total_time",
            )
    if sdr.total_parking_time is not None:
        if sdr.total_parking_time < 0:
            v.add(F.NEGATIVE_VOLUME, "total_parking_time is negative", "total_parking_time")
        elif (sdr.total_parking_time - sdr.total_time) * SECONDS_PER_HOUR > tol.total_time_seconds:
            v.add(F.PARKING_TIME_EXCEEDS_TOTAL, "total_parking_time exceeds total_time", "total_parking_time")
    if sdr.total_time < 0:
        v.add(F.NEGATIVE_VOLUME, "total_time is negative", "total_time")
    if sdr.total_energy < 0:
        v.add(F.NEGATIVE_ENERGY, "total_energy is negative", "total_energy")
    _check_periods(v)
    if not sdr.credit:
        negative = [
            name for name, price in (("total_cost", sdr.total_cost), *sdr.costs.items()) if _negative(price)
        ]
        if negative:
            v.add(F.NEGATIVE_COST, f"{', '.join(negative)} may only be negative in a credit", negative[0])
        if sdr.credit_reference_id:
            v.add(F.CREDIT_FLAG_MISSING, "credit_reference_id is set but credit is not true", "credit")
    elif not sdr.credit_reference_id:
        v.add(F.CREDIT_REFERENCE_MISSING, "a credit must name the SDR it credits", "credit_reference_id")


def _negative(price: Money) -> bool:
    return price.excl_vat < 0 or (price.incl_vat is not None and price.incl_vat < 0)


def _check_periods(v: Verdict) -> None:
    sdr = v.sdr
    previous = None
    energy = Decimal(0)
    energy_seen = False
    for period in sdr.periods:
        path = f"charging_periods[{period.index}]"
        if period.start < sdr.start or period.start > sdr.end:
            v.add(F.PERIOD_OUTSIDE_SESSION, f"{path} starts outside the session", path)
        if previous is not None and period.start < previous:
            v.add(F.PERIODS_NOT_ORDERED, f"{path} starts before the period before it", path)
        previous = period.start
        for kind, volume in period.dimensions:
            if kind in ("ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME") and volume < 0:
                v.add(F.NEGATIVE_VOLUME, f"{path} has a negative {kind} volume", path)
            if kind == "ENERGY":
                energy += volume
                energy_seen = True
    if energy_seen and abs(energy - sdr.total_energy) > PERIOD_ENERGY_SLACK_KWH:
        v.add(
            F.PERIOD_ENERGY_MISMATCH,
            f"the periods' energy adds up to {energy} kWh, total_energy says {sdr.total_energy} kWh",
            "total_energy",
        )


def check_credit(v: Verdict, ctx: Context) -> None:
    """A credit must exactly negate a stored SDR of the same CSO that was not credited before."""
    sdr = v.sdr
    original = ctx.stored.get(sdr.credit_reference_id)
    if original is None or original.credit:
        v.add(
            F.CREDIT_ORIGINAL_UNKNOWN,
            "credit_reference_id names no stored SDR of this CSO",
            "credit_reference_id",
        )
        return
    v.original = original
    v.csp_id = original.csp_id
    if original.credited:
        v.add(F.CREDIT_ALREADY_CREDITED, "the original SDR was already credited", "credit_reference_id")
    differing = [
        name
        for name, mine, theirs in (
            ("cdr_token.contract_id", sdr.contract_id, original.contract_id),
            ("cdr_location.evse_id", sdr.evse_id, original.evse_id),
            ("currency", sdr.currency, original.currency),
        )
        if mine != theirs
    ]
    if differing:
        v.add(
            F.CREDIT_ORIGINAL_MISMATCH,
            f"{', '.join(differing)} differ(s) from the original SDR",
            differing[0],
        )
    expected_incl = None if original.total_cost_incl_vat is None else -_money(original.total_cost_incl_vat)
    given_incl = None if sdr.total_cost.incl_vat is None else _money(sdr.total_cost.incl_vat)
    if (
        original.total_cost_excl_vat is None
        or _money(sdr.total_cost.excl_vat) != -_money(original.total_cost_excl_vat)
        or given_incl != expected_incl
    ):
        v.add(
            F.CREDIT_TOTALS_NOT_NEGATED,
            "total_cost must be the original's total_cost negated (excl_vat and incl_vat)",
            "total_cost",
        )
    if original.hub_cost_excl_vat is not None:
        v.hub_cost = Money(
            -original.hub_cost_excl_vat,
            None if original.hub_cost_incl_vat is None else -original.hub_cost_incl_vat,
        )


def check_references(
    v: Verdict, ctx: Context
) -> tuple[EvseInfo | None, ConnectorInfo | None, AgreementInfo | None]:
    """The EVSE is the CSO's, the contract has a CSP with an agreement in force at the session start,
    the session (when the hub knows it) was at that EVSE for that contract, the authorization (when
    quoted) was given to this CSO for this CSP and contract."""
    sdr = v.sdr
    evse = ctx.evses.get(sdr.evse_id)
    connector = None
    if evse is None:
        v.add(F.EVSE_NOT_OWNED, "the EVSE is not one this CSO published", "cdr_location.evse_id")
    else:
        connector = evse.connectors.get(sdr.connector_id)
        if connector is None:
            v.add(F.CONNECTOR_UNKNOWN, "the EVSE has no connector with this id", "cdr_location.connector_id")
        elif connector.max_power_kw is not None and sdr.end >= sdr.start:
            limit = connector.max_power_kw * _seconds(sdr) / SECONDS_PER_HOUR
            if sdr.total_energy > limit * (1 + ctx.tolerances.energy_capacity):
                v.add(
                    F.ENERGY_EXCEEDS_CAPACITY,
                    f"{sdr.total_energy} kWh is more than the connector's {connector.max_power_kw} kW "
                    f"can deliver in the session's duration ({limit:.3f} kWh)",
                    "total_energy",
                )
    csp_id = ctx.owners.get(sdr.contract_id)
    agreement = None
    if csp_id is None:
        v.add(F.CONTRACT_UNKNOWN, "no CSP connected to the hub owns this contract", "cdr_token.contract_id")
    else:
        v.csp_id = csp_id
        agreement = next((a for a in ctx.agreements.get(csp_id, ()) if a.covers(sdr.start)), None)
        if agreement is None:
            v.add(
                F.NO_AGREEMENT,
                "no roaming agreement between the CSO and the contract's CSP was in force "
                "at the session start",
                "start_date_time",
            )
    session = ctx.sessions.get(sdr.session_id) if sdr.session_id else None
    if session is not None and (session.contract_id, session.evse_id) != (sdr.contract_id, sdr.evse_id):
        v.add(
            F.SESSION_MISMATCH,
            "the session this SDR names was at another EVSE or for another contract",
            "session_id",
        )
    if sdr.authorization_reference:
        auth = ctx.authorizations.get(sdr.authorization_reference)
        path = "authorization_reference"
        if auth is None:
            v.add(F.AUTHORIZATION_UNKNOWN, "the hub gave this CSO no authorization with this reference", path)
        elif (auth.csp_id is not None and auth.csp_id != csp_id) or (
            auth.contract_id and auth.contract_id != sdr.contract_id
        ):
            v.add(F.AUTHORIZATION_MISMATCH, "the authorization was given for another CSP or contract", path)
        elif auth.status != "ACCEPTED":
            v.add(
                F.AUTHORIZATION_NOT_ACCEPTED,
                f"the quoted authorization was {auth.status}, not ACCEPTED",
                path,
            )
    return evse, connector, agreement


def select_tariffs(
    v: Verdict, connector: ConnectorInfo, agreement: AgreementInfo | None, ctx: Context
) -> tuple[str, list[Mapping[str, Any]]]:
    """The tariffs the hub rates with: the agreement's pinned tariff; else the connector's tariffs
    (those meant for this CSP first) and those the periods name, as published; else the SDR's own."""
    csp_id = v.csp_id
    assert csp_id is not None
    if agreement is not None and agreement.pinned_tariff_id:
        pinned = ctx.tariffs.get(agreement.pinned_tariff_id)
        if pinned is not None and pinned.applies_to(csp_id):
            return TARIFF_FROM_AGREEMENT, [pinned.document]
    ids = [*connector.tariff_ids, *(p.tariff_id for p in v.sdr.periods if p.tariff_id)]
    found = []
    seen: set[str] = set()
    for tariff_id in ids:
        tariff = ctx.tariffs.get(tariff_id)
        if tariff_id in seen or tariff is None or not tariff.applies_to(csp_id):
            continue
        seen.add(tariff_id)
        found.append(tariff)
    if found:
        # Python's sort is stable: tariffs meant for this CSP first, each group in the given order.
        found.sort(key=lambda t: not t.target_csp_ids)
        return TARIFF_PUBLISHED, [t.document for t in found]
    if v.sdr.tariffs:
        return TARIFF_FROM_SDR, list(v.sdr.tariffs)
    return "", []


def rate(v: Verdict, evse: EvseInfo, tariffs: Sequence[Mapping[str, Any]], ctx: Context) -> None:
    """Rate the SDR and compare with the CSO's total (COST_MISMATCH beyond the tolerance)."""
    sdr = v.sdr
    if not tariffs:
        v.add(F.NOT_RATED, "no tariff known to the hub applies to this SDR", "tariffs")
        return
    try:
        result = rate_cdr(
            tariffs=tariffs,
            cdr=sdr.raw,
            time_zone=evse.time_zone,
            parsed=ctx.parsed_tariffs,
            # The shape check read every period's volumes as the engine would: not again.
            volumes=[p.dimensions for p in sdr.periods],
        )
    except RatingError as exc:
        if exc.code == RATING_CURRENCY_MISMATCH:
            v.add(
                F.CURRENCY_MISMATCH,
                "currency differs from the currency of the tariff that applies",
                "currency",
            )
        else:
            v.add(F.NOT_RATED, f"the hub could not rate this SDR: {exc.message}", "charging_periods")
        return
    v.rating = result
    v.hub_cost = Money(result.total_cost.excl_vat, result.total_cost.incl_vat)
    tolerance = ctx.tolerances.cost
    difference = _money(sdr.total_cost.excl_vat) - result.total_cost.excl_vat
    v.cost_difference = difference
    incl_difference = (
        None
        if sdr.total_cost.incl_vat is None or result.total_cost.incl_vat is None
        else _money(sdr.total_cost.incl_vat) - result.total_cost.incl_vat
    )
    if abs(difference) > tolerance or (incl_difference is not None and abs(incl_difference) > tolerance):
        shown = f"{result.total_cost.excl_vat} excl. VAT"
        if result.total_cost.incl_vat is not None:
            shown += f", {result.total_cost.incl_vat} incl. VAT"
        v.add(
            F.COST_MISMATCH,
            f"the hub's cost from the tariff ({shown}) differs from total_cost by more than {tolerance}",
            "total_cost",
        )


def check_sdr(sdr: ParsedSdr, ctx: Context) -> Verdict:
    """All rules for one SDR whose shape is right; the hub rates it only if nothing rejects it."""
    v = Verdict(sdr=sdr)
    check_consistency(v, ctx)
    if sdr.credit:
        if sdr.credit_reference_id:
            check_credit(v, ctx)
        return v
    evse, connector, agreement = check_references(v, ctx)
    if v.rejected or evse is None or connector is None:
        return v
    source, tariffs = select_tariffs(v, connector, agreement, ctx)
    v.tariff_source = source
    rate(v, evse, tariffs, ctx)
    return v
