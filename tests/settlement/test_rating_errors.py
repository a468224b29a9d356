"""Input the engine must refuse (RatingError with a stable code) rather than guess about."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from settlement.rating import (
    CURRENCY_MISMATCH,
    INVALID_DATETIME,
    INVALID_NUMBER,
    INVALID_TIME_ZONE,
    MALFORMED_CDR,
    MALFORMED_TARIFF,
    NEGATIVE_VALUE,
    NO_TARIFF,
    RatingError,
    rate_cdr,
    rate_session,
)
from tests.settlement.test_rating_support import component, element, local, session, tariff

TZ = "Europe/Amsterdam"
START = local("2024-01-15 10:00", TZ)


def good_tariff() -> dict[str, Any]:
    return tariff(element(component("FLAT", "0.50", vat="21"), component("ENERGY", "0.25", vat="21")))


def good_cdr() -> dict[str, Any]:
    return session(START, (3600, {"ENERGY": "10"}), (600, {"PARKING_TIME": "0.1667"}))


def code_of(*, tariffs: Any = None, cdr: Any = None, time_zone: Any = TZ) -> str:
    with pytest.raises(RatingError) as info:
        rate_cdr(
            tariffs=[good_tariff()] if tariffs is None else tariffs,
            cdr=good_cdr() if cdr is None else cdr,
            time_zone=time_zone,
        )
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(info.value.code + ": ")
    return info.value.code


def with_tariff(path: tuple[Any, ...], value: Any, *, delete: bool = False) -> list[dict[str, Any]]:
    data = copy.deepcopy(good_tariff())
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return [data]


def with_cdr(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(good_cdr())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_the_good_fixtures_rate():
    assert rate_session(tariff=good_tariff(), cdr=good_cdr(), time_zone=TZ).total_cost.excl_vat > 0


def test_no_tariffs_given():
    assert code_of(tariffs=[]) == NO_TARIFF


def test_no_tariff_valid_at_the_period_start():
    expired = tariff(element(component("ENERGY", "0.25")), end_date_time="2024-01-01T00:00:00Z")
    future = tariff(element(component("ENERGY", "0.25")), start_date_time="2024-02-01T00:00:00Z")
    assert code_of(tariffs=[expired, future]) == NO_TARIFF


def test_currency_mismatch_between_applicable_tariffs():
    eur = tariff(element(component("ENERGY", "0.25")), tariff_id="A")
    chf = tariff(element(component("ENERGY", "0.25")), tariff_id="B", currency="CHF")
    cdr = session(START, (600, {"ENERGY": "1", "tariff_id": "A"}), (600, {"ENERGY": "1", "tariff_id": "B"}))
    assert code_of(tariffs=[eur, chf], cdr=cdr) == CURRENCY_MISMATCH


def test_currency_mismatch_between_cdr_and_tariff():
    assert code_of(cdr=with_cdr(("currency",), "USD")) == CURRENCY_MISMATCH


@pytest.mark.parametrize("price", ["abc", "NaN", "Infinity", True, None, [1], {"v": 1}, "1,5"])
def test_malformed_price(price):
    assert code_of(tariffs=with_tariff(("elements", 0, "price_components", 1, "price"), price)) in (
        INVALID_NUMBER,
        MALFORMED_TARIFF,
    )


@pytest.mark.parametrize("volume", ["ten", float("nan"), False])
def test_malformed_volume(volume):
    assert code_of(cdr=with_cdr(("charging_periods", 0, "dimensions", 0, "volume"), volume)) == INVALID_NUMBER


def test_fractional_step_size():
    assert (
        code_of(tariffs=with_tariff(("elements", 0, "price_components", 1, "step_size"), 1.5))
        == INVALID_NUMBER
    )


@pytest.mark.parametrize(
    "value",
    [
        "2024-13-01T00:00:00Z",
        "2024-01-15",
        "yesterday",
        "2024-01-15T25:00:00Z",
        "2024-01-15T10:00:00+24:00",
        1705312800,
    ],
)
def test_malformed_datetimes(value):
    assert code_of(cdr=with_cdr(("start_date_time",), value)) == INVALID_DATETIME


def test_malformed_tariff_validity_datetime():
    assert code_of(tariffs=with_tariff(("end_date_time",), "soon")) == INVALID_DATETIME


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", None, "../etc/passwd"])
def test_invalid_time_zone(name):
    assert code_of(time_zone=name) == INVALID_TIME_ZONE


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("elements", 0, "price_components", 0, "type"), "KWH"),
        (("elements", 0, "restrictions"), {"day_of_week": ["FUNDAY"]}),
        (("elements", 0, "restrictions"), {"start_time": "7:00"}),
        (("elements", 0, "restrictions"), {"end_date": "2024-02-30"}),
        (("elements", 0, "restrictions"), {"reservation": "MAYBE"}),
        (("elements",), []),
        (("elements", 0, "price_components"), []),
        (("min_price",), {"incl_vat": 1}),
        (("currency",), ""),
        (("id",), None),
    ],
)
def test_malformed_tariffs(path, value):
    assert code_of(tariffs=with_tariff(path, value)) == MALFORMED_TARIFF


def test_tariffs_must_be_a_list():
    assert code_of(tariffs=good_tariff()) == MALFORMED_TARIFF


def test_min_price_above_max_price():
    bad = good_tariff()
    bad["min_price"] = {"excl_vat": 10}
    bad["max_price"] = {"excl_vat": 5}
    assert code_of(tariffs=[bad]) == MALFORMED_TARIFF


def test_negative_price():
    assert (
        code_of(tariffs=with_tariff(("elements", 0, "price_components", 1, "price"), "-0.25"))
        == NEGATIVE_VALUE
    )


def test_negative_consumed_volume():
    assert code_of(cdr=with_cdr(("charging_periods", 0, "dimensions", 0, "volume"), -1)) == NEGATIVE_VALUE


def test_periods_out_of_order():
    cdr = good_cdr()
    cdr["charging_periods"].reverse()
    assert code_of(cdr=cdr) == MALFORMED_CDR


def test_period_outside_the_session():
    assert (
        code_of(cdr=with_cdr(("charging_periods", 0, "start_date_time"), "2024-01-14T10:00:00Z"))
        == MALFORMED_CDR
    )


def test_session_ending_before_it_starts():
    assert code_of(cdr=with_cdr(("end_date_time",), "2024-01-01T00:00:00Z")) == MALFORMED_CDR


def test_dimension_listed_twice_in_a_period():
    cdr = good_cdr()
    cdr["charging_periods"][0]["dimensions"].append({"type": "ENERGY", "volume": 1})
    assert code_of(cdr=cdr) == MALFORMED_CDR


def test_reservation_mixed_with_charging_in_one_period():
    cdr = good_cdr()
    cdr["charging_periods"][0]["dimensions"].append({"type": "RESERVATION_TIME", "volume": 1})
    assert code_of(cdr=cdr) == MALFORMED_CDR


def test_missing_session_times_and_periods():
    assert code_of(cdr={"charging_periods": []}) == MALFORMED_CDR
    bare = {"start_date_time": "2024-01-15T10:00:00Z", "end_date_time": "2024-01-15T11:00:00Z"}
    assert code_of(cdr=bare) == MALFORMED_CDR


def test_total_energy_that_cannot_be_placed_in_periods_with_an_energy_price():
    cdr = session(START, (600, {"TIME": "0.1667"}), (600, {"TIME": "0.1667"}), total_energy=12)
    assert code_of(cdr=cdr) == MALFORMED_CDR
    # the same CDR is fine for a tariff that does not price energy
    time_only = tariff(element(component("TIME", "1.00")))
    assert rate_session(tariff=time_only, cdr=cdr, time_zone=TZ).total_energy == 12


def volumes_of(cdr: dict[str, Any]) -> list[list[tuple[str, Decimal]]]:
    """Each period's dimensions as the SDR shape check reads them (every listed type, in order)."""
    return [
        [(d["type"], Decimal(str(d["volume"]))) for d in p["dimensions"]] for p in cdr["charging_periods"]
    ]


