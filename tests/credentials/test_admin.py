"""The operator console pages of credentials and authorization records."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from clearinghouse.models import AuditEntry
from credentials.models import Credential, IssuedContract

from .conftest import UID, contract, make_credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.org", "a long admin password")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def records(cso, csp, agreed):  # type: ignore[no-untyped-def]
    from credentials import services
    from credentials.inputs import parse_authorization_request

    card = make_credential(csp)
    outcome = services.authorization_request(
        cso_id=cso.partner.pk,
        cso_operator_id="DE*ACH",
        request=parse_authorization_request(
            {"evse_id": "DE*ACH*E1*1", "credential": {"type": "RFID", "value": UID}}
        ),
    )
    return card, outcome


def test_every_page_opens(staff, records) -> None:
    card, outcome = records
    contract_record = IssuedContract.objects.create(contract_id=contract("DE-HUB"), csp=card.csp)
    for path in (
        "/admin/credentials/credential/",
        f"/admin/credentials/credential/{card.pk}/change/",
        "/admin/credentials/credential/add/",
        "/admin/credentials/authorizationrecord/",
        f"/admin/credentials/authorizationrecord/{outcome.authorization_id}/change/",
        "/admin/credentials/authorizationrecord/?status__exact=ACCEPTED&decided_by__exact=HUB",
        "/admin/credentials/issuedcontract/",
        f"/admin/credentials/issuedcontract/{contract_record.pk}/change/",
        "/admin/credentials/credential/?type__exact=RFID&status__exact=VALID&issuer__exact=CSP",
    ):
        response = staff.get(path)
        assert response.status_code == 200, path
        assert UID not in response.content.decode(), path


def test_search_by_contract_in_any_spelling_or_hint(staff, records) -> None:
    card, _ = records
    for term in ("nlbmoc12345678", card.contract_id, "E5F6"):
        response = staff.get("/admin/credentials/credential/", {"q": term})
        assert response.status_code == 200
        assert f"/admin/credentials/credential/{card.pk}/change/" in response.content.decode(), term
    response = staff.get("/admin/credentials/credential/", {"q": "NL-BMO-C00000000"})
    assert f"/admin/credentials/credential/{card.pk}/change/" not in response.content.decode()


def test_block_and_unblock_actions(staff, records) -> None:
    card, _ = records
    changelist = "/admin/credentials/credential/"
    staff.post(changelist, {"action": "block", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.status == "BLOCKED"
    staff.post(changelist, {"action": "unblock", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.status == "VALID"
    assert AuditEntry.objects.filter(action="credential.block").exists()


def test_authorization_records_are_read_only(staff, records) -> None:
    _, outcome = records
    assert staff.get("/admin/credentials/authorizationrecord/add/").status_code == 403
    response = staff.post(f"/admin/credentials/authorizationrecord/{outcome.authorization_id}/delete/")
    assert response.status_code == 403


def test_staff_issue_a_hub_credential(staff, csp) -> None:
    response = staff.post(
        "/admin/credentials/credential/add/",
        {"csp": csp.partner.pk, "type": "APP_USER", "whitelist": "ALLOWED", "value": "driver.one"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    credential = Credential.objects.get(csp=csp.partner)
    assert credential.issuer == "HUB" and credential.contract_id.startswith("DE-HUB-")
    page = response.content.decode()
    assert "driver.one" in page and credential.contract_id in page and "Password" in page


def test_staff_issue_shows_errors(staff, csp) -> None:
    response = staff.post(
        "/admin/credentials/credential/add/", {"csp": csp.partner.pk, "type": "RFID", "whitelist": "ALLOWED"}
    )
    assert response.status_code == 200 and "RFID credential needs" in response.content.decode()
    assert not Credential.objects.exists()
