"""What a parsed tariff works out once for the engine: per dimension, the elements that price it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from settlement.rating import rate_session
from settlement.rating.parsing import Restrictions, parse_tariff
from tests.settlement.test_rating_support import component, element, session, tariff


def test_unrestricted_only_without_any_restriction():
    assert Restrictions().unrestricted
    assert not Restrictions(min_kwh=D(0)).unrestricted
    assert not Restrictions(days=frozenset()).unrestricted
    assert not Restrictions(reservation="RESERVATION").unrestricted


def test_candidates_keep_tariff_order_and_each_elements_first_component():
    parsed = parse_tariff(
        tariff(
            element(component("ENERGY", "0.40"), min_kwh=10),
            element(component("TIME", "2.00"), component("ENERGY", "0.30"), component("ENERGY", "9.99")),
            element(component("FLAT", "1.00")),
        ),
        0,
    )
    energy = parsed.candidates["ENERGY"]
    assert [(e.index, c.price, unrestricted) for e, c, unrestricted in energy] == [
        (0, D("0.40"), False),
        (1, D("0.30"), True),
    ]
    assert [e.index for e, _, _ in parsed.candidates["TIME"]] == [1]
    assert [e.index for e, _, _ in parsed.candidates["FLAT"]] == [2]
    assert "PARKING_TIME" not in parsed.candidates


def test_unrestricted_element_prices_charging_but_not_reservation_periods():
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    doc = tariff(
        element(component("TIME", "3.00"), reservation="RESERVATION"),
        element(component("TIME", "1.00"), component("ENERGY", "0.25")),
    )
    cdr = session(start, (1800, {"RESERVATION_TIME": "0.5"}), (3600, {"ENERGY": "10", "TIME": "1"}))
    result = rate_session(tariff=doc, cdr=cdr, time_zone="Europe/Berlin")
    assert result.total_reservation_cost is not None
    assert result.total_reservation_cost.excl_vat == D("1.5000")  # the reservation element only
    assert result.total_time_cost.excl_vat == D("1.0000")
    assert result.total_energy_cost.excl_vat == D("2.5000")