def test_volumes_read_already_rate_as_the_cdr_does():
    cdr = session(
        START,
        (1800, {"ENERGY": "4.5", "MAX_POWER": "-3", "STATE_OF_CHARGE": "80"}),
        (1800, {"ENERGY": "5.5", "TIME": "0.5"}),
        (600, {"PARKING_TIME": "0.1667"}),
    )
    tariffs = [good_tariff()]
    assert rate_cdr(tariffs=tariffs, cdr=cdr, time_zone=TZ, volumes=volumes_of(cdr)) == rate_cdr(
        tariffs=tariffs, cdr=cdr, time_zone=TZ
    )


@pytest.mark.parametrize(
    "dimensions",
    [
        [{"type": "ENERGY", "volume": "-1"}],  # a consumed volume below zero
        [{"type": "ENERGY", "volume": "1"}, {"type": "ENERGY", "volume": "2"}],  # a type twice
        [{"type": "MAX_POWER", "volume": "1"}, {"type": "MAX_POWER", "volume": "2"}],
    ],
)
def test_volumes_read_already_fail_as_the_cdr_does(dimensions: list[dict[str, Any]]):
    cdr = good_cdr()
    cdr["charging_periods"][0]["dimensions"] = dimensions
    with pytest.raises(RatingError) as plain:
        rate_cdr(tariffs=[good_tariff()], cdr=cdr, time_zone=TZ)
    with pytest.raises(RatingError) as given:
        rate_cdr(tariffs=[good_tariff()], cdr=cdr, time_zone=TZ, volumes=volumes_of(cdr))
    assert (given.value.code, str(given.value)) == (plain.value.code, str(plain.value))


def test_volumes_that_do_not_match_the_periods_are_not_used():
    cdr = good_cdr()
    wrong = volumes_of(cdr)[:1]  # one period's worth for a CDR of two
    assert rate_cdr(tariffs=[good_tariff()], cdr=cdr, time_zone=TZ, volumes=wrong) == rate_cdr(
        tariffs=[good_tariff()], cdr=cdr, time_zone=TZ
    )
