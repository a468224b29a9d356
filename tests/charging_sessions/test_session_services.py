"""Sessions in the services: every rule of a start, every move of an update, what the CSP is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse.errors import ConflictError, InvalidTransition, NotFoundError, RuleViolation
from credentials import services as credential_services
from partners import services as partner_services
from partners.models import RoamingAgreement
from sessions import services
from sessions.inputs import parse_command, parse_session
from sessions.models import ChargingSession, Reservation
from tests.charging_sessions.conftest import (
    EVSE_ID,
    OTHER_EVSE_ID,
    World,
    authorize,
    contract_id,
    events_to,
    messages_to,
    upload_credential,
)
from tests.support import onboard

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def body(world: World, **overrides: Any) -> dict[str, Any]:
    data = {
        "id": "S-1",
        "evse_id": world.evse_id,
        "connector_id": "1",
        "contract_id": world.contract_id,
        "auth_method": "WHITELIST",
        "start_date_time": iso(T0),
        "currency": "EUR",
        "last_updated": iso(T0),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def start(world: World, **overrides: Any) -> services.SessionChange:
    fields = parse_session(body(world, **overrides), partial=False)
    return services.session_start(cso_id=world.cso.partner.pk, fields=fields)


def update(world: World, session_id: str = "S-1", **data: Any) -> services.SessionChange:
    fields = parse_session(data, partial=True)
    return services.session_update(cso_id=world.cso.partner.pk, session_id=session_id, fields=fields)


def refused(exc_type: type, func: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(exc_type) as info:
        func(*args, **kwargs)
    return info.value


def remote_start(world: World) -> Any:
    request = parse_command(
        {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
    )
    return services.command_submit(csp_id=world.csp.partner.pk, request=request)


# --- starting -------------------------------------------------------------------------------------


def test_a_whitelist_start_is_recorded_and_told_to_the_csp(world):
    change = start(world, meter_id="M-7", kwh=0.5)
    session = change.session
    assert change.changed
    assert (session.cso, session.csp) == (world.cso.partner, world.csp.partner)
    # The session started (T0) before the agreement was made: no agreement covered it.
    assert session.agreement is None
    assert (session.status, session.auth_method, session.authorization_reference) == (
        "ACTIVE",
        "WHITELIST",
        "",
    )
    assert (session.evse_id, session.location_id, session.evse_uid) == (EVSE_ID, "LOC-1", "E100-1")
    assert (session.connector_id, session.time_zone, session.meter_id) == ("1", "Europe/Berlin", "M-7")
    assert session.kwh == Decimal("0.5") and session.last_updated == T0
    [message] = messages_to(world.csp, "CSP")
    assert (message.event_type, message.path) == ("session.started", "sessions")
    assert message.payload["event"] == "session.started"
    sent = message.payload["session"]
    assert (sent["id"], sent["status"], sent["cso"], sent["csp"]) == ("S-1", "ACTIVE", "DE*ACH", "NL-BMO")
    assert sent["cdr_token"]["contract_id"] == world.contract_id
    assert messages_to(world.cso, "CSO") == []


def test_a_start_quoting_a_remote_start_authorization(world):
    command = remote_start(world)
    session = start(world, auth_method=None, authorization_reference=command.authorization_reference).session
    assert (session.auth_method, session.authorization_reference) == (
        "COMMAND",
        command.authorization_reference,
    )
    assert session.csp == world.csp.partner


def test_a_start_quoting_a_real_time_authorization(world):
    outcome = authorize(world)
    assert outcome.status == "ACCEPTED"
    session = start(world, auth_method=None, authorization_reference=outcome.authorization_reference).session
    assert session.auth_method == "AUTH_REQUEST"


def test_a_start_may_name_its_evse_the_ocpi_way(world):
    session = start(world, evse_id=None, location_id="LOC-1", evse_uid="E100-2").session
    assert (session.evse_id, session.evse_uid) == (OTHER_EVSE_ID, "E100-2")
    error = refused(RuleViolation, start, world, id="S-2", location_id="LOC-1", evse_uid="E100-2")
    assert error.code == "evse_mismatch"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"evse_id": "DE*ACH*E999"}, "unknown_evse"),
        ({"evse_id": None, "location_id": "LOC-1", "evse_uid": "nope"}, "unknown_evse"),
        ({"evse_id": None, "location_id": "LOC-404", "evse_uid": "E100-1"}, "unknown_evse"),
        ({"connector_id": "3"}, "unknown_connector"),
        ({"country_code": "NL"}, "party_mismatch"),
        ({"party_id": "XXX"}, "party_mismatch"),
        ({"auth_method": "AUTH_REQUEST"}, "authorization_required"),
        ({"auth_method": None}, "authorization_required"),
        ({"contract_id": contract_id("C77777777")}, "unknown_contract"),
        ({"authorization_reference": "f" * 32, "auth_method": None}, "unknown_authorization"),
        ({"status": "COMPLETED"}, "end_required"),
    ],
)
def test_starts_breaking_a_rule_are_refused_and_nothing_is_kept(world, overrides, code):
    assert refused(RuleViolation, start, world, **overrides).code == code
    assert not ChargingSession.objects.exists()
    assert messages_to(world.csp, "CSP") == []


def test_an_evse_of_another_cso_is_unknown_to_this_one(world, endpoints):
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    fields = parse_session(body(world), partial=False)
    assert (
        refused(RuleViolation, services.session_start, cso_id=other.partner.pk, fields=fields).code
        == "unknown_evse"
    )


def test_whitelist_needs_a_policy_that_allows_it_and_an_agreement(world):
    never = contract_id("C00000002")
    upload_credential(world.csp, never, whitelist="NEVER", uid="04A1B2C3D4E5F8")
    assert refused(RuleViolation, start, world, contract_id=never).code == "whitelist_not_allowed"
    RoamingAgreement.objects.update(status=RoamingAgreement.Status.SUSPENDED)
    assert refused(RuleViolation, start, world).code == "whitelist_not_allowed"


def test_an_authorization_of_another_cso_is_unknown(world, endpoints):
    command = remote_start(world)
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    partner_services.agreement_create(cso=other.partner, csp=world.csp.partner)
    from tests.charging_sessions.conftest import location_doc, publish_location

    publish_location(
        other, location_doc(country="DE", party="OTH", location_id="L", evses=[("1", "DE*OTH*E1", ["1"])])
    )
    fields = parse_session(
        body(
            world,
            evse_id="DE*OTH*E1",
            auth_method=None,
            authorization_reference=command.authorization_reference,
        ),
        partial=False,
    )
    error = refused(RuleViolation, services.session_start, cso_id=other.partner.pk, fields=fields)
    assert error.code == "unknown_authorization"


def test_an_authorization_that_was_not_accepted_is_refused(world):
    credential_services.credentials_block(credential_ids=[c.pk for c in world.csp.partner.credentials.all()])
    outcome = authorize(world)
    assert outcome.status == "BLOCKED"
    error = refused(
        RuleViolation, start, world, auth_method=None, authorization_reference=outcome.authorization_reference
    )
    assert error.code == "authorization_not_accepted"


def test_an_authorization_for_another_contract_is_refused(world):
    command = remote_start(world)
    other_contract = contract_id("C00000003")
    upload_credential(world.csp, other_contract, uid="04A1B2C3D4E5F9")
    error = refused(
        RuleViolation,
        start,
        world,
        contract_id=other_contract,
        auth_method=None,
        authorization_reference=command.authorization_reference,
    )
    assert error.code == "authorization_contract_mismatch"


def test_a_session_started_after_its_authorization_expired_is_refused(world):
    command = remote_start(world)
    late = timezone.now() + timedelta(minutes=16)
    error = refused(
        RuleViolation,
        start,
        world,
        start_date_time=iso(late),
        auth_method=None,
        authorization_reference=command.authorization_reference,
    )
    assert error.code == "authorization_expired"


def test_one_authorization_starts_one_session(world):
    command = remote_start(world)
    reference = command.authorization_reference
    start(world, auth_method=None, authorization_reference=reference)
    error = refused(
        ConflictError, start, world, id="S-2", auth_method=None, authorization_reference=reference
    )
    assert error.code == "authorization_used"
    assert ChargingSession.objects.count() == 1


def test_a_repeated_start_is_answered_with_the_stored_session(world):
    first = start(world)
    again = start(world, kwh=3, status="PENDING")
    assert not again.changed and again.session.pk == first.session.pk
    assert again.session.kwh == 0 and again.session.status == "ACTIVE"
    assert events_to(world.csp, "CSP") == ["session.started"]
    error = refused(ConflictError, start, world, evse_id=OTHER_EVSE_ID)
    assert (error.code, error.details) == ("session_exists", {"id": "S-1"})


def test_a_start_reported_finished_is_told_as_started_and_ended(world):
    session = start(world, status="COMPLETED", end_date_time=iso(T0 + timedelta(hours=1)), kwh=12).session
    assert session.status == "COMPLETED"
    assert events_to(world.csp, "CSP") == ["session.started", "session.ended"]


def test_a_start_uses_up_the_reservation_it_quotes(world):
    expiry = timezone.now() + timedelta(minutes=30)
    request = parse_command(
        {
            "type": "RESERVE_NOW",
            "evse_id": world.evse_id,
            "contract_id": world.contract_id,
            "reservation_id": "R-1",
            "expiry": iso(expiry),
        }
    )
    command = services.command_submit(csp_id=world.csp.partner.pk, request=request)
    start(
        world,
        start_date_time=iso(timezone.now()),
        auth_method=None,
        authorization_reference=command.authorization_reference,
    )
    assert Reservation.objects.get().state == "USED"


def test_an_own_contract_is_not_roaming(db, endpoints):
    from tests.charging_sessions.conftest import location_doc, publish_location

    both = onboard(name="Gamma", country="FR", party="GRO", roles=["CSO", "CSP"], endpoint=endpoints().url)
    publish_location(
        both, location_doc(country="FR", party="GRO", location_id="L", evses=[("1", "FR*GRO*E1", ["1"])])
    )
    own = contract_id(provider="FR-GRO")
    upload_credential(both, own)
    data = {
        "id": "S-1",
        "evse_id": "FR*GRO*E1",
        "connector_id": "1",
        "contract_id": own,
        "auth_method": "WHITELIST",
        "start_date_time": iso(T0),
        "currency": "EUR",
    }
    # The whitelist needs an agreement, and nobody has one with itself.
    error = refused(
        RuleViolation,
        services.session_start,
        cso_id=both.partner.pk,
        fields=parse_session(data, partial=False),
    )
    assert error.code == "whitelist_not_allowed"


# --- updating -------------------------------------------------------------------------------------


def test_a_progress_update_changes_what_it_names_and_appends_periods(world, clock):
    start(world, status="PENDING")
    period = {"start_date_time": iso(T0), "dimensions": [{"type": "ENERGY", "volume": 1.5}]}
    change = update(
        world,
        status="ACTIVE",
        kwh=1.5,
        charging_periods=[period],
        last_updated=iso(T0 + timedelta(minutes=1)),
    )
    assert change.changed
    session = ChargingSession.objects.get()
    assert (session.status, session.kwh, session.last_updated) == (
        "ACTIVE",
        Decimal("1.5"),
        T0 + timedelta(minutes=1),
    )
    second = {
        "start_date_time": iso(T0 + timedelta(minutes=1)),
        "dimensions": [{"type": "ENERGY", "volume": 2}],
    }
    update(
        world,
        charging_periods=[second],
        total_cost={"excl_vat": 0.8},
        last_updated=iso(T0 + timedelta(minutes=2)),
    )
    session.refresh_from_db()
    assert [p["dimensions"][0]["volume"] for p in session.charging_periods] == [1.5, 2]
    assert session.total_cost_excl_vat == Decimal("0.8") and session.total_cost_incl_vat is None
    assert session.kwh == Decimal("1.5")  # not named, not changed
    update(world, total_cost=None, last_updated=iso(T0 + timedelta(minutes=3)))
    session.refresh_from_db()
    assert session.total_cost_excl_vat is None


def test_an_update_not_newer_than_the_stored_one_is_ignored(world):
    start(world)
    for moment in (T0, T0 - timedelta(seconds=1)):
        change = update(
            world,
            kwh=9,
            status="COMPLETED",
            end_date_time=iso(T0 + timedelta(hours=1)),
            last_updated=iso(moment),
        )
        assert not change.changed
    session = ChargingSession.objects.get()
    assert (session.status, session.kwh) == ("ACTIVE", 0)
    assert events_to(world.csp, "CSP") == ["session.started"]


@pytest.mark.parametrize(
    ("start_status", "target", "allowed"),
    [
        ("PENDING", "PENDING", True),
        ("PENDING", "ACTIVE", True),
        ("PENDING", "COMPLETED", True),
        ("PENDING", "INVALID", True),
        ("ACTIVE", "ACTIVE", True),
        ("ACTIVE", "COMPLETED", True),
        ("ACTIVE", "INVALID", True),
        ("ACTIVE", "PENDING", False),
    ],
)
def test_status_moves(world, start_status, target, allowed):
    start(world, status=start_status)
    data = {
        "status": target,
        "end_date_time": iso(T0 + timedelta(hours=1)),
        "last_updated": iso(T0 + timedelta(hours=1)),
    }
    if allowed:
        assert update(world, **data).session.status == target
    else:
        error = refused(InvalidTransition, update, world, **data)
        assert (error.code, error.details) == ("invalid_transition", {"from": start_status, "to": target})
        assert ChargingSession.objects.get().status == start_status


@pytest.mark.parametrize("final", ["COMPLETED", "INVALID"])
def test_a_finished_session_takes_no_more_updates(world, final):
    start(world, status=final, end_date_time=iso(T0 + timedelta(hours=1)))
    for status in ("ACTIVE", "PENDING", final):
        error = refused(
            InvalidTransition, update, world, status=status, last_updated=iso(T0 + timedelta(hours=2))
        )
        assert error.code == "session_final"
    error = refused(InvalidTransition, update, world, kwh=3, last_updated=iso(T0 + timedelta(hours=2)))
    assert error.details == {"status": final}


def test_completing_needs_an_end_after_the_start(world):
    start(world)
    later = iso(T0 + timedelta(hours=1))
    assert (
        refused(RuleViolation, update, world, status="COMPLETED", last_updated=later).code == "end_required"
    )
    error = refused(
        RuleViolation,
        update,
        world,
        end_date_time=iso(T0 - timedelta(hours=1)),  # before the stored start
        last_updated=later,
    )
    assert error.code == "invalid_period"
    assert update(world, status="INVALID", last_updated=later).session.status == "INVALID"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"id": "S-2"}, "id"),
        ({"evse_id": OTHER_EVSE_ID}, "evse_id"),
        ({"location_id": "LOC-2"}, "location_id"),
        ({"evse_uid": "E100-2"}, "evse_uid"),
        ({"connector_id": "2"}, "connector_id"),
        ({"contract_id": "NL-BMO-C00000002"}, "contract_id"),
        ({"auth_method": "COMMAND"}, "auth_method"),
        ({"authorization_reference": "abc"}, "authorization_reference"),
        ({"currency": "USD"}, "currency"),
        ({"country_code": "BE"}, "country_code"),
    ],
)
def test_what_a_start_fixed_cannot_change(world, data, field):
    start(world)
    error = refused(RuleViolation, update, world, last_updated=iso(T0 + timedelta(minutes=1)), **data)
    assert (error.code, error.details) == (
        "field_immutable" if field != "country_code" else "party_mismatch",
        {"field": field},
    )


def test_repeating_what_a_start_fixed_is_fine(world):
    start(world)
    change = update(
        world,
        id="S-1",
        evse_id=world.evse_id,
        location_id="LOC-1",
        connector_id="1",
        contract_id=world.contract_id,
        currency="EUR",
        country_code="DE",
        party_id="ACH",
        last_updated=iso(T0 + timedelta(minutes=1)),
    )
    assert change.changed


def test_too_many_charging_periods_are_refused(world, monkeypatch):
    from sessions.services import charging

    monkeypatch.setattr(charging, "MAX_CHARGING_PERIODS", 2)
    start(world)
    period = {"start_date_time": iso(T0), "dimensions": [{"type": "TIME", "volume": 1}]}
    update(world, charging_periods=[period, period], last_updated=iso(T0 + timedelta(minutes=1)))
    error = refused(
        RuleViolation, update, world, charging_periods=[period], last_updated=iso(T0 + timedelta(minutes=2))
    )
    assert error.code == "too_many_periods"
    assert len(ChargingSession.objects.get().charging_periods) == 2


def test_only_the_sessions_cso_updates_it(world):
    start(world)
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    fields = parse_session({"kwh": 3, "last_updated": iso(T0 + timedelta(minutes=1))}, partial=True)
    for cso_id, session_id in ((other.partner.pk, "S-1"), (world.cso.partner.pk, "S-404")):
        error = refused(
            NotFoundError, services.session_update, cso_id=cso_id, session_id=session_id, fields=fields
        )
        assert error.code == "session_not_found"
    assert ChargingSession.objects.get().kwh == 0


# --- what the CSP is told -------------------------------------------------------------------------


def test_progress_reaches_the_csp_at_most_every_interval_unless_the_status_changes(world, clock, settings):
    settings.SESSION_PROGRESS_MIN_INTERVAL_SECONDS = 300
    start(world, status="PENDING")
    moment = T0

    def progress(**data: Any) -> None:
        nonlocal moment
        moment += timedelta(seconds=1)
        update(world, last_updated=iso(moment), **data)

    progress(kwh=1)  # within the interval after the start: kept, not sent
    progress(status="ACTIVE")  # a status change is always sent
    progress(kwh=2)
    clock.advance(299)
    progress(kwh=3)
    clock.advance(1)
    progress(kwh=4)  # the interval has passed
    progress(kwh=5)
    progress(status="COMPLETED", end_date_time=iso(T0 + timedelta(hours=1)), kwh=6)
    assert events_to(world.csp, "CSP") == [
        "session.started",
        "session.progress",
        "session.progress",
        "session.ended",
    ]
    sent = [m.payload["session"] for m in messages_to(world.csp, "CSP")]
    assert [(s["status"], s["kwh"]) for s in sent] == [
        ("PENDING", 0),
        ("ACTIVE", 1),
        ("ACTIVE", 4),
        ("COMPLETED", 6),
    ]


def test_each_session_is_throttled_on_its_own(world, settings):
    start(world)
    start(world, id="S-2", evse_id=OTHER_EVSE_ID)
    update(world, "S-1", kwh=1, last_updated=iso(T0 + timedelta(seconds=1)))
    update(world, "S-2", status="ACTIVE", kwh=1, last_updated=iso(T0 + timedelta(seconds=1)))
    assert events_to(world.csp, "CSP") == ["session.started", "session.started"]
    settings.SESSION_PROGRESS_MIN_INTERVAL_SECONDS = 0
    update(world, "S-1", kwh=2, last_updated=iso(T0 + timedelta(seconds=2)))
    assert events_to(world.csp, "CSP")[-1] == "session.progress"


def test_a_csp_without_an_endpoint_is_told_nothing_and_pulls(world):
    partner_services.endpoints_replace(partner=world.csp.partner, endpoints=[])
    start(world)
    assert messages_to(world.csp, "CSP") == []
    assert ChargingSession.objects.count() == 1
