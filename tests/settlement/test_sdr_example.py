"""The official OCPI 2.2.1 CDR example is accepted as it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from partners.services import agreement_create
from settlement.models import Sdr
from tests.conformance import example
from tests.settlement.sdr_support import publish
from tests.support import onboard

pytestmark = pytest.mark.django_db


def location_for(cdr: dict) -> dict:
    """The location the example's CSO (BE*BEC) published: LOC1 with the EVSE and connector it names."""
    where = cdr["cdr_location"]
    return {
        "country_code": cdr["country_code"],
        "party_id": cdr["party_id"],
        "id": where["id"],
        "publish": True,
        "name": where["name"],
        "address": where["address"],
        "city": where["city"],
        "postal_code": where["postal_code"],
        "country": where["country"],
        "coordinates": where["coordinates"],
        "time_zone": "Europe/Brussels",
        "evses": [
            {
                "uid": where["evse_uid"],
                "evse_id": where["evse_id"],
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": where["connector_id"],
                        "standard": where["connector_standard"],
                        "format": where["connector_format"],
                        "power_type": where["connector_power_type"],
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "max_electric_power": 22000,
                        "tariff_ids": ["12"],
                        "last_updated": "2015-01-01T00:00:00Z",
                    }
                ],
                "last_updated": "2015-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2015-01-01T00:00:00Z",
    }


@pytest.fixture
def example_partners():
    cdr = example("cdr_example.json")
    cso = onboard(name="Gent Charging", country="BE", party="BEC", roles=["CSO"])
    # The contract DE8ACC12E46L89 belongs to the provider DE-8AC.
    csp = onboard(name="Example Provider", country="DE", party="8AC", roles=["CSP"])
    agreement_create(cso=cso.partner, csp=csp.partner, valid_from=datetime(2015, 1, 1, tzinfo=UTC))
    return cdr, cso, csp


def test_the_official_cdr_example_is_accepted_as_it_is(example_partners):
    cdr, cso, csp = example_partners
    publish(cso, cdr["tariffs"][0], location_for(cdr))
    r = cso.client.post("/sdrs/", example("cdr_example.json"))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["findings"] == []
    assert (body["sdr_id"], body["cso"], body["csp"]) == ("12345", "BE*BEC", "DE-8AC")
    assert body["contract_id"] == "DE-8AC-C12E46L89-1"
    assert body["evse_id"] == "BE*BEC*E041503003"
    assert body["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert body["hub_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert body["tariff_source"] == "PUBLISHED"
    assert body["total_energy"] == "15.342" and body["total_time"] == "1.973"
    # What the hub gives back carries the same information.
    assert body["cdr"] == example("cdr_example.json")
    assert csp.client.get(f"/sdrs/{body['id']}").json()["cdr"] == example("cdr_example.json")
    # Sent again, it is the same SDR.
    again = cso.client.post("/sdrs/", example("cdr_example.json"))
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Sdr.objects.count() == 1


def test_without_a_published_tariff_the_example_is_rated_with_its_own(example_partners):
    cdr, cso, _ = example_partners
    publish(cso, location_for(cdr))
    r = cso.client.post("/sdrs/", example("cdr_example.json"))
    assert r.status_code == 201
    assert r.json()["tariff_source"] == "SDR"
    assert r.json()["hub_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
