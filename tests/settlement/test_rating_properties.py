"""Properties of the engine over generated tariffs and sessions (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from settlement.rating import MAX_PRICE, MIN_PRICE, Price, RatingResult, rate_session
from tests.settlement.test_rating_support import component, element, session, tariff

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]

money = st.decimals(min_value=0, max_value=5, places=4).map(str)
vats = st.one_of(st.none(), st.decimals(min_value=0, max_value=30, places=1).map(str))
steps = st.sampled_from([0, 1, 5, 60, 100, 300, 500, 900, 1000])
kwh = st.decimals(min_value=0, max_value=80, places=3)
starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
clock = st.sampled_from(["00:00", "06:30", "07:00", "12:00", "17:00", "20:00", "23:00"])


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    if draw(st.booleans()):
        chosen["start_time"] = draw(clock)
    if draw(st.booleans()):
        chosen["end_time"] = draw(clock)
    if draw(st.booleans()):
        days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
        chosen["day_of_week"] = draw(st.lists(st.sampled_from(days), min_size=1, max_size=7, unique=True))
    for key, top in (("min_kwh", 60), ("max_kwh", 60), ("max_power", 50), ("min_duration", 7200)):
        if draw(st.booleans()):
            chosen[key] = draw(st.integers(0, top))
    return chosen


@st.composite
def tariffs(draw: st.DrawFn, kinds: tuple[str, ...] = ("FLAT", "ENERGY", "TIME", "PARKING_TIME")) -> dict:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        types = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=len(kinds), unique=True))
        comps = [component(k, draw(money), draw(steps), draw(vats)) for k in types]
        elements.append(element(*comps, **draw(restrictions())))
    return tariff(*elements)


@st.composite
def sessions(draw: st.DrawFn) -> dict[str, Any]:
    """Charging periods (energy, sometimes explicit TIME) and parking periods of whole 36 s units."""
    segments = []
    for _ in range(draw(st.integers(1, 6))):
        seconds = 36 * draw(st.integers(1, 300))
        hours = D(seconds) / 3600
        if draw(st.booleans()):
            volumes: dict[str, Any] = {"ENERGY": str(draw(kwh)), "MAX_POWER": draw(st.integers(0, 60))}
            if draw(st.booleans()):
                volumes["TIME"] = str(hours)
        else:
            volumes = {"PARKING_TIME": str(hours)}
        segments.append((seconds, volumes))
    return session(draw(starts), *segments)


def sum_of_lines(result: RatingResult) -> Price:
    excl = sum((x.excl_vat for x in result.lines), D("0.0000"))
    if any(x.incl_vat is None for x in result.lines):
        return Price(excl, None)
    return Price(excl, sum((x.incl_vat for x in result.lines if x.incl_vat is not None), D("0.0000")))


@SETTINGS
@given(t=tariffs(), cdr=sessions(), zone=st.sampled_from(ZONES))
def test_total_is_the_sum_of_the_lines_and_never_negative(t, cdr, zone):
    result = rate_session(tariff=t, cdr=cdr, time_zone=zone)
    assert result.total_cost == sum_of_lines(result)
    assert result.total_cost.excl_vat >= 0
    assert result.total_cost.incl_vat is None or result.total_cost.incl_vat >= 0
    for line in result.lines:
        assert line.excl_vat >= 0 and (line.incl_vat is None or line.incl_vat >= 0)
        assert line.billed_volume >= line.volume
        assert line.excl_vat == line.excl_vat.quantize(D("0.0001"))


@SETTINGS
@given(t=tariffs(), cdr=sessions(), zone=st.sampled_from(ZONES), data=st.data())
def test_min_and_max_price_bound_the_total(t, cdr, zone, data):
    low = data.draw(st.decimals(min_value=0, max_value=20, places=2))
    high = data.draw(st.decimals(min_value=low, max_value=40, places=2))
    low_incl = data.draw(st.decimals(min_value=0, max_value=25, places=2))
    high_incl = data.draw(st.decimals(min_value=low_incl, max_value=50, places=2))
    t["min_price"] = {"excl_vat": str(low), "incl_vat": str(low_incl)}
    t["max_price"] = {"excl_vat": str(high), "incl_vat": str(high_incl)}
    result = rate_session(tariff=t, cdr=cdr, time_zone=zone)
    assert low <= result.total_cost.excl_vat <= high
    if result.total_cost.incl_vat is not None:
        assert low_incl <= result.total_cost.incl_vat <= high_incl
    assert result.total_cost == sum_of_lines(result)
    assert all(x.excl_vat >= 0 for x in result.lines if x.dimension != MAX_PRICE)
    assert all(x.excl_vat >= 0 for x in result.lines if x.dimension == MIN_PRICE)


@st.composite
def energy_sessions(draw: st.DrawFn) -> dict[str, Any]:
    periods = draw(st.lists(kwh.map(str), min_size=1, max_size=6))
    return session(draw(starts), *[(900, {"ENERGY": e}) for e in periods])


def _add_energy(cdr: dict[str, Any], index: int, extra: D) -> dict[str, Any]:
    periods = [dict(p, dimensions=[dict(d) for d in p["dimensions"]]) for p in cdr["charging_periods"]]
    dimension = periods[index]["dimensions"][0]
    dimension["volume"] = str(D(dimension["volume"]) + extra)
    return dict(cdr, charging_periods=periods)


def _not_cheaper(before: Price, after: Price) -> None:
    assert after.excl_vat >= before.excl_vat
    if before.incl_vat is not None and after.incl_vat is not None:
        assert after.incl_vat >= before.incl_vat


@SETTINGS
@given(
    price=money,
    vat=vats,
    step=steps,
    flat=st.one_of(st.none(), money),
    cdr=energy_sessions(),
    extra=st.decimals(min_value=D("0.001"), max_value=20, places=3),
    data=st.data(),
)
def test_more_energy_never_costs_less_under_a_single_energy_price(price, vat, step, flat, cdr, extra, data):
    comps = [component("ENERGY", price, step, vat)] + ([component("FLAT", flat)] if flat else [])
    t = tariff(element(*comps))
    index = data.draw(st.integers(0, len(cdr["charging_periods"]) - 1))
    before = rate_session(tariff=t, cdr=cdr, time_zone="UTC").total_cost
    after = rate_session(tariff=t, cdr=_add_energy(cdr, index, extra), time_zone="UTC").total_cost
    _not_cheaper(before, after)


@SETTINGS
@given(
    t=tariffs(kinds=("ENERGY",)),
    fallback=money,
    step=steps,
    cdr=energy_sessions(),
    extra=st.decimals(min_value=D("0.001"), max_value=20, places=3),
    zone=st.sampled_from(ZONES),
)
def test_more_energy_at_the_end_never_costs_less_under_any_energy_tariff(t, fallback, step, cdr, extra, zone):
    # With several energy prices, adding energy *earlier* can lower the bill: the session's single
    # step-size round-up is billed at the last component's price, and more earlier energy shrinks
    # that round-up (see docs/rating.md).  Adding energy to the last period cannot.
    t["elements"].append(element(component("ENERGY", fallback, step)))
    last = len(cdr["charging_periods"]) - 1
    assume(D(cdr["charging_periods"][last]["dimensions"][0]["volume"]) > 0)
    before = rate_session(tariff=t, cdr=cdr, time_zone=zone).total_cost
    after = rate_session(tariff=t, cdr=_add_energy(cdr, last, extra), time_zone=zone).total_cost
    _not_cheaper(before, after)


@SETTINGS
@given(t=tariffs(), cdr=sessions())
def test_without_time_restrictions_the_time_zone_does_not_matter(t, cdr):
    for el in t["elements"]:
        for key in ("start_time", "end_time", "day_of_week"):
            el.get("restrictions", {}).pop(key, None)
    results = {rate_session(tariff=t, cdr=cdr, time_zone=z) for z in ZONES}
    assert len(results) == 1


@SETTINGS
@given(t=tariffs(), cdr=sessions(), zone=st.sampled_from(ZONES))
def test_rating_is_deterministic_and_categories_add_up(t, cdr, zone):
    first = rate_session(tariff=t, cdr=cdr, time_zone=zone)
    assert first == rate_session(tariff=t, cdr=cdr, time_zone=zone)
    parts = [first.total_fixed_cost, first.total_energy_cost, first.total_time_cost, first.total_parking_cost]
    assert sum(p.excl_vat for p in parts) == first.total_cost.excl_vat  # no bounds in these tariffs
