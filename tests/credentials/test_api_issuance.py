"""Hub issuance and dynamic QR codes over the API (CSP role)."""

from __future__ import annotations

import pytest

from credentials.models import Credential, DriverPersonalData, IssuedContract
from tests.support import error_code, onboard

from .conftest import UID, agree, contract, make_credential

pytestmark = pytest.mark.django_db


def item(uid: str = UID, **extra):  # type: ignore[no-untyped-def]
    return {"type": "RFID", "value": uid, "contract_id": "NL-BMO-C12345678", "whitelist": "ALWAYS", **extra}


def upload(client, items, mode: str | None = None, **kw):  # type: ignore[no-untyped-def]
    path = "/credentials/" + (f"?mode={mode}" if mode else "")
    return client.post(path, items, **kw)


def results(response):  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- hub issuance ----------------------------------------------------------------------------------


@pytest.fixture
def hub_issued(cso, csp):  # type: ignore[no-untyped-def]
    return agree(cso, csp, authorization_subtype="HUB_ISSUED")


def test_issue_needs_a_hub_issued_agreement(cso, csp) -> None:
    agree(cso, csp)  # CSP_ISSUED
    response = csp.client.post("/credentials/issue", {"type": "RFID", "value": UID})
    assert response.status_code == 403 and error_code(response) == "hub_issuance_not_agreed"
    assert not Credential.objects.exists() and not IssuedContract.objects.exists()


def test_issue_app_user(csp, hub_issued) -> None:
    response = csp.client.post("/credentials/issue", {"type": "APP_USER", "driver": {"name": "Jane"}})
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["issuer"] == "HUB" and body["replayed"] is False and body["has_password"] is True
    assert body["contract_id"].startswith("DE-HUB-") and len(body["contract_id"]) == 18
    assert body["value"].startswith("u") and len(body["password"]) >= 12 and body["pin"] is None
    issued = IssuedContract.objects.get(contract_id=body["contract_id"])
    assert issued.csp_id == csp.partner.pk
    assert DriverPersonalData.objects.get(contract_id=body["contract_id"]).name == "Jane"
    listing = str(csp.client.get("/credentials/").json())
    assert body["password"] not in listing and body["value"] not in listing


def test_issue_static_qr_with_generated_pin_on_an_existing_contract(csp, hub_issued) -> None:
    first = csp.client.post("/credentials/issue", {"type": "RFID", "value": "04:a1:b2:c3"}).json()
    assert first["value"] == "04A1B2C3"
    second = csp.client.post(
        "/credentials/issue", {"type": "QR_STATIC", "generate_pin": True, "contract_id": first["contract_id"]}
    )
    assert second.status_code == 201
    body = second.json()
    assert body["contract_id"] == first["contract_id"] == body["value"]
    assert body["pin"].isdigit() and len(body["pin"]) == 6 and body["has_pin"] is True
    assert IssuedContract.objects.count() == 1
    again = csp.client.post("/credentials/issue", {"type": "QR_STATIC", "contract_id": first["contract_id"]})
    assert again.status_code == 409 and error_code(again) == "credential_exists"


def test_issue_replay_with_idempotency_key(csp, hub_issued) -> None:
    headers = {"Idempotency-Key": "issue-1"}
    first = csp.client.post("/credentials/issue", {"type": "APP_USER"}, headers=headers)
    second = csp.client.post("/credentials/issue", {"type": "APP_USER"}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"] and second.json()["replayed"] is True
    assert second.json()["password"] is None and second.json()["value"] is None  # shown once only
    assert Credential.objects.count() == 1
    clash = csp.client.post("/credentials/issue", {"type": "RFID", "value": UID}, headers=headers)
    assert clash.status_code == 409 and error_code(clash) == "idempotency_key_reused"


def test_issue_refusals(csp, hub_issued) -> None:
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    make_credential(other, contract_id=contract("BE-DEL"))
    taken = csp.client.post("/credentials/issue", {"type": "RFID", "value": UID})
    assert taken.status_code == 409 and error_code(taken) == "credential_taken"
    foreign = csp.client.post("/credentials/issue", {"type": "REMOTE", "contract_id": contract("DE-HUB")})
    assert foreign.status_code == 404 and error_code(foreign) == "unknown_contract"
    bad = csp.client.post("/credentials/issue", {"type": "PNC"})
    assert bad.status_code == 400 and error_code(bad) == "missing_fingerprint"
    assert not Credential.objects.filter(csp=csp.partner).exists()
    assert not IssuedContract.objects.exists()  # a refused issue leaves no contract behind


def test_issue_is_for_csps_only(cso, csp, hub_issued) -> None:
    assert cso.client.post("/credentials/issue", {"type": "APP_USER"}).status_code == 403


# --- dynamic QR --------------------------------------------------------------------------------------


def test_dynamic_qr_code(csp, hub_issued) -> None:
    issued = csp.client.post("/credentials/issue", {"type": "QR_DYNAMIC"}).json()
    response = csp.client.get(f"/credentials/{issued['id']}/dynamic-qr")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["credential_id"] == issued["id"] and body["code"].startswith("I3Q1.")
    assert body["expires_at"].endswith("Z")
    assert csp.client.get(f"/credentials/{issued['id']}/dynamic-qr").json()["code"] != body["code"]


def test_dynamic_qr_scope_and_rules(csp, hub_issued) -> None:
    card = make_credential(csp)
    response = csp.client.get(f"/credentials/{card.pk}/dynamic-qr")
    assert response.status_code == 422 and error_code(response) == "not_dynamic_qr"
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    assert other.client.get(f"/credentials/{card.pk}/dynamic-qr").status_code == 404
