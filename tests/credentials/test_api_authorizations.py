"""The authorization endpoints (CSO role): answers from the hub's data, routed questions answered by
a live CSP (202, Prefer: wait, GET), stop, scope, bad input, idempotency, rate limits, query budget."""

from __future__ import annotations

import pytest
from django.conf import settings

from credentials.models import AuthorizationRecord
from tests.support import error_code, onboard

from .conftest import UID, accept, answer, contract, make_credential, set_endpoint

EVSE = "DE*ACH*E1234*1"


def start(client, credential=None, evse=EVSE, **kw):  # type: ignore[no-untyped-def]
    body = {"evse_id": evse, "credential": credential or {"type": "RFID", "value": UID}}
    return client.post("/authorizations/", body, **kw)


@pytest.mark.django_db
def test_accepted_answer(cso, csp, agreed) -> None:
    card = make_credential(csp, whitelist="ALWAYS")
    response = start(cso.client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "authorization_id", "kind", "status", "reason", "contract_id", "csp", "decided_by",
        "authorization_reference", "valid_until", "evse_id", "cso_session_id",
    }  # fmt: skip
    assert (body["status"], body["decided_by"], body["csp"], body["contract_id"]) == (
        "ACCEPTED", "HUB", "NL-BMO", card.contract_id,
    )  # fmt: skip
    assert len(body["authorization_reference"]) == 32 and body["valid_until"].endswith("Z")
    record = AuthorizationRecord.objects.get(pk=body["authorization_id"])
    assert record.authorization_reference == body["authorization_reference"]


@pytest.mark.django_db
def test_every_status_of_the_table_over_http(cso, csp, agreed) -> None:
    make_credential(csp, value="04000001", status="BLOCKED")
    make_credential(csp, value="04000002", status="EXPIRED")
    make_credential(csp, value="04000003", whitelist="NEVER")
    stranger = onboard(name="Stranger", country="BE", party="STR", roles=["CSP"])
    make_credential(stranger, value="04000004", contract_id=contract("BE-STR"))
    expected = {
        "04000001": "BLOCKED",
        "04000002": "EXPIRED",
        "04000003": "REJECTED",
        "04000004": "NO_AGREEMENT",
        "04000005": "UNKNOWN",
    }
    for uid, status in expected.items():
        response = start(cso.client, {"type": "RFID", "value": uid})
        assert response.status_code == 200 and response.json()["status"] == status, (uid, response.content)


@pytest.mark.django_db
def test_a_csp_cannot_ask_for_authorization(csp, agreed) -> None:
    response = start(csp.client)
    assert response.status_code == 403 and error_code(response) == "role_required"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"credential": {"type": "RFID", "value": UID}}, 400, "missing_evse_id"),
        ({"evse_id": EVSE}, 400, "missing_credential"),
        ({"evse_id": EVSE, "credential": {"type": "CARD", "value": UID}}, 400, "invalid_type"),
        ({"evse_id": EVSE, "credential": {"type": "RFID", "value": "xyz"}}, 400, "invalid_rfid_uid"),
        ({"evse_id": EVSE, "credential": {"type": "RFID", "value": UID}, "extra": 1}, 400, "unknown_field"),
        ([], 400, "invalid_body"),
        ({"evse_id": "DE*ACH*1234", "credential": {"type": "RFID", "value": UID}}, 422, "invalid_evse_id"),
        ({"evse_id": "NL*BMO*E1*1", "credential": {"type": "RFID", "value": UID}}, 422, "evse_not_yours"),
    ],
)
def test_bad_requests_record_nothing(cso, csp, agreed, body, status, code) -> None:
    make_credential(csp)
    response = cso.client.post("/authorizations/", body)
    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert UID not in response.content.decode()
    assert not AuthorizationRecord.objects.exists()


@pytest.mark.django_db
def test_idempotency_key_replays_the_decision(cso, csp, agreed) -> None:
    make_credential(csp)
    first = start(cso.client, headers={"Idempotency-Key": "tap-1"})
    second = start(cso.client, headers={"Idempotency-Key": "tap-1"})
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert AuthorizationRecord.objects.count() == 1


