"""Stops, remote starts, the selectors other apps use, and the overdue sweep, against the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clearinghouse.errors import ConflictError, InvalidInput, NotFoundError, RuleViolation
from credentials import selectors, services
from credentials.inputs import parse_authorization_request, parse_presented
from credentials.models import AuthorizationRecord
from tests.support import onboard

from .conftest import PASSWORD, UID, contract, make_credential, set_endpoint

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


# --- stop ------------------------------------------------------------------------------------------


@pytest.fixture
def started(cso, csp, agreed):  # type: ignore[no-untyped-def]
    card = make_credential(csp, contract_id=contract())
    outcome = authorize(cso, rfid(), session="s-1")
    assert outcome.status == "ACCEPTED"
    return card, outcome


def stop(cso, authorization_id, credential):  # type: ignore[no-untyped-def]
    return services.authorization_stop(
        cso_id=cso.partner.pk, authorization_id=authorization_id, presented=parse_presented(credential)
    )


def test_stop_with_the_same_credential(cso, started) -> None:
    _, start = started
    outcome = stop(cso, start.authorization_id, rfid("04a1b2c3d4e5f6"))
    assert (outcome.status, outcome.reason, outcome.kind) == ("ACCEPTED", "SAME_CREDENTIAL", "STOP")
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert record.start_id == start.authorization_id and record.cso_session_id == "s-1"
    assert outcome.to_json()["authorization_reference"] is None


def test_stop_with_another_credential_of_the_same_contract(cso, csp, started) -> None:
    card, start = started
    make_credential(csp, type="APP_USER", value="jane", password=PASSWORD, contract_id=card.contract_id)
    outcome = stop(cso, start.authorization_id, {"type": "APP_USER", "value": "JANE"})
    assert (outcome.status, outcome.reason) == ("ACCEPTED", "SAME_CONTRACT")


def test_stop_with_a_credential_of_another_contract(cso, csp, started) -> None:
    _, start = started
    make_credential(csp, value="04000001", contract_id=contract(instance="C00000001"))
    outcome = stop(cso, start.authorization_id, rfid("04000001"))
    assert (outcome.status, outcome.reason) == ("REJECTED", "OTHER_CONTRACT")


def test_stop_with_an_unknown_credential(cso, started) -> None:
    _, start = started
    assert stop(cso, start.authorization_id, rfid("04FFFFFF")).status == "REJECTED"


def test_stop_with_a_dynamic_qr_code_of_the_same_contract(cso, csp, started) -> None:
    card, start = started
    dyn = make_credential(csp, type="QR_DYNAMIC", contract_id=card.contract_id)
    qr = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dyn.pk)
    assert (
        stop(cso, start.authorization_id, {"type": "QR_DYNAMIC", "value": qr.code}).reason == "SAME_CONTRACT"
    )
    again = stop(cso, start.authorization_id, {"type": "QR_DYNAMIC", "value": qr.code})
    assert (again.status, again.reason) == ("REJECTED", "CODE_USED")


def test_stop_with_a_forged_or_expired_dynamic_qr_code(cso, csp, started) -> None:
    card, start = started
    dyn = make_credential(csp, type="QR_DYNAMIC", contract_id=card.contract_id)
    old = services.dynamic_qr_issue(
        csp_id=csp.partner.pk, credential_id=dyn.pk, now=timezone.now() - timedelta(minutes=10)
    )
    assert (
        stop(cso, start.authorization_id, {"type": "QR_DYNAMIC", "value": old.code}).reason == "CODE_EXPIRED"
    )
    fresh = services.dynamic_qr_issue(csp_id=csp.partner.pk, credential_id=dyn.pk)
    forged = fresh.code[:-1] + ("0" if fresh.code[-1] != "0" else "1")
    outcome = stop(cso, start.authorization_id, {"type": "QR_DYNAMIC", "value": forged})
    assert (outcome.status, outcome.reason) == ("REJECTED", "INVALID_CODE")


def test_stop_of_a_start_that_was_not_accepted(cso, csp, agreed) -> None:
    make_credential(csp, status="BLOCKED")
    start = authorize(cso, rfid())
    with pytest.raises(ConflictError):
        stop(cso, start.authorization_id, rfid())


def test_stop_of_another_csos_authorization_is_not_found(cso, started) -> None:
    _, start = started
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    with pytest.raises(NotFoundError):
        stop(other, start.authorization_id, rfid())


def test_stop_of_a_stop_is_not_found(cso, started) -> None:
    _, start = started
    first = stop(cso, start.authorization_id, rfid())
    with pytest.raises(NotFoundError):
        stop(cso, first.authorization_id, rfid())


# --- remote start and the selectors other apps use ---------------------------------------------------


def test_remote_start_record(cso, csp, agreed) -> None:
    record = services.authorization_create_for_remote_start(
        cso_id=cso.partner.pk, csp_id=csp.partner.pk, evse_id="deache1234*1", contract_id="nlbmoc12345678"
    )
    assert (record.status, record.decided_by, record.reason) == ("ACCEPTED", "CSP", "REMOTE_START")
    assert (record.contract_id, record.evse_id, record.credential_type) == (contract(), EVSE, "REMOTE")
    assert len(record.authorization_reference) == 32
    found = selectors.authorization_by_reference(
        cso_id=cso.partner.pk, reference=record.authorization_reference
    )
    assert found == record
    assert (
        selectors.authorization_by_reference(cso_id=csp.partner.pk, reference=record.authorization_reference)
        is None
    )
    custom = services.authorization_create_for_remote_start(
        cso_id=cso.partner.pk, csp_id=csp.partner.pk, evse_id=EVSE, contract_id=contract(), valid_minutes=90
    )
    assert abs((custom.valid_until - custom.created_at).total_seconds() - 90 * 60) < 1


def test_remote_start_refuses_bad_identifiers(cso, csp) -> None:
    kwargs = {"cso_id": cso.partner.pk, "csp_id": csp.partner.pk, "evse_id": EVSE, "contract_id": contract()}
    with pytest.raises(RuleViolation):
        services.authorization_create_for_remote_start(**{**kwargs, "evse_id": "DE*XYZ*E1*1"})
    with pytest.raises(InvalidInput):
        services.authorization_create_for_remote_start(**{**kwargs, "contract_id": "nonsense"})
    with pytest.raises(InvalidInput):
        services.authorization_create_for_remote_start(**kwargs, valid_minutes=0)
    with pytest.raises(NotFoundError):
        services.authorization_create_for_remote_start(**{**kwargs, "cso_id": csp.partner.pk})


def test_remote_start_can_be_stopped_with_a_credential_of_the_contract(cso, csp, agreed) -> None:
    record = services.authorization_create_for_remote_start(
        cso_id=cso.partner.pk, csp_id=csp.partner.pk, evse_id=EVSE, contract_id=contract()
    )
    make_credential(csp, contract_id=contract())
    assert stop(cso, record.pk, rfid()).reason == "SAME_CONTRACT"


def test_credential_owner(cso, csp) -> None:
    make_credential(csp, contract_id=contract())
    owner = selectors.credential_owner(contract_id=contract())
    assert owner is not None and (owner.csp_id, owner.hub_issued) == (csp.partner.pk, False)
    assert selectors.credential_owner(contract_id=contract("NL-ZZZ")) is None


def test_credentials_for_whitelist(cso, csp, agreed) -> None:
    cacheable = make_credential(csp, value="04000001", whitelist="ALLOWED")
    make_credential(csp, value="04000002", whitelist="NEVER")
    make_credential(csp, value="04000003", status="BLOCKED")
    stranger = onboard(name="Stranger", country="BE", party="STR", roles=["CSP"])
    make_credential(stranger, value="04000004")
    now = timezone.now()
    make_credential(csp, value="04000005", valid_until=now - timedelta(days=1))  # expired by date
    make_credential(csp, value="04000006", valid_from=now + timedelta(days=1))  # not yet valid
    assert list(selectors.credentials_for_whitelist(cso_id=cso.partner.pk)) == [cacheable]


# --- the overdue sweep -------------------------------------------------------------------------------


@pytest.mark.parametrize(("whitelist", "status"), [("ALLOWED", "ACCEPTED"), ("NEVER", "REJECTED")])
def test_overdue_questions_get_the_fallback(cso, csp, agreed, whitelist, status) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    make_credential(csp, whitelist=whitelist)
    outcome = authorize(cso, rfid())
    assert services.authorizations_expire_overdue() == 0  # not overdue yet
    later = timezone.now() + timedelta(minutes=5)
    assert services.authorizations_expire_overdue(now=later) == 1
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert (record.status, record.reason, record.decided_by) == (status, "CSP_TIMEOUT", "HUB")
    assert record.pending_credential == ""
    # a worker that wakes up late finds the question decided and asks nobody
    assert services.authorization_route(authorization_id=record.pk) is False


def test_overdue_broadcast_is_unknown(cso, csp, agreed) -> None:
    set_endpoint(csp.partner, "https://csp.example/i3")
    outcome = authorize(cso, rfid())
    services.authorizations_expire_overdue(now=timezone.now() + timedelta(minutes=5))
    record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
    assert (record.status, record.reason) == ("UNKNOWN", "CSP_TIMEOUT")


def test_batch_selectors(cso, csp, agreed) -> None:
    make_credential(csp, contract_id=contract())
    from credentials.models import IssuedContract

    IssuedContract.objects.create(contract_id=contract("DE-HUB"), csp=csp.partner)
    owners = selectors.credential_owners(contract_ids=[contract(), contract("DE-HUB"), contract("NL-ZZZ")])
    assert owners[contract()].csp_id == csp.partner.pk and not owners[contract()].hub_issued
    assert owners[contract("DE-HUB")].hub_issued and contract("NL-ZZZ") not in owners
    assert selectors.credential_owners(contract_ids=[]) == {}
    accepted = authorize(cso, rfid())
    record = AuthorizationRecord.objects.get(pk=accepted.authorization_id)
    found = selectors.authorizations_by_reference(
        cso_id=cso.partner.pk, references=[record.authorization_reference, "0" * 32, ""]
    )
    assert list(found) == [record.authorization_reference]
    assert (
        selectors.authorizations_by_reference(
            cso_id=csp.partner.pk, references=[record.authorization_reference]
        )
        == {}
    )
