"""Remote commands in the services: every check of a submission, every move of the state machine."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse.errors import ConflictError, InvalidTransition, NotFoundError, RuleViolation
from clearinghouse.routing.models import OutboxMessage
from credentials.models import AuthorizationRecord
from partners import services as partner_services
from partners.models import RoamingAgreement
from sessions import services
from sessions.inputs import CommandOutcome, parse_command, parse_session
from sessions.models import RemoteCommand, Reservation
from tests.charging_sessions.conftest import (
    EVSE_ID,
    World,
    contract_id,
    events_to,
    messages_to,
    upload_credential,
)
from tests.support import onboard

pytestmark = pytest.mark.django_db


def submit(world: World, **body: Any) -> RemoteCommand:
    return services.command_submit(csp_id=world.csp.partner.pk, request=parse_command(body))


def start(world: World, **extra: Any) -> RemoteCommand:
    body = {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id, **extra}
    return submit(world, **{k: v for k, v in body.items() if v is not None})


def reserve(world: World, reservation_id: str = "R-1", minutes: int = 30, **extra: Any) -> RemoteCommand:
    expiry = (timezone.now() + timedelta(minutes=minutes)).isoformat()
    return submit(
        world,
        type="RESERVE_NOW",
        evse_id=world.evse_id,
        contract_id=world.contract_id,
        reservation_id=reservation_id,
        expiry=expiry,
        **extra,
    )


def refused(exc_type: type, func: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(exc_type) as info:
        func(*args, **kwargs)
    return info.value


def state(command: RemoteCommand) -> RemoteCommand:
    command.refresh_from_db()
    return command


def answer(command: RemoteCommand, body: Any) -> RemoteCommand:
    """The CSO answered the command's delivery with `body`."""
    services.command_delivered(state(command).delivery, body)
    return state(command)


def report(world: World, command: RemoteCommand, result: str, message: str = "") -> RemoteCommand:
    return services.command_result_record(
        cso_id=world.cso.partner.pk, command_uid=command.uid, outcome=CommandOutcome(result, message)
    )


# --- submitting -----------------------------------------------------------------------------------


def test_start_session_is_written_with_its_delivery_and_an_authorization(world, settings):
    command = start(world, connector_id="2", authorization_reference="csp-ref-9")

    assert command.state == "PENDING"
    assert (command.csp, command.cso) == (world.csp.partner, world.cso.partner)
    assert (command.evse_id, command.connector_id, command.contract_id) == (EVSE_ID, "2", world.contract_id)
    assert command.csp_reference == "csp-ref-9"
    assert (
        command.deadline_at == command.created_at + timedelta(seconds=90)
        or command.deadline_at > timezone.now()
    )

    record = AuthorizationRecord.objects.get(authorization_reference=command.authorization_reference)
    assert (record.status, record.decided_by, record.reason) == ("ACCEPTED", "CSP", "REMOTE_START")
    assert (record.cso_id, record.csp_id, record.evse_id) == (
        world.cso.partner.pk,
        world.csp.partner.pk,
        EVSE_ID,
    )
    assert record.valid_until - record.created_at == timedelta(
        minutes=settings.AUTHORIZATION_VALIDITY_MINUTES
    )

    [message] = messages_to(world.cso, "CSO")
    assert command.delivery == message
    assert (message.event_type, message.path) == ("command.start_session", "commands")
    assert message.max_attempts == settings.COMMAND_DELIVERY_MAX_ATTEMPTS
    assert message.payload == {
        "command_id": str(command.uid),
        "type": "START_SESSION",
        "csp": "NL-BMO",
        "response_url": f"https://hub.example/api/i3/v1/commands/{command.uid}/result",
        "timeout": 60,
        "evse_id": EVSE_ID,
        "location_id": "LOC-1",
        "evse_uid": "E100-1",
        "connector_id": "2",
        "contract_id": world.contract_id,
        "authorization_reference": command.authorization_reference,
    }
    assert events_to(world.csp, "CSP") == []  # the CSP hears of it when the CSO answers


def test_a_contract_of_another_csp_is_refused(world, endpoints):
    other = onboard(name="Other CSP", country="FR", party="OTH", roles=["CSP"])
    theirs = contract_id(provider="FR-OTH")
    upload_credential(other, theirs, uid="04A1B2C3D4E5F7")
    error = refused(RuleViolation, start, world, contract_id=theirs)
    assert error.code == "contract_not_owned"
    # Unknown to the hub: the provider ID decides.
    assert (
        refused(RuleViolation, start, world, contract_id=contract_id("C99999999", "FR-OTH")).code
        == "contract_not_owned"
    )
    assert start(world, contract_id=contract_id("C99999999")).state == "PENDING"
    assert RemoteCommand.objects.count() == 1


