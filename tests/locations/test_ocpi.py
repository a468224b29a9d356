"""The framework-free OCPI checks: shapes, leniencies, coherence rules, derived values."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from locations.ocpi.datetimes import format_datetime, parse_datetime
from locations.ocpi.locations import (
    DocumentError,
    connector_power_w,
    evse_ids_check,
    location_clean,
    patch_clean,
    patch_merge,
)
from locations.ocpi.tariffs import tariff_clean
from tests.locations.conftest import example, make_location

NOW = "2024-05-01T10:00:00Z"


def paths(exc: DocumentError) -> list[str]:
    return [p["path"] for p in exc.problems]


# --------------------------------------------------------------------------- date-times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T22:39:09+02:00", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09.123456789Z", datetime(2015, 6, 29, 20, 39, 9, 123456, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["2015-06-29", "2015-06-29 20:39:09", "yesterday", "2015-13-01T00:00:00Z", 5, None]
)
def test_parse_datetime_refuses(text):
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_format_datetime():
    assert format_datetime(datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)) == "2015-06-29T20:39:09Z"
    assert format_datetime(datetime(2015, 6, 29, 20, 39, 9, 500000, tzinfo=UTC)) == "2015-06-29T20:39:09.5Z"


# --------------------------------------------------------------------------- locations


def test_location_example_is_clean_and_unchanged():
    sent = example("location_example.json")
    assert location_clean(copy.deepcopy(sent)) == sent


def test_unknown_fields_are_dropped():
    sent = {**make_location("A"), "x_vendor": 1}
    assert "x_vendor" not in location_clean(sent)


def test_missing_last_updated_takes_the_default_and_children_inherit():
    sent = make_location("A")
    del sent["last_updated"]
    del sent["evses"][0]["last_updated"]
    del sent["evses"][0]["connectors"][0]["last_updated"]
    doc = location_clean(sent, default_last_updated=NOW)
    assert doc["last_updated"] == NOW
    assert doc["evses"][0]["last_updated"] == NOW
    assert doc["evses"][0]["connectors"][0]["last_updated"] == NOW


def test_missing_last_updated_without_default_is_refused():
    sent = make_location("A")
    del sent["last_updated"]
    with pytest.raises(DocumentError) as caught:
        location_clean(sent)
    assert paths(caught.value) == ["last_updated"]


def test_problems_carry_paths():
    sent = make_location("A", evses=2)
    sent["evses"][1]["connectors"][0]["standard"] = "SCHUKO"
    sent["evses"][0]["status"] = "FREE"
    sent["coordinates"]["latitude"] = "91.000000"
    del sent["city"]
    sent["country"] = "DE"
    sent["time_zone"] = "Mars/Olympus"
    with pytest.raises(DocumentError) as caught:
        location_clean(sent)
    assert sorted(paths(caught.value)) == [
        "city",
        "coordinates.latitude",
        "country",
        "evses[0].status",
        "evses[1].connectors[0].standard",
        "time_zone",
    ]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(publish="yes"), "publish"),
        (lambda d: d.update(address="x" * 46), "address"),
        (lambda d: d["evses"][0].update(connectors=[]), "evses[0].connectors"),
        (lambda d: d["evses"].append(copy.deepcopy(d["evses"][0])), "evses[1].uid"),
        (
            lambda d: d["evses"][0]["connectors"].append(dict(d["evses"][0]["connectors"][0])),
            "evses[0].connectors[1].id",
        ),
        (
            lambda d: d.update(publish_allowed_to=[{"visual_number": "1", "issuer": "X"}]),
            "publish_allowed_to",
        ),
        (lambda d: d.update(publish=False, publish_allowed_to=[{"uid": "1"}]), "publish_allowed_to[0].type"),
        (lambda d: d.update(publish=False, publish_allowed_to=[{"issuer": "X"}]), "publish_allowed_to[0]"),
        (
            lambda d: d.update(
                opening_times={
                    "twentyfourseven": False,
                    "regular_hours": [{"weekday": 8, "period_begin": "08:00", "period_end": "18:00"}],
                }
            ),
            "opening_times.regular_hours[0].weekday",
        ),
        (
            lambda d: d.update(
                opening_times={
                    "twentyfourseven": True,
                    "exceptional_closings": [
                        {"period_begin": "2020-01-02T00:00:00Z", "period_end": "2020-01-01T00:00:00Z"}
                    ],
                }
            ),
            "opening_times.exceptional_closings[0].period_end",
        ),
        (
            lambda d: d.update(
                energy_mix={
                    "is_green_energy": True,
                    "energy_sources": [{"source": "WIND", "percentage": 101}],
                }
            ),
            "energy_mix.energy_sources[0].percentage",
        ),
        (
            lambda d: d.update(images=[{"url": "ftp://x/y.png", "category": "CHARGER", "type": "png"}]),
            "images[0].url",
        ),
        (
            lambda d: d["evses"][0]["connectors"][0].update(max_voltage=-1),
            "evses[0].connectors[0].max_voltage",
        ),
        (
            lambda d: d["evses"][0]["connectors"][0].update(max_amperage=True),
            "evses[0].connectors[0].max_amperage",
        ),
        (lambda d: d.update(evses="none"), "evses"),
        (lambda d: d.update(country_code="XX"), "country_code"),
        (lambda d: d.update(id="é"), "id"),
    ],
)
def test_location_rules(change, path):
    sent = make_location("A")
    change(sent)
    with pytest.raises(DocumentError) as caught:
        location_clean(sent)
    assert path in paths(caught.value)


def test_not_an_object():
    with pytest.raises(DocumentError) as caught:
        location_clean(["x"])
    assert paths(caught.value) == ["$"]


def test_lenient_reading_of_the_add_evse_example():
    from locations.ocpi.locations import evse_clean

    doc = evse_clean(example("location_put_example_add_evse.json"), default_last_updated=NOW)
    assert doc["floor_level"] == "-1" and "floor" not in doc
    assert doc["physical_reference"] == "3"
    assert doc["connectors"][0]["last_updated"] == "2019-06-24T12:39:09Z"


def test_floor_level_wins_over_floor():
    sent = make_location("A")
    sent["evses"][0].update(floor_level="2", floor=5)
    assert location_clean(sent)["evses"][0]["floor_level"] == "2"


def test_coordinates_as_numbers_are_read_as_strings():
    sent = make_location("A")
    sent["coordinates"] = {"latitude": 52.5, "longitude": 13.4}
    assert location_clean(sent)["coordinates"] == {"latitude": "52.5", "longitude": "13.4"}


def test_evse_ids_check():
    doc = location_clean(make_location("A", evses=2, operator="DE*ACH"))
    ids, problems = evse_ids_check(doc, "DE*ACH")
    assert ids == ["DE*ACH*EA1", "DE*ACH*EA2"] and problems == []
    _, problems = evse_ids_check(doc, "DE*XYZ")
    assert [p["path"] for p in problems] == ["evses[0].evse_id", "evses[1].evse_id"]
    doc["evses"][1]["evse_id"] = "deachea1"  # another spelling of the first
    _, problems = evse_ids_check(doc, "DE*ACH")
    assert problems == [{"path": "evses[1].evse_id", "message": "repeats the EVSE ID of an earlier EVSE"}]
    del doc["evses"][0]["evse_id"]
    doc["evses"][1]["evse_id"] = "+49*810*000*438"
    _, problems = evse_ids_check(doc, "DE*ACH")
    assert [p["path"] for p in problems] == ["evses[0].evse_id", "evses[1].evse_id"]


def test_patch_clean_and_merge():
    patch = patch_clean("location", {"name": "New", "postal_code": None, "last_updated": NOW, "junk": 1})
    assert patch == {"name": "New", "postal_code": None, "last_updated": NOW}
    merged = patch_merge({"name": "Old", "postal_code": "1", "city": "X"}, patch)
    assert merged == {"name": "New", "city": "X", "last_updated": NOW}
    with pytest.raises(DocumentError):
        patch_clean("evse", {"status": "CHARGING"})
    with pytest.raises(DocumentError):
        patch_clean("connector", {"standard": "NOPE", "last_updated": NOW})


@pytest.mark.parametrize(
    ("connector", "watts"),
    [
        ({"power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16}, 11040),
        ({"power_type": "AC_1_PHASE", "max_voltage": 230, "max_amperage": 32}, 7360),
        ({"power_type": "AC_2_PHASE_SPLIT", "max_voltage": 120, "max_amperage": 40}, 9600),
        ({"power_type": "DC", "max_voltage": 920, "max_amperage": 400, "max_electric_power": 150000}, 150000),
        ({"standard": "IEC_62196_T2"}, None),
    ],
)
def test_connector_power(connector, watts):
    assert connector_power_w(connector) == watts


# --------------------------------------------------------------------------- tariffs


def test_tariff_examples_are_clean_and_unchanged():
    for name in (
        "tariff_4_complex.json",
        "tariff_14_step_size.json",
        "tariffrestriction_example_max_power.json",
    ):
        sent = example(name)
        assert tariff_clean(copy.deepcopy(sent), default_last_updated=NOW) == sent


def test_tariff_time_window_may_wrap_midnight():
    sent = example("tariff_14_step_size.json")
    assert sent["elements"][2]["restrictions"] == {"start_time": "20:00", "end_time": "00:00"}
    tariff_clean(sent, default_last_updated=NOW)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda t: t.update(currency="EURO"), "currency"),
        (lambda t: t.update(currency="ABC"), "currency"),
        (
            lambda t: t["elements"][0]["price_components"][0].update(price=-0.01),
            "elements[0].price_components[0].price",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(vat=-1),
            "elements[0].price_components[0].vat",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(step_size=1.5),
            "elements[0].price_components[0].step_size",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(type="KWH"),
            "elements[0].price_components[0].type",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"min_kwh": 10, "max_kwh": 5}),
            "elements[0].restrictions.max_kwh",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"min_power": 50, "max_power": 11}),
            "elements[0].restrictions.max_power",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"min_current": 32, "max_current": 16}),
            "elements[0].restrictions.max_current",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"min_duration": 600, "max_duration": 60}),
            "elements[0].restrictions.max_duration",
        ),
        (
            lambda t: t["elements"][0].update(
                restrictions={"start_date": "2020-02-01", "end_date": "2020-01-01"}
            ),
            "elements[0].restrictions.end_date",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"start_date": "2020-02-30"}),
            "elements[0].restrictions.start_date",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"start_time": "25:00"}),
            "elements[0].restrictions.start_time",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"day_of_week": ["MONDAY", "MONDAY"]}),
            "elements[0].restrictions.day_of_week",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"reservation": "MAYBE"}),
            "elements[0].restrictions.reservation",
        ),
        (lambda t: t.update(elements=[]), "elements"),
        (lambda t: t.update(min_price={"excl_vat": 2}, max_price={"excl_vat": 1}), "max_price"),
        (lambda t: t.update(min_price={"excl_vat": 2, "incl_vat": 1}), "min_price.incl_vat"),
        (
            lambda t: t.update(start_date_time="2020-02-01T00:00:00Z", end_date_time="2020-01-01T00:00:00Z"),
            "end_date_time",
        ),
        (lambda t: t.update(type="CHEAP"), "type"),
        (lambda t: t.update(tariff_alt_url="not a url"), "tariff_alt_url"),
    ],
)
def test_tariff_rules(change, path):
    sent = example("tariff_1_simple_2hour.json")
    change(sent)
    with pytest.raises(DocumentError) as caught:
        tariff_clean(sent, default_last_updated=NOW)
    assert path in paths(caught.value)
