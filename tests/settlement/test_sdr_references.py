"""SDRs checked and rated against what the other apps really hold: credentials and hub-issued
contracts, authorization records, published EVSEs and tariffs, agreements."""

from __future__ import annotations

from typing import Any

import pytest

from credentials.models import IssuedContract
from locations.models import Connector
from partners.models import RoamingAgreement
from partners.services import agreement_create, agreement_set_status
from settlement import lookups
from settlement.models import Sdr
from tests.settlement.sdr_support import AGREED_FROM, World, contract_of, location_doc, publish, tariff_doc
from tests.support import onboard

pytestmark = pytest.mark.django_db

UID = "04A2B3C4D5E6F7"


def codes(response: Any) -> set[str]:
    body = response.json()
    found = body["findings"] if "findings" in body else body["error"]["details"]["findings"]
    return {f["code"] for f in found}


def token(contract: str) -> dict[str, Any]:
    return {
        "country_code": contract[:2],
        "party_id": contract[3:6],
        "uid": UID,
        "type": "RFID",
        "contract_id": contract,
    }


def upload_credential(world: World, contract: str) -> None:
    item = {"type": "RFID", "value": UID, "contract_id": contract, "whitelist": "ALWAYS"}
    r = world.csp.client.post("/credentials/", [item])
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.content


def authorize(world: World) -> dict[str, Any]:
    r = world.cso.client.post(
        "/authorizations/", {"evse_id": "DE*ACH*E100", "credential": {"type": "RFID", "value": UID}}
    )
    assert r.status_code == 200, r.content
    return r.json()


def test_an_authorization_the_hub_gave_is_quoted(world):
    upload_credential(world, world.contract)
    answer = authorize(world)
    assert answer["status"] == "ACCEPTED"
    r = world.cso.client.post("/sdrs/", world.cdr(authorization_reference=answer["authorization_reference"]))
    assert r.status_code == 201, r.content
    assert r.json()["findings"] == []
    assert r.json()["authorization_reference"] == answer["authorization_reference"]


def test_another_csos_authorization_is_unknown(world):
    upload_credential(world, world.contract)
    reference = authorize(world)["authorization_reference"]
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    agreement_create(cso=other.partner, csp=world.csp.partner, valid_from=AGREED_FROM)
    publish(other, tariff_doc("DE*OTH"), location_doc("DE*OTH"))
    doc = world.cdr(authorization_reference=reference, country_code="DE", party_id="OTH")
    doc["cdr_location"]["evse_id"] = "DE*OTH*E100"
    r = other.client.post("/sdrs/", doc)
    assert r.status_code == 422
    assert codes(r) == {"AUTHORIZATION_UNKNOWN"}


def test_an_authorization_that_was_not_accepted_is_a_warning(world):
    answer = authorize(world)  # no such credential: UNKNOWN
    assert answer["status"] != "ACCEPTED" and answer["authorization_reference"] is None
    from credentials.models import AuthorizationRecord

    reference = AuthorizationRecord.objects.get(pk=answer["authorization_id"]).authorization_reference
    r = world.cso.client.post("/sdrs/", world.cdr(authorization_reference=reference))
    assert r.status_code == 201
    assert codes(r) == {"AUTHORIZATION_NOT_ACCEPTED"}


def test_a_contract_the_hub_issued_belongs_to_the_csp_it_was_issued_for(world):
    issued = contract_of("DE", "HUB", "C00000042")
    IssuedContract.objects.create(contract_id=issued, csp=world.csp.partner)
    assert lookups.contract_owners(contract_ids=[issued]) == {issued: world.csp.partner.pk}
    r = world.cso.client.post("/sdrs/", world.cdr(cdr_token=token(issued)))
    assert r.status_code == 201, r.content
    assert r.json()["csp"] == "NL-BMO"


def test_an_uploaded_credential_names_the_contracts_csp(world):
    upload_credential(world, world.contract)
    assert lookups.contract_owners(contract_ids=[world.contract]) == {world.contract: world.csp.partner.pk}


def test_a_contract_of_no_csp_is_unknown(world):
    r = world.cso.client.post("/sdrs/", world.cdr(cdr_token=token(contract_of("FR", "ZZZ"))))
    assert r.status_code == 422 and codes(r) == {"CONTRACT_UNKNOWN"}


def test_a_suspended_agreement_refuses_sdrs(world):
    agreement = RoamingAgreement.objects.get()
    agreement_set_status(agreement=agreement, status=RoamingAgreement.Status.SUSPENDED)
    r = world.cso.client.post("/sdrs/", world.cdr())
    assert r.status_code == 422 and codes(r) == {"NO_AGREEMENT"}


def test_the_agreements_pinned_tariff_prices_the_sdr(cso, csp):
    agreement_create(cso=cso.partner, csp=csp.partner, valid_from=AGREED_FROM, pinned_tariff_id="DEAL")
    publish(
        cso,
        tariff_doc("DE*ACH"),
        tariff_doc("DE*ACH", tariff_id="DEAL", energy_price=0.25),
        location_doc("DE*ACH"),
    )
    world = World(cso=cso, csp=csp, contract=contract_of("NL", "BMO"))
    r = world.cso.client.post("/sdrs/", world.cdr(excl=5.0, incl=5.95))
    assert r.status_code == 201
    assert r.json()["tariff_source"] == "AGREEMENT" and r.json()["findings"] == []


