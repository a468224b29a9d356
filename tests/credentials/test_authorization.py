"""The authorization services against the database: every row of docs/authorization.md that the hub
decides from its own data, and the query budget of that path.

Rows that need a CSP to answer are in test_routing_live.py.
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from clearinghouse.errors import NotFoundError, RuleViolation
from credentials import services
from credentials.inputs import parse_authorization_request
from credentials.models import AuthorizationRecord, DynamicQrUse
from partners import services as partner_services
from partners.models import RoamingAgreement
from tests.support import onboard

from .conftest import FINGERPRINT, PASSWORD, PIN, UID, agree, contract, make_credential, set_endpoint

pytestmark = pytest.mark.django_db

EVSE = "DE*ACH*E1234*1"


def authorize(cso, credential, evse=EVSE, session=None):  # type: ignore[no-untyped-def]
    body = {"evse_id": evse, "credential": credential}
    if session:
        body["cso_session_id"] = session
    return services.authorization_request(
        cso_id=cso.partner.pk,
        cso_operator_id=cso.partner.operator_id,
        request=parse_authorization_request(body),
    )


def rfid(uid=UID, **extra):  # type: ignore[no-untyped-def]
    return {"type": "RFID", "value": uid, **extra}


# --- rule 1 ----------------------------------------------------------------------------------------


def test_row_1_malformed_evse_is_422_and_nothing_recorded(cso, csp, agreed) -> None:
    make_credential(csp)
    with pytest.raises(RuleViolation) as info:
        authorize(cso, rfid(), evse="DE*ACH*X1")
    assert info.value.code == "invalid_evse_id"
    assert not AuthorizationRecord.objects.exists()


def test_row_2_evse_of_another_operator_is_422(cso, csp, agreed) -> None:
    make_credential(csp)
    with pytest.raises(RuleViolation) as info:
        authorize(cso, rfid(), evse="DE*XYZ*E1234*1")
    assert info.value.code == "evse_not_yours"
    assert not AuthorizationRecord.objects.exists()


def test_evse_id_is_recorded_in_canonical_form(cso, csp, agreed) -> None:
    make_credential(csp)
    outcome = authorize(cso, rfid(), evse="deache1234*1")
    assert outcome.evse_id == EVSE


# --- rule 3: known credentials ---------------------------------------------------------------------


def test_row_14_whitelist_always_is_accepted_by_the_hub(cso, csp, agreed) -> None:
    credential = make_credential(csp, whitelist="ALWAYS")
    outcome = authorize(cso, rfid("04:a1:b2:c3:d4:e5:f6"), session="cso-42")
    assert (outcome.status, outcome.reason, outcome.decided_by) == ("ACCEPTED", "WHITELIST_ALWAYS", "HUB")
    assert outcome.contract_id == credential.contract_id and outcome.csp == "NL-BMO"
    body = outcome.to_json()
    assert len(body["authorization_reference"]) == 32 and body["valid_until"].endswith("Z")
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert (record.cso_id, record.csp_id, record.credential_id) == (
        cso.partner.pk,
        csp.partner.pk,
        credential.pk,
    )
    assert (record.credential_hint, record.cso_session_id, record.kind) == ("…E5F6", "cso-42", "START")
    assert record.latency_ms is not None and record.decided_at is not None
    expected = record.created_at + timedelta(minutes=settings.AUTHORIZATION_VALIDITY_MINUTES)
    assert abs((record.valid_until - expected).total_seconds()) < 1


def test_accepted_validity_is_capped_by_the_credential(cso, csp, agreed) -> None:
    until = timezone.now() + timedelta(minutes=2)
    make_credential(csp, valid_until=until)
    outcome = authorize(cso, rfid())
    assert outcome.status == "ACCEPTED" and outcome.valid_until == until


def test_row_6_blocked(cso, csp, agreed) -> None:
    make_credential(csp, status="BLOCKED")
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason, outcome.decided_by) == ("BLOCKED", "CREDENTIAL_BLOCKED", "HUB")
    assert outcome.to_json()["authorization_reference"] is None


@pytest.mark.parametrize("stored", [{"status": "EXPIRED"}, {"valid_until": "past"}])
def test_row_7_expired(cso, csp, agreed, stored) -> None:
    if stored.get("valid_until") == "past":
        stored = {"valid_until": timezone.now() - timedelta(seconds=1)}
    make_credential(csp, **stored)
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason) == ("EXPIRED", "CREDENTIAL_EXPIRED")


def test_row_8_not_yet_valid(cso, csp, agreed) -> None:
    make_credential(csp, valid_from=timezone.now() + timedelta(hours=1))
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason) == ("REJECTED", "NOT_YET_VALID")


def test_row_9_no_agreement(cso, csp) -> None:
    make_credential(csp)
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason, outcome.decided_by) == ("NO_AGREEMENT", "NO_AGREEMENT", "HUB")
    assert outcome.csp == "NL-BMO"


def test_row_9_suspended_agreement(cso, csp, agreed) -> None:
    make_credential(csp)
    partner_services.agreement_set_status(agreement=agreed, status=RoamingAgreement.Status.SUSPENDED)
    assert authorize(cso, rfid()).status == "NO_AGREEMENT"


def test_row_9_agreement_not_yet_in_force(cso, csp) -> None:
    agree(cso, csp, valid_from=timezone.now() + timedelta(days=1))
    make_credential(csp)
    assert authorize(cso, rfid()).status == "NO_AGREEMENT"


def test_row_9_suspended_csp(cso, csp, agreed) -> None:
    make_credential(csp)
    partner_services.partner_suspend(partner=csp.partner)
    assert authorize(cso, rfid()).status == "NO_AGREEMENT"


@pytest.mark.parametrize(("pin", "status"), [(PIN, "ACCEPTED"), ("000000", "REJECTED"), (None, "REJECTED")])
def test_row_10_pin(cso, csp, agreed, pin, status) -> None:
    cid = contract()
    make_credential(csp, type="QR_STATIC", contract_id=cid, pin=PIN)
    credential = {"type": "QR_STATIC", "value": cid}
    if pin:
        credential["pin"] = pin
    outcome = authorize(cso, credential)
    assert outcome.status == status
    if status == "REJECTED":
        assert outcome.reason == "INVALID_PIN"


def test_row_10_no_pin_stored_needs_none(cso, csp, agreed) -> None:
    cid = contract()
    make_credential(csp, type="QR_STATIC", contract_id=cid)
    assert authorize(cso, {"type": "QR_STATIC", "value": cid, "pin": "9999"}).status == "ACCEPTED"


@pytest.mark.parametrize(
    ("password", "status"), [(PASSWORD, "ACCEPTED"), ("wrong password", "REJECTED"), (None, "REJECTED")]
)
def test_row_11_password(cso, csp, agreed, password, status) -> None:
    make_credential(csp, type="APP_USER", value="Jane.Doe", password=PASSWORD)
    credential = {"type": "APP_USER", "value": "jane.doe"}
    if password:
        credential["password"] = password
    outcome = authorize(cso, credential)
    assert outcome.status == status
    if status == "REJECTED":
        assert outcome.reason == "INVALID_PASSWORD"


@pytest.mark.parametrize(
    ("fingerprint", "status"),
    [(FINGERPRINT.upper(), "ACCEPTED"), ("cd" * 32, "REJECTED"), (None, "REJECTED")],
)
def test_row_12_certificate_fingerprint(cso, csp, agreed, fingerprint, status) -> None:
    cid = contract()
    make_credential(csp, type="PNC", contract_id=cid, fingerprint=FINGERPRINT)
    credential = {"type": "PNC", "value": cid}
    if fingerprint:
        credential["certificate_fingerprint"] = fingerprint
    outcome = authorize(cso, credential)
    assert outcome.status == status
    if status == "REJECTED":
        assert outcome.reason == "INVALID_CERTIFICATE"


def test_row_13_hub_issued_is_accepted_by_the_hub(cso, csp, agreed, partner_server) -> None:
    server = partner_server()
    set_endpoint(csp.partner, server.url)  # a real-time endpoint changes nothing for hub-issued ones
    cid = contract("DE-HUB")
    make_credential(csp, type="REMOTE", contract_id=cid, issuer="HUB", whitelist="NEVER")
    outcome = authorize(cso, {"type": "REMOTE", "value": cid})
    assert (outcome.status, outcome.reason, outcome.decided_by) == ("ACCEPTED", "HUB_ISSUED", "HUB")
    assert outcome.csp == "NL-BMO" and server.received == []


@pytest.mark.parametrize("whitelist", ["ALLOWED", "ALLOWED_OFFLINE", "NEVER"])
def test_row_15_routed_when_the_csp_has_a_realtime_endpoint(cso, csp, agreed, whitelist) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    credential = make_credential(csp, whitelist=whitelist)
    outcome = authorize(cso, rfid())
    assert outcome.pending and outcome.decided_by == "" and outcome.to_json()["status"] == "PENDING"
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert record.routed_to == [csp.partner.pk] and record.csp_id == csp.partner.pk
    assert record.credential_id == credential.pk and record.whitelist == whitelist
    assert record.deadline_at == record.created_at + timedelta(
        seconds=settings.AUTHORIZATION_CSP_DEADLINE_SECONDS
    )
    assert record.pending_credential and UID not in record.pending_credential  # encrypted
    assert record.decided_at is None and record.latency_ms is None


@pytest.mark.parametrize("whitelist", ["ALLOWED", "ALLOWED_OFFLINE"])
def test_row_18_no_realtime_endpoint_accepted(cso, csp, agreed, whitelist) -> None:
    make_credential(csp, whitelist=whitelist)
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason, outcome.decided_by) == ("ACCEPTED", "NO_REALTIME_ENDPOINT", "HUB")


def test_row_19_never_without_realtime_endpoint_rejected(cso, csp, agreed) -> None:
    make_credential(csp, whitelist="NEVER")
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason) == ("REJECTED", "NO_REALTIME_ENDPOINT")


def test_inactive_endpoint_is_no_realtime_endpoint(cso, csp, agreed) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    csp.partner.endpoints.update(active=False)
    make_credential(csp, whitelist="ALLOWED")
    assert authorize(cso, rfid()).reason == "NO_REALTIME_ENDPOINT"


# --- rule 2: dynamic QR codes ----------------------------------------------------------------------


@pytest.fixture
def dynamic(cso, csp, agreed):  # type: ignore[no-untyped-def]
    return make_credential(csp, type="QR_DYNAMIC", contract_id=contract("DE-HUB"), issuer="HUB")


def test_dynamic_qr_accepted_once(cso, csp, dynamic) -> None:
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    first = authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code})
    assert (first.status, first.reason, first.contract_id) == ("ACCEPTED", "HUB_ISSUED", dynamic.contract_id)
    assert AuthorizationRecord.objects.get(pk=first.authorization_id).credential_id == dynamic.pk


def test_row_5_dynamic_qr_used_twice(cso, csp, dynamic) -> None:
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    assert authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code}).status == "ACCEPTED"
    second = authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code})
    assert (second.status, second.reason) == ("REJECTED", "CODE_USED")
    assert DynamicQrUse.objects.count() == 1
    # a fresh code of the same credential works
    fresh = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    assert authorize(cso, {"type": "QR_DYNAMIC", "value": fresh.code}).status == "ACCEPTED"


def test_row_4_dynamic_qr_expired(cso, csp, dynamic) -> None:
    issued_at = timezone.now()
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk, now=issued_at)
    later = issued_at + timedelta(seconds=settings.DYNAMIC_QR_TTL_SECONDS + 1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        outcome = authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code})
    assert (outcome.status, outcome.reason) == ("EXPIRED", "CODE_EXPIRED")
    assert not DynamicQrUse.objects.exists()  # an expired code is not spent


def test_row_4_dynamic_qr_valid_until_its_expiry(cso, csp, dynamic) -> None:
    issued_at = timezone.now()
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk, now=issued_at)
    almost = issued_at + timedelta(seconds=settings.DYNAMIC_QR_TTL_SECONDS - 2)
    with mock.patch("django.utils.timezone.now", return_value=almost):
        assert authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code}).status == "ACCEPTED"


def test_row_3_dynamic_qr_forged(cso, csp, dynamic) -> None:
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    forged = qr.code[:-1] + ("0" if qr.code[-1] != "0" else "1")
    outcome = authorize(cso, {"type": "QR_DYNAMIC", "value": forged})
    assert (outcome.status, outcome.reason) == ("UNKNOWN", "INVALID_CODE")


def test_row_27_dynamic_qr_of_a_removed_credential(cso, csp, dynamic) -> None:
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    dynamic.delete()
    outcome = authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code})
    assert (outcome.status, outcome.reason) == ("UNKNOWN", "INVALID_CODE")


def test_dynamic_qr_of_a_blocked_credential(cso, csp, dynamic) -> None:
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    services.credentials_block(credential_ids=[dynamic.pk])
    assert authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code}).status == "BLOCKED"


def test_dynamic_qr_needs_a_valid_dynamic_credential(cso, csp, dynamic) -> None:
    other = make_credential(csp)
    with pytest.raises(RuleViolation):
        services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=other.pk)
    with pytest.raises(NotFoundError):
        services.dynamic_qr_issue(csp_id=cso.partner.pk, credential_id=dynamic.pk)
    services.credentials_block(credential_ids=[dynamic.pk])
    with pytest.raises(RuleViolation):
        services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)


def test_used_codes_are_purged_after_expiry(cso, csp, dynamic) -> None:
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dynamic.pk)
    authorize(cso, {"type": "QR_DYNAMIC", "value": qr.code})
    assert services.dynamic_qr_uses_purge() == 0
    assert services.dynamic_qr_uses_purge(now=timezone.now() + timedelta(hours=1)) == 1


# --- rule 4: unknown credentials decided by the hub --------------------------------------------------


@pytest.mark.parametrize("kind", ["QR_STATIC", "PNC", "REMOTE"])
def test_row_20_contract_naming_no_partner(cso, csp, agreed, kind) -> None:
    outcome = authorize(cso, {"type": kind, "value": contract("NL-ZZZ")})
    assert (outcome.status, outcome.reason, outcome.csp) == ("UNKNOWN", "UNKNOWN_CREDENTIAL", "")
    assert outcome.contract_id == contract("NL-ZZZ")


def test_row_20_contract_under_the_hubs_own_provider(cso, csp, agreed) -> None:
    outcome = authorize(
        cso, {"type": "REMOTE", "value": contract(f"{settings.HUB_COUNTRY_CODE}-{settings.HUB_PARTY_ID}")}
    )
    assert (outcome.status, outcome.reason) == ("UNKNOWN", "UNKNOWN_CREDENTIAL")


def test_row_20_contract_naming_a_cso_only_partner(cso, csp, agreed) -> None:
    assert authorize(cso, {"type": "REMOTE", "value": contract("DE-ACH")}).status == "UNKNOWN"


def test_row_21_contract_naming_a_csp_without_agreement(cso, csp) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    outcome = authorize(cso, {"type": "PNC", "value": contract(), "certificate_fingerprint": FINGERPRINT})
    assert (outcome.status, outcome.csp) == ("NO_AGREEMENT", "NL-BMO")


def test_row_22_contract_naming_a_csp_without_realtime_endpoint(cso, csp, agreed) -> None:
    outcome = authorize(cso, {"type": "QR_STATIC", "value": contract()})
    assert (outcome.status, outcome.reason) == ("UNKNOWN", "UNKNOWN_CREDENTIAL")


def test_row_23_contract_naming_a_csp_to_ask_is_pending(cso, csp, agreed) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    outcome = authorize(cso, {"type": "QR_STATIC", "value": contract(), "pin": PIN})
    assert outcome.pending
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert record.routed_to == [csp.partner.pk] and record.credential_id is None
    assert PIN not in record.pending_credential


def test_row_24_unknown_rfid_without_candidates(cso, csp, agreed) -> None:
    outcome = authorize(cso, rfid())
    assert (outcome.status, outcome.reason, outcome.csp) == ("UNKNOWN", "UNKNOWN_CREDENTIAL", "")


def test_row_25_unknown_rfid_candidates_are_csps_in_agreement_with_realtime_endpoints(
    cso, csp, agreed
) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    second = onboard(
        name="Delta", country="BE", party="DEL", roles=["CSP"], endpoint="https://delta.example/i3"
    )
    agree(cso, second)
    onboard(
        name="Epsilon", country="AT", party="EPS", roles=["CSP"], endpoint="https://eps.example/i3"
    )  # no agreement
    no_endpoint = onboard(name="Zeta", country="IT", party="ZET", roles=["CSP"])
    agree(cso, no_endpoint)
    outcome = authorize(cso, rfid())
    assert outcome.pending
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert record.routed_to == sorted([csp.partner.pk, second.partner.pk]) and record.csp_id is None


def test_row_27_unknown_app_user(cso, csp, agreed) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    outcome = authorize(cso, {"type": "APP_USER", "value": "nobody", "password": "whatever"})
    assert (outcome.status, outcome.reason) == ("UNKNOWN", "UNKNOWN_CREDENTIAL")


def test_a_credential_of_a_partner_with_both_roles_at_its_own_evse(both) -> None:
    make_credential(both, contract_id=contract("FR-GRO"))
    outcome = services.authorization_request(
        cso_id=both.partner.pk,
        cso_operator_id="FR*GRO",
        request=parse_authorization_request({"evse_id": "FR*GRO*E1*1", "credential": rfid()}),
    )
    assert outcome.status == "NO_AGREEMENT"  # a partner roams with others, not with itself


# --- the query budget of the hub's own path ----------------------------------------------------------


def test_hub_decision_costs_one_statement_on_postgresql(
    cso, csp, agreed, django_assert_max_num_queries
) -> None:
    from django.db import connection

    make_credential(csp, whitelist="ALWAYS")
    request = parse_authorization_request({"evse_id": EVSE, "credential": rfid()})
    with django_assert_max_num_queries(2) as captured:
        outcome = services.authorization_request(
            cso_id=cso.partner.pk, cso_operator_id=cso.partner.operator_id, request=request
        )
    assert outcome.status == "ACCEPTED"
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    # The facts and the record in one statement on PostgreSQL; a SELECT and an INSERT elsewhere.
    assert statements == (["WITH"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"])


def test_unknown_credential_costs_at_most_three(cso, csp, agreed, django_assert_max_num_queries) -> None:
    request = parse_authorization_request({"evse_id": EVSE, "credential": rfid()})
    with django_assert_max_num_queries(3):
        services.authorization_request(cso_id=cso.partner.pk, cso_operator_id="DE*ACH", request=request)
