"""Routed questions against real HTTP servers on 127.0.0.1 playing the CSP: accept, reject, slow
(deadline), down, errors, and the broadcast of an unknown RFID card to two CSPs."""

from __future__ import annotations

import time

import pytest

from clearinghouse.routing.models import OutboxMessage
from credentials import services
from credentials.inputs import parse_authorization_request
from credentials.models import AuthorizationRecord
from tests.support import onboard

from .conftest import PIN, UID, accept, agree, answer, contract, make_credential, set_endpoint, settle

pytestmark = pytest.mark.django_db

EVSE = "DE*ACH*E1234*1"


def ask(cso, credential):  # type: ignore[no-untyped-def]
    """Authorize, then run the routed question the way the task does."""
    outcome = services.authorization_request(
        cso_id=cso.partner.pk,
        cso_operator_id=cso.partner.operator_id,
        request=parse_authorization_request({"evse_id": EVSE, "credential": credential}),
    )
    assert outcome.pending
    assert services.authorization_route(authorization_id=outcome.authorization_id) is True
    return AuthorizationRecord.objects.select_related("csp").get(pk=outcome.authorization_id)


@pytest.fixture
def live_csp(csp, partner_server):  # type: ignore[no-untyped-def]
    server = partner_server()
    server.secret = csp.secret
    set_endpoint(csp.partner, server.url)
    return server


def test_row_15_csp_accepts(cso, csp, agreed, live_csp, partner_server) -> None:
    cso_endpoint = partner_server()
    set_endpoint(cso.partner, cso_endpoint.url)
    card = make_credential(csp, whitelist="ALLOWED")
    live_csp.respond = accept(valid_until="2099-01-01T00:00:00Z", reason="CONTRACT_OK")
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.decided_by, record.reason) == ("ACCEPTED", "CSP", "CONTRACT_OK")
    assert record.valid_until.year == 2099 and record.contract_id == card.contract_id
    assert record.pending_credential == "" and record.latency_ms is not None and record.decided_at

    [question] = live_csp.received
    assert question.path == "/i3/authorizations"
    assert question.signature_ok, "the hub signs its question with the CSP's secret"
    assert question.headers["X-I3-Event-Type"] == "authorization.request"
    assert question.headers["X-I3-Key-Id"] == csp.username
    assert question.headers["X-I3-Message-Id"]
    body = question.body
    assert body["authorization_id"] == record.pk and body["evse_id"] == EVSE
    assert body["cso"] == {"operator_id": "DE*ACH", "name": "Alpha Charge"}
    assert body["credential"] == {"type": "RFID", "value": UID, "contract_id": card.contract_id}
    assert body["requested_at"].endswith("Z") and body["answer_before"].endswith("Z")

    # the decision goes to the CSO's endpoint through the outbox
    message = OutboxMessage.objects.get(partner=cso.partner, event_type="authorization.result")
    assert (message.role, message.path) == ("CSO", "authorizations/results")
    assert message.payload["authorization_id"] == record.pk and message.payload["status"] == "ACCEPTED"
    assert message.payload["authorization_reference"] == record.authorization_reference


def test_row_15_csp_rejects(cso, csp, agreed, live_csp) -> None:
    make_credential(csp, whitelist="ALLOWED")
    live_csp.respond = answer("REJECTED", reason="NO_CREDIT")
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.decided_by, record.reason, record.valid_until) == (
        "REJECTED",
        "CSP",
        "NO_CREDIT",
        None,
    )


def test_row_15_csp_blocks(cso, csp, agreed, live_csp) -> None:
    make_credential(csp, whitelist="NEVER")
    live_csp.respond = answer("BLOCKED")
    assert ask(cso, {"type": "RFID", "value": UID}).status == "BLOCKED"


@pytest.mark.parametrize(
    ("whitelist", "status"), [("ALLOWED", "ACCEPTED"), ("ALLOWED_OFFLINE", "ACCEPTED"), ("NEVER", "REJECTED")]
)
def test_rows_16_17_slow_csp_hits_the_deadline(
    cso, csp, agreed, live_csp, settings, whitelist, status
) -> None:
    settings.AUTHORIZATION_CSP_DEADLINE_SECONDS = 0.5
    make_credential(csp, whitelist=whitelist)
    live_csp.respond = answer("REJECTED", delay=2.0)
    started = time.monotonic()
    record = ask(cso, {"type": "RFID", "value": UID})
    assert time.monotonic() - started < 1.8, "the hub does not wait beyond the deadline"
    assert (record.status, record.decided_by, record.reason) == (status, "HUB", "CSP_TIMEOUT")


@pytest.mark.parametrize(("whitelist", "status"), [("ALLOWED_OFFLINE", "ACCEPTED"), ("NEVER", "REJECTED")])
def test_rows_16_17_csp_down(cso, csp, agreed, closed_port_url, whitelist, status) -> None:
    set_endpoint(csp.partner, closed_port_url)
    make_credential(csp, whitelist=whitelist)
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.decided_by, record.reason) == (status, "HUB", "CSP_UNREACHABLE")