@pytest.mark.django_db
def test_get_is_for_the_cso_that_asked(cso, csp, agreed) -> None:
    make_credential(csp)
    authorization_id = start(cso.client).json()["authorization_id"]
    mine = cso.client.get(f"/authorizations/{authorization_id}")
    assert mine.status_code == 200 and mine.json()["status"] == "ACCEPTED"
    other_cso = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    for client in (other_cso.client, csp.client):
        response = client.get(f"/authorizations/{authorization_id}")
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert cso.client.get("/authorizations/424242").status_code == 404


@pytest.mark.django_db
def test_stop(cso, csp, agreed) -> None:
    make_credential(csp)
    authorization_id = start(cso.client).json()["authorization_id"]
    response = cso.client.post(
        f"/authorizations/{authorization_id}/stop", {"credential": {"type": "RFID", "value": UID}}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["status"], body["reason"]) == ("STOP", "ACCEPTED", "SAME_CREDENTIAL")
    other = cso.client.post(
        f"/authorizations/{authorization_id}/stop", {"credential": {"type": "RFID", "value": "04FFFFFF"}}
    )
    assert other.json()["status"] == "REJECTED"


@pytest.mark.django_db
def test_stop_refusals(cso, csp, agreed) -> None:
    make_credential(csp, value="04000001", status="BLOCKED")
    make_credential(csp)
    blocked = start(cso.client, {"type": "RFID", "value": "04000001"}).json()["authorization_id"]
    accepted = start(cso.client).json()["authorization_id"]
    credential = {"credential": {"type": "RFID", "value": UID}}
    response = cso.client.post(f"/authorizations/{blocked}/stop", credential)
    assert response.status_code == 409 and error_code(response) == "not_accepted"
    other_cso = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    assert other_cso.client.post(f"/authorizations/{accepted}/stop", credential).status_code == 404
    assert csp.client.post(f"/authorizations/{accepted}/stop", credential).status_code == 403
    bad = cso.client.post(f"/authorizations/{accepted}/stop", {"credential": {"type": "RFID"}})
    assert bad.status_code == 400 and error_code(bad) == "missing_value"
    assert AuthorizationRecord.objects.filter(kind="STOP").count() == 0


