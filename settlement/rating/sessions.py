"""Normalise the CDR / session dict into chronologically ordered periods.

A period's billable quantities are kept in exact base units (kWh and seconds),
because step sizes are expressed in Wh and seconds and ``hours * 3600`` is exact
whereas ``seconds / 3600`` usually is not.  Everything unreadable or
self-contradictory raises ``RatingError`` (see ``parsing`` for the scalar rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from .model import MALFORMED_CDR, RatingError
from .parsing import (
    SECONDS_PER_HOUR,
    as_mapping,
    as_sequence,
    optional_decimal,
    parse_datetime,
    to_decimal,
)
from .values import fast_init

# Dimensions that are consumed quantities and so can never be negative here.
_BILLABLE_DIMENSIONS = frozenset({"ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME"})
# Measurement dimensions that may legitimately be negative (V2G) and only feed restrictions.
_MEASURED_DIMENSIONS = frozenset({"MIN_CURRENT", "MAX_CURRENT", "CURRENT", "MIN_POWER", "MAX_POWER", "POWER"})


@fast_init
@dataclass(frozen=True)
class Period:
    """A charging period with its billable quantities in exact base units.

    Energy is kept in kWh (as given) and times in seconds, because step sizes are
    in Wh and seconds and ``hours * 3600`` is exact whereas ``seconds / 3600``
    usually is not.
    """

    index: int
    start: datetime
    end: datetime
    tariff_id: str | None
    energy_kwh: Decimal
    charging_seconds: Decimal
    parking_seconds: Decimal
    reservation_seconds: Decimal
    is_reservation: bool
    measurements: Mapping[str, Decimal]


@fast_init
@dataclass(frozen=True)
class Session:
    """The parts of a CDR/session the engine rates."""

    start: datetime
    end: datetime
    currency: str | None
    periods: tuple[Period, ...]
    reservation_expired: bool
    unattributed_energy_kwh: Decimal = Decimal(0)


def _read_dimensions(raw: Any, field: str) -> dict[str, Decimal]:
    dims: dict[str, Decimal] = {}
    for i, item in enumerate(as_sequence(raw if raw is not None else [], field, MALFORMED_CDR)):
        entry = as_mapping(item, f"{field}[{i}]", MALFORMED_CDR)
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise RatingError(MALFORMED_CDR, f"{field}[{i}].type is required")
        if kind not in _BILLABLE_DIMENSIONS and kind not in _MEASURED_DIMENSIONS:
            continue  # SoC, ENERGY_IMPORT/EXPORT, future types: irrelevant to rating
        if kind in dims:
            raise RatingError(MALFORMED_CDR, f"{field}: dimension {kind} listed twice")
        if entry.get("volume") is None:
            raise RatingError(MALFORMED_CDR, f"{field}[{i}].volume is required")
        dims[kind] = to_decimal(
            entry["volume"], f"{field}[{i}].volume", allow_negative=kind in _MEASURED_DIMENSIONS
        )
    return dims


def _given_dimensions(pairs: Sequence[tuple[str, Decimal]]) -> dict[str, Decimal] | None:
    """The dimensions `_read_dimensions` makes of a period, from (type, volume) pairs read already;
    None when reading the period would raise (it is read then, for the error)."""
    dims: dict[str, Decimal] = {}
    for kind, volume in pairs:
        if kind in _BILLABLE_DIMENSIONS:
            if volume < 0 or kind in dims:
                return None
        elif kind in _MEASURED_DIMENSIONS:
            if kind in dims:
                return None
        else:
            continue
        dims[kind] = volume
    return dims


def _synthesise_periods(data: Mapping[str, Any], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Build periods from CDR totals when the input has no ``charging_periods``.

    Charging comes first and parking after it, which is how a session without
    detailed periods normally unfolds; restrictions are then evaluated at those
    two moments.
    """
    energy = optional_decimal(data, "total_energy", "cdr")
    total_time = optional_decimal(data, "total_time", "cdr")
    parking = optional_decimal(data, "total_parking_time", "cdr") or Decimal(0)
    if energy is None and total_time is None:
        raise RatingError(MALFORMED_CDR, "cdr has no charging_periods and no total_energy/total_time to rate")
    if total_time is None:
        total_time = Decimal((end - start) // timedelta(microseconds=1)) / Decimal(3_600_000_000)
    charging = max(total_time - parking, Decimal(0))
    first: list[dict[str, Any]] = [{"type": "TIME", "volume": charging}]
    if energy is not None:
        first.append({"type": "ENERGY", "volume": energy})
    periods: list[dict[str, Any]] = [{"start_date_time": start, "dimensions": first}]
    if parking > 0:
        micros = (charging * SECONDS_PER_HOUR * 1_000_000).to_integral_value(rounding=ROUND_FLOOR)
        parking_start = start + timedelta(microseconds=int(micros))
        periods.append(
            {"start_date_time": parking_start, "dimensions": [{"type": "PARKING_TIME", "volume": parking}]}
        )
    return periods


def parse_session(value: Any, *, volumes: Sequence[Sequence[tuple[str, Decimal]]] | None = None) -> Session:
    """Validate and normalise the CDR/session dict.

    Periods must be in chronological order inside [start, end]; each ends where
    the next starts and the last ends at the session end (OCPI ChargingPeriod).
    A period without a TIME dimension but with energy flowing gets its charging
    time from its own duration (minus any PARKING_TIME it reports).

    ``volumes``, when the caller has read the CDR's charging periods already (the
    SDR intake's shape check), gives each period's dimensions as (type, volume)
    pairs, every volume the Decimal ``to_decimal`` makes of the JSON value: they
    are taken instead of being read again. Anything the reading would refuse
    (a negative consumed volume, a type listed twice) is read from the CDR after
    all, so that it fails with the same error.
    """
    data = as_mapping(value, "cdr", MALFORMED_CDR)
    if data.get("start_date_time") is None or data.get("end_date_time") is None:
        raise RatingError(MALFORMED_CDR, "cdr.start_date_time and cdr.end_date_time are required")
    start = parse_datetime(data["start_date_time"], "cdr.start_date_time")
    end = parse_datetime(data["end_date_time"], "cdr.end_date_time")
    if end < start:
        raise RatingError(MALFORMED_CDR, "cdr.end_date_time is before cdr.start_date_time")
    currency = data.get("currency")
    if currency is not None and (not isinstance(currency, str) or not currency):
        raise RatingError(MALFORMED_CDR, f"cdr.currency: expected a currency code, got {currency!r}")

    raw_periods = data.get("charging_periods")
    if not raw_periods:
        raw_periods = _synthesise_periods(data, start, end)
    raw_periods = as_sequence(raw_periods, "cdr.charging_periods", MALFORMED_CDR)

    starts: list[datetime] = []
    parsed: list[tuple[Mapping[str, Any], dict[str, Decimal]]] = []
    given = volumes if volumes is not None and len(volumes) == len(raw_periods) else None
    for i, raw in enumerate(raw_periods):
        field = f"cdr.charging_periods[{i}]"
        period = as_mapping(raw, field, MALFORMED_CDR)
        if period.get("start_date_time") is None:
            raise RatingError(MALFORMED_CDR, f"{field}.start_date_time is required")
        moment = parse_datetime(period["start_date_time"], f"{field}.start_date_time")
        if moment < start or moment > end:
            raise RatingError(MALFORMED_CDR, f"{field} starts outside the session")
        if starts and moment < starts[-1]:
            raise RatingError(MALFORMED_CDR, f"{field} starts before the previous period")
        starts.append(moment)
        dims = _given_dimensions(given[i]) if given is not None else None
        if dims is None:
            dims = _read_dimensions(period.get("dimensions"), f"{field}.dimensions")
        parsed.append((period, dims))

    periods = []
    for i, (period, dims) in enumerate(parsed):
        period_end = starts[i + 1] if i + 1 < len(starts) else end
        duration = Decimal((period_end - starts[i]) // timedelta(microseconds=1)) / 1_000_000
        energy = dims.get("ENERGY", Decimal(0))
        parking = dims.get("PARKING_TIME", Decimal(0)) * SECONDS_PER_HOUR
        is_reservation = "RESERVATION_TIME" in dims
        if is_reservation and ({"ENERGY", "TIME", "PARKING_TIME"} & dims.keys()):
            raise RatingError(
                MALFORMED_CDR,
                f"cdr.charging_periods[{i}] mixes RESERVATION_TIME with charging dimensions",
            )
        if "TIME" in dims:
            charging = dims["TIME"] * SECONDS_PER_HOUR
        elif energy > 0:
            charging = max(duration - parking, Decimal(0))
        else:
            charging = Decimal(0)
        tariff_id = period.get("tariff_id")
        periods.append(
            Period(
                index=i,
                start=starts[i],
                end=period_end,
                tariff_id=tariff_id if isinstance(tariff_id, str) and tariff_id else None,
                energy_kwh=energy,
                charging_seconds=charging,
                parking_seconds=parking,
                reservation_seconds=dims.get("RESERVATION_TIME", Decimal(0)) * SECONDS_PER_HOUR,
                is_reservation=is_reservation,
                measurements={k: v for k, v in dims.items() if k in _MEASURED_DIMENSIONS},
            )
        )

    # A CDR may report total_energy without per-period ENERGY dimensions (the
    # spec's own CDR example does).  With a single charging period the energy
    # can only belong to it; with several it cannot be placed, and the engine
    # refuses to price energy rather than guess (see engine).
    unattributed = Decimal(0)
    total_energy = data.get("total_energy")
    if total_energy is not None and not any("ENERGY" in dims for _, dims in parsed):
        energy = to_decimal(total_energy, "cdr.total_energy")
        charging = [p for p in periods if not p.is_reservation]
        if len(charging) == 1 and energy > 0:
            only = charging[0]
            derived = only.charging_seconds
            if derived == 0 and "TIME" not in parsed[only.index][1]:
                derived = max(
                    Decimal((only.end - only.start) // timedelta(microseconds=1)) / 1_000_000
                    - only.parking_seconds,
                    Decimal(0),
                )
            periods[only.index] = replace(only, energy_kwh=energy, charging_seconds=derived)
        else:
            unattributed = energy

    explicit = data.get("reservation_expired")
    if explicit is not None and not isinstance(explicit, bool):
        raise RatingError(MALFORMED_CDR, "cdr.reservation_expired must be a boolean")
    has_reservation = any(p.is_reservation for p in periods)
    # A reservation expired when no charging session followed it (OCPI
    # ReservationRestrictionType); callers can state it explicitly.
    expired = has_reservation and (
        explicit if explicit is not None else all(p.is_reservation for p in periods)
    )
    return Session(
        start=start,
        end=end,
        currency=currency.upper() if isinstance(currency, str) else None,
        periods=tuple(periods),
        reservation_expired=expired,
        unattributed_energy_kwh=unattributed,
    )