@pytest.mark.parametrize(
    ("evse_id", "connector_id", "code"),
    [
        ("FR*ZZZ*E1", "", "unknown_evse"),  # no such operator
        ("DE*ACH*E999", "", "unknown_evse"),  # the operator published no such EVSE
        (EVSE_ID, "9", "unknown_connector"),
    ],
)
def test_unknown_evses_and_connectors_are_refused(world, evse_id, connector_id, code):
    error = refused(RuleViolation, start, world, evse_id=evse_id, connector_id=connector_id or None)
    assert error.code == code
    assert not RemoteCommand.objects.exists()
    assert not AuthorizationRecord.objects.exists()
    assert messages_to(world.cso, "CSO") == []


def test_without_an_agreement_in_force_nothing_is_sent(world):
    RoamingAgreement.objects.update(status=RoamingAgreement.Status.SUSPENDED)
    assert refused(RuleViolation, start, world).code == "no_agreement"
    RoamingAgreement.objects.update(status=RoamingAgreement.Status.ACTIVE, valid_until=timezone.now())
    assert refused(RuleViolation, start, world).code == "no_agreement"
    assert not RemoteCommand.objects.exists() and not AuthorizationRecord.objects.exists()


def test_mixed_mode_is_refused_naming_the_csos_direct_endpoint(world):
    RoamingAgreement.objects.update(mode=RoamingAgreement.Mode.MIXED)
    error = refused(ConflictError, start, world)
    assert error.code == "mixed_mode_direct"
    assert error.details == {"cso": "DE*ACH", "mode": "MIXED", "direct_endpoint": world.cso_endpoint.url}
    assert world.cso_endpoint.url in error.message
    partner_services.endpoints_replace(partner=world.cso.partner, endpoints=[])
    error = refused(ConflictError, start, world)
    assert error.details["direct_endpoint"] is None
    assert "GET /partners/" in error.message
    assert not RemoteCommand.objects.exists() and not OutboxMessage.objects.exists()


def test_a_cso_without_an_endpoint_gets_nothing_and_nothing_is_kept(world):
    partner_services.endpoints_replace(partner=world.cso.partner, endpoints=[])
    assert refused(RuleViolation, start, world).code == "cso_unreachable"
    assert refused(RuleViolation, reserve, world).code == "cso_unreachable"
    assert not RemoteCommand.objects.exists()
    assert not AuthorizationRecord.objects.exists()
    assert not Reservation.objects.exists()


def test_unlock_connector_is_routed(world):
    command = submit(world, type="UNLOCK_CONNECTOR", evse_id=world.evse_id, connector_id="1")
    assert command.authorization_reference == ""
    payload = command.delivery.payload
    assert (payload["type"], payload["evse_id"], payload["connector_id"]) == (
        "UNLOCK_CONNECTOR",
        EVSE_ID,
        "1",
    )
    assert command.delivery.event_type == "command.unlock_connector"


# --- STOP_SESSION ---------------------------------------------------------------------------------


def session_of(world: World, session_id: str = "S-1", **extra: Any) -> Any:
    body = {
        "id": session_id,
        "evse_id": world.evse_id,
        "connector_id": "1",
        "contract_id": world.contract_id,
        "auth_method": "WHITELIST",
        "start_date_time": timezone.now().isoformat(),
        "currency": "EUR",
        **extra,
    }
    return services.session_start(
        cso_id=world.cso.partner.pk, fields=parse_session(body, partial=False)
    ).session


def test_stop_session_goes_to_the_cso_of_the_session(world):
    session_of(world)
    command = submit(world, type="STOP_SESSION", session_id="S-1")
    assert command.cso == world.cso.partner
    assert (command.session_id, command.evse_id, command.connector_id) == ("S-1", EVSE_ID, "1")
    payload = command.delivery.payload
    assert (payload["type"], payload["session_id"]) == ("STOP_SESSION", "S-1")
    assert "authorization_reference" not in payload