def test_a_tariff_targeted_at_the_csp_prices_its_sdrs(world):
    other = onboard(name="Other CSP", country="FR", party="OTC", roles=["CSP"])
    publish(
        world.cso,
        tariff_doc("DE*ACH", tariff_id="T2", energy_price=0.20, targets=["NL-BMO"]),
        tariff_doc("DE*ACH", tariff_id="T3", energy_price=0.10, targets=["FR-OTC"]),
        location_doc("DE*ACH", tariff_ids=["T1", "T2", "T3"]),
    )
    assert other.partner.pk  # T3 is meant for another CSP and never applies to NL-BMO
    r = world.cso.client.post("/sdrs/", world.cdr(tariff_id=None, excl=4.0, incl=4.76))
    assert r.status_code == 201
    assert r.json()["hub_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.7600"}
    assert r.json()["findings"] == []


def test_a_tariff_in_another_currency_rejects_the_sdr(world):
    publish(world.cso, tariff_doc("DE*ACH", currency="CHF"))
    r = world.cso.client.post("/sdrs/", world.cdr())
    assert r.status_code == 422 and codes(r) == {"CURRENCY_MISMATCH"}


def test_an_sdr_no_tariff_applies_to_is_kept_unrated(world):
    publish(world.cso, location_doc("DE*ACH", tariff_ids=[]))
    r = world.cso.client.post("/sdrs/", world.cdr(tariff_id=None))
    assert r.status_code == 201
    assert codes(r) == {"NOT_RATED"} and r.json()["hub_cost"] is None


def test_the_connectors_power_bounds_the_energy(world):
    # No max_electric_power: 3 phases × 230 V × 16 A = 11.04 kW, 22.08 kWh in two hours.
    doc = location_doc("DE*ACH", max_electric_power=None)
    doc["evses"][0]["connectors"][0]["max_amperage"] = 16
    publish(world.cso, doc)
    assert (
        world.cso.client.post("/sdrs/", world.cdr(sdr_id="OK", energy=22.0, excl=6.6, incl=7.854)).status_code
        == 201
    )
    r = world.cso.client.post("/sdrs/", world.cdr(sdr_id="TOO-MUCH", energy=25.0, excl=7.5, incl=8.925))
    assert r.status_code == 422 and codes(r) == {"ENERGY_EXCEEDS_CAPACITY"}


def test_an_evse_id_in_another_spelling_is_found(world):
    doc = world.cdr()
    doc["cdr_location"]["evse_id"] = "deache100"
    r = world.cso.client.post("/sdrs/", doc)
    assert r.status_code == 201 and r.json()["evse_id"] == "DE*ACH*E100"
    assert Sdr.objects.get().cdr["cdr_location"]["evse_id"] == "deache100"


def test_the_session_the_cso_reported_must_match(world):
    upload_credential(world, world.contract)
    session = {
        "id": "S-SDR-1",
        "evse_id": "DE*ACH*E100",
        "connector_id": "1",
        "contract_id": world.contract,
        "auth_method": "WHITELIST",
        "start_date_time": "2025-03-04T10:00:00Z",
        "currency": "EUR",
        "last_updated": "2025-03-04T10:00:00Z",
    }
    created = world.cso.client.post("/sessions/", session)
    assert created.status_code in (200, 201), created.content
    assert world.cso.client.post("/sdrs/", world.cdr()).status_code == 201
    other = contract_of("NL", "BMO", "C00000002")
    r = world.cso.client.post(
        "/sdrs/", world.cdr(sdr_id="SDR-2", session_id="S-SDR-1", cdr_token=token(other))
    )
    assert r.status_code == 422 and codes(r) == {"SESSION_MISMATCH"}


def test_the_evse_lookup_reads_connectors_and_keeps_an_evse_without_any(world, both):
    publish(
        world.cso, location_doc("DE*ACH", location_id="LOC2", evse_suffix="E200", time_zone="Europe/Paris")
    )
    publish(both, location_doc(both.partner.operator_id, evse_suffix="E300"))
    Connector.objects.filter(evse__evse_id="DE*ACH*E200").delete()
    wanted = {"DE*ACH*E100", "DE*ACH*E200", "FR*GRO*E300", "DE*ACH*E999"}
    found = lookups.evses_for_cso(cso_id=world.cso.partner.pk, evse_ids=wanted)
    assert set(found) == {"DE*ACH*E100", "DE*ACH*E200"}
    first = found["DE*ACH*E100"]
    assert first.time_zone == "Europe/Berlin" and list(first.connectors) == ["1"]
    assert first.connectors["1"].max_power_kw == 22 and first.connectors["1"].tariff_ids == ("T1",)
    assert found["DE*ACH*E200"].time_zone == "Europe/Paris" and found["DE*ACH*E200"].connectors == {}