@pytest.mark.parametrize(
    "reply",
    [
        lambda body: (500, {"error": "boom"}, 0.0),
        lambda body: (200, b"not json", 0.0),
        lambda body: (200, {"status": "ACCEPTED"}, 0.0),  # no echo of the question
        lambda body: (200, {"authorization_id": body["authorization_id"], "status": "PERHAPS"}, 0.0),
    ],
)
def test_row_16_csp_error_falls_back(cso, csp, agreed, live_csp, reply) -> None:
    make_credential(csp, whitelist="ALLOWED")
    live_csp.respond = reply
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.decided_by, record.reason) == ("ACCEPTED", "HUB", "CSP_ERROR")


def test_row_23_unknown_static_qr_asked_of_the_named_csp(cso, csp, agreed, live_csp) -> None:
    live_csp.respond = accept()
    record = ask(cso, {"type": "QR_STATIC", "value": contract(), "pin": PIN})
    assert (record.status, record.decided_by, record.contract_id, record.csp_id) == (
        "ACCEPTED", "CSP", contract(), csp.partner.pk,
    )  # fmt: skip
    # the CSP, which alone knows this credential, gets the PIN over the signed channel
    assert live_csp.received[0].body["credential"] == {
        "type": "QR_STATIC", "value": contract(), "contract_id": contract(), "pin": PIN,
    }  # fmt: skip


def test_row_23_named_csp_down_is_unknown(cso, csp, agreed, closed_port_url) -> None:
    set_endpoint(csp.partner, closed_port_url)
    record = ask(cso, {"type": "REMOTE", "value": contract()})
    assert (record.status, record.reason) == ("UNKNOWN", "CSP_UNREACHABLE")


@pytest.fixture
def two_csps(cso, csp, agreed, partner_server):  # type: ignore[no-untyped-def]
    first = partner_server()
    first.secret = csp.secret
    set_endpoint(csp.partner, first.url)
    other = onboard(name="Delta Drive", country="BE", party="DEL", roles=["CSP"])
    agree(cso, other)
    second = partner_server()
    second.secret = other.secret
    set_endpoint(other.partner, second.url)
    return (csp, first), (other, second)


def test_row_25_broadcast_first_accepted_wins(cso, two_csps) -> None:
    (_, first), (other, second) = two_csps
    first.respond = answer("UNKNOWN")
    second.respond = accept(contract("BE-DEL"))
    record = ask(cso, {"type": "RFID", "value": UID, "pin": PIN})  # a PIN is never broadcast
    assert (record.status, record.decided_by, record.csp_id) == ("ACCEPTED", "CSP", other.partner.pk)
    assert record.contract_id == contract("BE-DEL")
    settle(first, second)
    assert len(first.received) == len(second.received) == 1
    assert first.received[0].signature_ok and second.received[0].signature_ok  # each with its own secret
    assert first.received[0].body["credential"] == {"type": "RFID", "value": UID}


def test_row_25_broadcast_does_not_wait_for_the_slow_one(cso, two_csps, settings) -> None:
    settings.AUTHORIZATION_CSP_DEADLINE_SECONDS = 3.0
    (_, first), (other, second) = two_csps
    first.respond = answer("UNKNOWN", delay=2.5)
    second.respond = accept(contract("BE-DEL"))
    started = time.monotonic()
    record = ask(cso, {"type": "RFID", "value": UID})
    assert time.monotonic() - started < 2.0
    assert (record.status, record.csp_id) == ("ACCEPTED", other.partner.pk)
    settle(first, second)


def test_row_25_an_acceptance_naming_another_providers_contract_is_ignored(cso, two_csps) -> None:
    (_, first), (_, second) = two_csps
    first.respond = accept(contract("BE-DEL"))  # not its own contract
    second.respond = answer("UNKNOWN")
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.reason, record.csp_id) == ("UNKNOWN", "NO_CSP_ACCEPTED", None)
    settle(first, second)


def test_row_26_broadcast_nobody_accepts(cso, two_csps, closed_port_url) -> None:
    (_, first), (other, _) = two_csps
    first.respond = answer("UNKNOWN")
    set_endpoint(other.partner, closed_port_url)
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.decided_by, record.reason) == ("UNKNOWN", "HUB", "NO_CSP_ACCEPTED")


def test_a_question_is_asked_once(cso, csp, agreed, live_csp) -> None:
    make_credential(csp, whitelist="ALLOWED")
    live_csp.respond = accept()
    record = ask(cso, {"type": "RFID", "value": UID})
    assert services.authorization_route(authorization_id=record.pk) is False
    assert len(live_csp.received) == 1


def test_a_question_past_its_deadline_is_not_asked(cso, csp, agreed, live_csp, settings) -> None:
    settings.AUTHORIZATION_CSP_DEADLINE_SECONDS = 0.0
    make_credential(csp, whitelist="ALLOWED")
    record = ask(cso, {"type": "RFID", "value": UID})
    assert (record.status, record.reason) == ("ACCEPTED", "CSP_TIMEOUT")
    assert live_csp.received == []


def test_a_csp_that_lost_its_endpoint_meanwhile_is_unreachable(cso, csp, agreed, live_csp) -> None:
    make_credential(csp, whitelist="NEVER")
    outcome = services.authorization_request(
        cso_id=cso.partner.pk,
        cso_operator_id="DE*ACH",
        request=parse_authorization_request({"evse_id": EVSE, "credential": {"type": "RFID", "value": UID}}),
    )
    csp.partner.endpoints.all().delete()
    services.authorization_route(authorization_id=outcome.authorization_id)
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert (record.status, record.reason) == ("REJECTED", "CSP_UNREACHABLE")