def test_stop_session_of_an_unknown_session(world):
    assert (
        refused(RuleViolation, submit, world, type="STOP_SESSION", session_id="S-404").code
        == "unknown_session"
    )
    # Named with its operator, it goes there: the CSO answers UNKNOWN_SESSION if it must.
    command = submit(world, type="STOP_SESSION", session_id="S-404", operator_id="DE*ACH")
    assert command.cso == world.cso.partner
    error = refused(
        RuleViolation, submit, world, type="STOP_SESSION", session_id="S-404", operator_id="FR*ZZZ"
    )
    assert error.code == "unknown_session"


def test_stop_session_of_a_finished_session_is_refused(world):
    session_of(
        world,
        start_date_time="2024-05-01T10:00:00Z",
        end_date_time="2024-05-01T11:00:00Z",
        status="COMPLETED",
    )
    assert (
        refused(RuleViolation, submit, world, type="STOP_SESSION", session_id="S-1").code
        == "session_not_active"
    )


def test_stop_session_with_an_ambiguous_id_asks_for_the_operator(world, endpoints):
    from tests.charging_sessions.conftest import location_doc, publish_location

    second = onboard(name="Second CSO", country="DE", party="SEC", roles=["CSO"], endpoint=endpoints().url)
    partner_services.agreement_create(cso=second.partner, csp=world.csp.partner)
    publish_location(
        second, location_doc(country="DE", party="SEC", location_id="L", evses=[("1", "DE*SEC*E1", ["1"])])
    )
    session_of(world)
    body = {
        "id": "S-1",
        "evse_id": "DE*SEC*E1",
        "connector_id": "1",
        "contract_id": world.contract_id,
        "auth_method": "WHITELIST",
        "start_date_time": timezone.now().isoformat(),
        "currency": "EUR",
    }
    services.session_start(cso_id=second.partner.pk, fields=parse_session(body, partial=False))
    error = refused(ConflictError, submit, world, type="STOP_SESSION", session_id="S-1")
    assert (error.code, error.details) == ("ambiguous_session_id", {"operators": ["DE*ACH", "DE*SEC"]})
    command = submit(world, type="STOP_SESSION", session_id="S-1", operator_id="DE*SEC")
    assert command.cso == second.partner


# --- RESERVE_NOW and CANCEL_RESERVATION -----------------------------------------------------------


def test_reserve_now_opens_a_reservation_with_an_authorization_until_its_expiry(world):
    command = reserve(world, minutes=120)
    reservation = command.reservation
    assert reservation.state == "REQUESTED"
    assert (reservation.reservation_id, reservation.evse_id, reservation.contract_id) == (
        "R-1",
        EVSE_ID,
        world.contract_id,
    )
    assert reservation.authorization_reference == command.authorization_reference
    record = AuthorizationRecord.objects.get(authorization_reference=command.authorization_reference)
    assert record.valid_until >= reservation.expiry_date
    payload = command.delivery.payload
    assert (payload["type"], payload["reservation_id"]) == ("RESERVE_NOW", "R-1")
    assert payload["expiry_date"].endswith("Z")
    assert command.delivery.event_type == "command.reserve_now"


def test_reservation_expiry_must_be_ahead_and_not_too_far(world, settings):
    assert refused(RuleViolation, reserve, world, minutes=-1).code == "expiry_in_past"
    settings.RESERVATION_MAX_MINUTES = 60
    assert refused(RuleViolation, reserve, world, minutes=61).code == "expiry_too_far"
    assert not Reservation.objects.exists() and not AuthorizationRecord.objects.exists()


def test_an_open_reservation_id_cannot_be_reused_until_it_ends(world):
    first = reserve(world)
    error = refused(ConflictError, reserve, world)
    assert (error.code, error.details) == ("reservation_exists", {"reservation_id": "R-1"})
    assert Reservation.objects.count() == 1 and RemoteCommand.objects.count() == 1
    answer(first, {"result": "REJECTED"})
    assert reserve(world).reservation.state == "REQUESTED"


def test_cancel_reservation_needs_an_open_reservation_of_the_csp(world):
    error = refused(RuleViolation, submit, world, type="CANCEL_RESERVATION", reservation_id="R-1")
    assert error.code == "unknown_reservation"
    reservation = reserve(world).reservation
    cancel = submit(world, type="CANCEL_RESERVATION", reservation_id="R-1")
    assert cancel.reservation == reservation and cancel.cso == world.cso.partner
    assert cancel.delivery.payload["reservation_id"] == "R-1"
    assert "expiry_date" not in cancel.delivery.payload


# --- the CSO's answer to the delivery -------------------------------------------------------------


