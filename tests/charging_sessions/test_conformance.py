"""The official OCPI 2.2.1 session examples, unmodified: accepted by POST /sessions/ and PATCH
/sessions/{id}, and read back with the same information (docs/sessions.md lists the exceptions:
the token's uid is kept as a masked hint only, money is a decimal string)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from partners import services as partner_services
from tests.charging_sessions.conftest import publish_location, upload_credential
from tests.conformance import example
from tests.support import Onboarded, onboard

pytestmark = pytest.mark.django_db

CONTRACT = "NL-TST-C12345678-S"  # the contract of the examples' cdr_token


@pytest.fixture
def tst(db: Any) -> Onboarded:
    """The examples' CSP (NL-TST), whose card may be authorized from a whitelist."""
    csp = onboard(name="Test eMSP", country="NL", party="TST", roles=["CSP"])
    upload_credential(csp, CONTRACT, whitelist="ALLOWED")
    return csp


def operator_with_the_examples_location(country: str, party: str, csp: Onboarded) -> Onboarded:
    """A CSO publishing the location of the examples (LOC1, EVSE 3256) under its own operator ID."""
    cso = onboard(name=f"{party} charging", country=country, party=party, roles=["CSO"])
    partner_services.agreement_create(cso=cso.partner, csp=csp.partner)
    location = copy.deepcopy(example("location_example.json"))
    location["country_code"], location["party_id"] = country, party
    for evse in location["evses"]:
        evse["evse_id"] = evse["evse_id"].replace("BE*BEC", f"{country}*{party}")
    publish_location(cso, location)
    return cso


def same_information(sent: dict[str, Any], stored: dict[str, Any]) -> None:
    """What the hub gives back carries what the example said."""
    for key in (
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "end_date_time",
        "auth_method",
        "location_id",
        "evse_uid",
        "connector_id",
        "currency",
        "status",
        "last_updated",
    ):
        assert stored[key] == sent.get(key), key
    assert Decimal(str(stored["kwh"])) == Decimal(str(sent["kwh"]))
    token = sent["cdr_token"]
    assert {k: stored["cdr_token"][k] for k in ("country_code", "party_id", "type", "contract_id")} == {
        k: token[k] for k in ("country_code", "party_id", "type", "contract_id")
    }
    assert stored["charging_periods"] == sent.get("charging_periods", [])
    for key, value in sent["total_cost"].items():
        assert Decimal(stored["total_cost"][key]) == Decimal(str(value)), key


def test_the_short_finished_session_example_is_accepted_as_it_is(tst):
    sent = example("session_example_2_short_finished.json")
    # The example's own operator: its location example is published unmodified.
    bec = onboard(name="BeCharged", country="BE", party="BEC", roles=["CSO"])
    partner_services.agreement_create(cso=bec.partner, csp=tst.partner)
    publish_location(bec, example("location_example.json"))

    r = bec.client.post("/sessions/", sent)
    assert r.status_code == 201, r.content
    stored = tst.client.get("/sessions/101").json()
    same_information(sent, stored)
    assert (stored["evse_id"], stored["cso"], stored["csp"]) == ("BE*BEC*E041503001", "BE*BEC", "NL-TST")
    assert stored["time_zone"] == "Europe/Brussels"
    assert stored["cdr_token"]["uid"] == "…3abc"
    # Sent again, the same session is answered.
    assert bec.client.post("/sessions/", sent).status_code == 200


def test_the_simple_start_example_is_accepted_as_it_is(tst):
    sent = example("session_example_1_simple_start.json")
    stk = operator_with_the_examples_location("NL", "STK", tst)
    r = stk.client.post("/sessions/", sent)
    assert r.status_code == 201, r.content
    stored = r.json()
    same_information(sent, stored)
    assert stored["status"] == "PENDING"
    assert stored["evse_id"] == "NL*STK*E041503001"


def test_the_patch_examples_are_accepted_as_they_are(tst):
    stk = operator_with_the_examples_location("NL", "STK", tst)
    start = {
        "id": "S-2019",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "cdr_token": {"uid": "123abc", "type": "RFID", "contract_id": CONTRACT},
        "auth_method": "WHITELIST",
        "start_date_time": "2019-06-23T08:00:00Z",
        "currency": "EUR",
        "kwh": 0,
        "status": "ACTIVE",
        "last_updated": "2019-06-23T08:00:00Z",
    }
    assert stk.client.post("/sessions/", start).status_code == 201

    total_cost = example("session_patch_example_total_cost.json")
    r = stk.client.patch("/sessions/S-2019", total_cost)
    assert r.status_code == 200 and r.json()["applied"] is True
    assert r.json()["session"]["total_cost"] == {"excl_vat": "0.60", "incl_vat": "0.66"}

    period = example("session_patch_example_charging_period.json")
    r = stk.client.patch("/sessions/S-2019", period)
    assert r.status_code == 200 and r.json()["applied"] is True
    session = r.json()["session"]
    assert session["kwh"] == 15
    assert session["charging_periods"] == period["charging_periods"]
    assert session["total_cost"] == {"excl_vat": "0.80", "incl_vat": "0.88"}
    assert session["last_updated"] == "2019-06-23T08:16:02Z"

    # Sent again, or late, an update is not applied twice: the period is not appended again.
    for late in (period, total_cost):
        r = stk.client.patch("/sessions/S-2019", late)
        assert r.status_code == 200 and r.json()["applied"] is False
    assert len(r.json()["session"]["charging_periods"]) == 1


def test_the_patch_examples_are_older_than_the_start_example(tst):
    """The examples come from different days: patching the 2020 start with the 2019 patches is an
    update older than the stored one, which is answered and ignored."""
    stk = operator_with_the_examples_location("NL", "STK", tst)
    assert stk.client.post("/sessions/", example("session_example_1_simple_start.json")).status_code == 201
    r = stk.client.patch("/sessions/101", example("session_patch_example_total_cost.json"))
    assert r.status_code == 200 and r.json()["applied"] is False
    assert r.json()["session"]["total_cost"] == {"excl_vat": "2.50"}