@pytest.mark.django_db
def test_hub_decided_path_costs_one_statement_on_postgresql(
    cso, csp, agreed, django_assert_max_num_queries
) -> None:
    from django.db import connection

    make_credential(csp, whitelist="ALWAYS")
    assert start(cso.client).status_code == 200  # logs in and caches the principal
    with django_assert_max_num_queries(2) as captured:
        response = start(cso.client)
    assert response.status_code == 200 and response.json()["status"] == "ACCEPTED"
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    # PostgreSQL reads the facts and records the decision in one statement; SQLite in two.
    assert statements == (["WITH"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"])
    record = AuthorizationRecord.objects.get(pk=response.json()["authorization_id"])
    assert (record.status, record.reason, record.decided_by, record.authorization_reference) == (
        "ACCEPTED", "WHITELIST_ALWAYS", "HUB", response.json()["authorization_reference"],
    )  # fmt: skip


@pytest.mark.django_db
def test_a_burst_is_throttled_for_its_partner_only(cso, csp, agreed, settings) -> None:
    settings.I3_THROTTLE_RATES = {**settings.I3_THROTTLE_RATES, "authorization": "3/m"}
    make_credential(csp)
    other_cso = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    from .conftest import agree

    agree(other_cso, csp)
    codes = [start(cso.client).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = start(cso.client)
    assert error_code(limited) == "throttled" and limited["Retry-After"]
    assert start(other_cso.client, evse="DE*OTH*E1*1").status_code == 200


# --- routed questions through the API, with the task run as production runs it ---------------------


@pytest.fixture
def live(cso, csp, agreed, partner_server):  # type: ignore[no-untyped-def]
    """A live CSP and a live CSO endpoint (the decision is delivered there)."""
    csp_server = partner_server()
    csp_server.secret = csp.secret
    set_endpoint(csp.partner, csp_server.url)
    cso_server = partner_server()
    cso_server.secret = cso.secret
    set_endpoint(cso.partner, cso_server.url)
    return csp_server, cso_server


@pytest.mark.django_db(transaction=True)
def test_routed_with_prefer_wait(cso, csp, live) -> None:
    csp_server, cso_server = live
    csp_server.respond = accept()
    card = make_credential(csp, whitelist="ALLOWED")
    response = start(cso.client, headers={"Prefer": "wait=5"})
    assert response.status_code == 200, response.content
    assert response["Preference-Applied"] == "wait=5"
    body = response.json()
    assert (body["status"], body["decided_by"], body["contract_id"]) == ("ACCEPTED", "CSP", card.contract_id)
    assert csp_server.received[0].signature_ok
    # delivered to the CSO's endpoint, signed with the CSO's secret
    [delivery] = cso_server.received
    assert delivery.path == "/i3/authorizations/results" and delivery.signature_ok
    assert delivery.headers["X-I3-Event-Type"] == "authorization.result"
    assert delivery.body["authorization_id"] == body["authorization_id"]
    assert delivery.body["authorization_reference"] == body["authorization_reference"]


@pytest.mark.django_db(transaction=True)
def test_routed_without_prefer_answers_202_then_get(cso, csp, live) -> None:
    csp_server, _ = live
    csp_server.respond = answer("REJECTED", reason="NO_CREDIT")
    make_credential(csp, whitelist="ALLOWED")
    response = start(cso.client)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "PENDING" and isinstance(body["authorization_id"], int)
    assert body["decided_by"] is None and body["authorization_reference"] is None
    decided = cso.client.get(f"/authorizations/{body['authorization_id']}").json()
    assert (decided["status"], decided["decided_by"], decided["reason"]) == ("REJECTED", "CSP", "NO_CREDIT")


@pytest.mark.django_db(transaction=True)
def test_routed_slow_csp_with_prefer_wait(cso, csp, live, settings) -> None:
    settings.AUTHORIZATION_CSP_DEADLINE_SECONDS = 0.5
    csp_server, _ = live
    csp_server.respond = answer("REJECTED", delay=2.0)
    make_credential(csp, whitelist="ALLOWED")
    body = start(cso.client, headers={"Prefer": "wait=10"}).json()
    assert (body["status"], body["decided_by"], body["reason"]) == ("ACCEPTED", "HUB", "CSP_TIMEOUT")


@pytest.mark.django_db(transaction=True)
def test_routed_broadcast_over_http(cso, csp, live, partner_server) -> None:
    csp_server, _ = live
    csp_server.respond = answer("UNKNOWN")
    other = onboard(name="Delta Drive", country="BE", party="DEL", roles=["CSP"])
    from .conftest import agree, settle

    agree(cso, other)
    other_server = partner_server()
    other_server.secret = other.secret
    other_server.respond = accept(contract("BE-DEL"))
    set_endpoint(other.partner, other_server.url)
    body = start(cso.client, headers={"Prefer": "wait=5"}).json()
    assert (body["status"], body["csp"], body["contract_id"]) == ("ACCEPTED", "BE-DEL", contract("BE-DEL"))
    settle(csp_server, other_server)


@pytest.mark.django_db
def test_prefer_wait_gives_up_and_answers_202(cso, csp, agreed, settings) -> None:
    # Inside a test transaction the question is never asked: the record stays PENDING.
    settings.AUTHORIZATION_MAX_WAIT_SECONDS = 1
    set_endpoint(csp.partner, "https://csp.example/i3")
    make_credential(csp, whitelist="ALLOWED")
    response = start(cso.client, headers={"Prefer": "respond-async, wait=30"})
    assert response.status_code == 202 and response["Preference-Applied"] == "wait=1"
    assert response.json()["status"] == "PENDING"


def test_prefer_wait_parsing() -> None:
    from credentials.api.views import prefer_wait

    cap = settings.AUTHORIZATION_MAX_WAIT_SECONDS
    assert prefer_wait(None) is None and prefer_wait("") is None
    assert prefer_wait("wait=3") == 3
    assert prefer_wait("respond-async, wait=4") == 4
    assert prefer_wait('wait="2"; foo') == 2
    assert prefer_wait("WAIT=5") == 5
    assert prefer_wait("wait=600") == cap
    assert prefer_wait("wait=abc") is None and prefer_wait("handling=lenient") is None
    assert prefer_wait("nowait=3") is None