def test_accepted_waits_for_the_outcome_within_the_csos_timeout(world):
    command = answer(start(world), {"result": "ACCEPTED", "timeout": 20})
    assert (command.state, command.response, command.response_timeout) == ("ACCEPTED", "ACCEPTED", 20)
    assert command.deadline_at == command.sent_at + timedelta(seconds=20 + 30)
    assert command.finished_at is None
    [message] = messages_to(world.csp, "CSP")
    assert (message.event_type, message.path) == ("command.response", "commands/results")
    assert message.payload["event"] == "command.response"
    assert message.payload["command"]["state"] == "ACCEPTED"


@pytest.mark.parametrize("response", ["REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION"])
def test_a_refusal_at_once_ends_the_command(world, response):
    command = answer(start(world), {"result": response, "message": "no"})
    assert (command.state, command.response, command.message) == (response, response, "no")
    assert command.finished_at is not None
    assert events_to(world.csp, "CSP") == ["command.response"]
    assert refused(InvalidTransition, report, world, command, "ACCEPTED").code == "invalid_transition"


def test_an_unreadable_answer_leaves_the_command_sent(world, settings):
    command = answer(start(world), {"status": "OK"})
    assert (command.state, command.response) == ("SENT", "")
    assert command.deadline_at == command.sent_at + timedelta(seconds=60 + 30)
    assert events_to(world.csp, "CSP") == ["command.response"]
    assert report(world, command, "ACCEPTED").state == "RESULT"


def test_an_absurd_timeout_is_bounded(world, settings):
    settings.COMMAND_MAX_TIMEOUT_SECONDS = 120
    command = answer(start(world), {"result": "ACCEPTED", "timeout": 10**12})
    assert command.response_timeout == 120
    assert command.deadline_at == command.sent_at + timedelta(seconds=120 + 30)


def test_an_outcome_before_the_answer_keeps_the_outcome(world):
    command = start(world)
    assert report(world, command, "ACCEPTED").state == "RESULT"
    command = answer(command, {"result": "ACCEPTED", "timeout": 20})
    assert (command.state, command.result, command.response) == ("RESULT", "ACCEPTED", "ACCEPTED")
    assert command.sent_at is not None
    assert events_to(world.csp, "CSP") == ["command.result"]


def test_a_dead_delivery_fails_the_command_with_the_reason(world):
    command = reserve(world)
    message = command.delivery
    message.last_error = "partner answered HTTP 503: down"
    services.command_delivery_dead(message)
    command = state(command)
    assert command.state == "FAILED"
    assert command.failure_reason == "not delivered to the CSO: partner answered HTTP 503: down"
    assert command.reservation.state == "FAILED"
    [message] = messages_to(world.csp, "CSP")
    assert message.event_type == "command.failed"
    assert message.payload["command"]["failure_reason"].endswith("down")
    # A second report of the same death changes nothing.
    services.command_delivery_dead(command.delivery)
    assert events_to(world.csp, "CSP") == ["command.failed"]


def test_hooks_ignore_messages_that_name_no_command(world):
    message = start(world).delivery
    message.payload = {"command_id": "not-a-uuid"}
    services.command_delivered(message, {"result": "ACCEPTED"})
    services.command_delivery_dead(message)
    assert RemoteCommand.objects.get().state == "PENDING"


# --- the outcome ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["PENDING", "SENT", "ACCEPTED"])
def test_an_outcome_finishes_a_waiting_command(world, source):
    command = start(world)
    RemoteCommand.objects.filter(pk=command.pk).update(state=source)
    command = report(world, command, "EVSE_OCCUPIED", "occupied")
    assert (command.state, command.result, command.message) == ("RESULT", "EVSE_OCCUPIED", "occupied")
    assert command.finished_at is not None
    [message] = messages_to(world.csp, "CSP")
    assert message.event_type == "command.result"
    assert message.payload["command"]["result"] == "EVSE_OCCUPIED"


def test_the_same_outcome_twice_is_answered_alike_and_told_once(world):
    command = answer(start(world), {"result": "ACCEPTED"})
    report(world, command, "ACCEPTED")
    again = report(world, command, "ACCEPTED")
    assert again.state == "RESULT"
    assert events_to(world.csp, "CSP") == ["command.response", "command.result"]
    error = refused(InvalidTransition, report, world, command, "FAILED")
    assert error.details == {"state": "RESULT"}


@pytest.mark.parametrize("final", ["REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION", "TIMEOUT", "FAILED"])
def test_finished_commands_take_no_outcome(world, final):
    command = start(world)
    RemoteCommand.objects.filter(pk=command.pk).update(state=final)
    assert refused(InvalidTransition, report, world, command, "ACCEPTED").code == "invalid_transition"
    assert state(command).state == final


def test_only_the_target_cso_reports_an_outcome(world, endpoints):
    command = start(world)
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    for cso_id, uid in (
        (other.partner.pk, command.uid),
        (world.cso.partner.pk, "8a7d4c1e-0000-4000-8000-000000000000"),
    ):
        with pytest.raises(NotFoundError):
            services.command_result_record(
                cso_id=cso_id, command_uid=uid, outcome=CommandOutcome("ACCEPTED", "")
            )
    with pytest.raises(NotFoundError):
        services.command_result_record(
            cso_id=world.cso.partner.pk, command_uid="nope", outcome=CommandOutcome("ACCEPTED", "")
        )
    assert state(command).state == "PENDING"


@pytest.mark.parametrize(
    ("result", "reservation_state"),
    [
        ("ACCEPTED", "ACTIVE"),
        ("EVSE_OCCUPIED", "REJECTED"),
        ("REJECTED", "REJECTED"),
        ("TIMEOUT", "REJECTED"),
    ],
)
def test_reserve_now_outcomes_move_the_reservation(world, result, reservation_state):
    command = answer(reserve(world), {"result": "ACCEPTED"})
    assert report(world, command, result).reservation.state == reservation_state
    assert Reservation.objects.get().state == reservation_state


def test_a_reservation_refused_at_once_is_rejected(world):
    command = answer(reserve(world), {"result": "NOT_SUPPORTED"})
    assert command.reservation.state == "REJECTED"


@pytest.mark.parametrize(
    ("result", "reservation_state"),
    [
        ("CANCELED_RESERVATION", "CANCELLED"),
        ("ACCEPTED", "CANCELLED"),
        ("UNKNOWN_RESERVATION", "CANCELLED"),
        ("REJECTED", "ACTIVE"),
    ],
)
def test_cancel_reservation_outcomes(world, result, reservation_state):
    report(world, answer(reserve(world), {"result": "ACCEPTED"}), "ACCEPTED")
    cancel = answer(submit(world, type="CANCEL_RESERVATION", reservation_id="R-1"), {"result": "ACCEPTED"})
    report(world, cancel, result)
    assert Reservation.objects.get().state == reservation_state


# --- giving up ------------------------------------------------------------------------------------


def test_no_outcome_before_the_deadline_times_the_command_out(world):
    command = answer(start(world), {"result": "ACCEPTED", "timeout": 20})
    deadline = command.deadline_at
    assert services.commands_time_out_overdue(now=deadline - timedelta(seconds=1)) == 0
    assert services.commands_time_out_overdue(now=deadline + timedelta(seconds=1)) == 1
    command = state(command)
    assert command.state == "TIMEOUT" and command.finished_at is not None
    assert events_to(world.csp, "CSP") == ["command.response", "command.timeout"]
    assert services.commands_time_out_overdue(now=deadline + timedelta(hours=1)) == 0
    assert refused(InvalidTransition, report, world, command, "ACCEPTED").code == "invalid_transition"


def test_a_sent_command_times_out_too_and_its_reservation_fails(world):
    command = answer(reserve(world), {"result": "ACCEPTED"})
    services.commands_time_out_overdue(now=command.deadline_at + timedelta(seconds=1))
    assert state(command).state == "TIMEOUT"
    assert Reservation.objects.get().state == "FAILED"


def test_a_command_never_delivered_by_its_deadline_fails_and_its_delivery_is_cancelled(world):
    command = start(world)
    assert services.commands_time_out_overdue(now=command.deadline_at + timedelta(seconds=1)) == 1
    command = state(command)
    assert (command.state, command.failure_reason) == (
        "FAILED",
        "not delivered to the CSO before its deadline",
    )
    assert command.delivery.state == OutboxMessage.State.CANCELLED
    assert events_to(world.csp, "CSP") == ["command.failed"]


def test_finished_commands_are_never_timed_out(world):
    command = start(world)
    report(world, command, "ACCEPTED")
    assert services.command_time_out(command_id=command.pk, now=timezone.now() + timedelta(days=1)) is False
    assert state(command).state == "RESULT"
