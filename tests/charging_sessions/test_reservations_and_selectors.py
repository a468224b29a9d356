"""Reservations expire and both sides are told; what settlement reads of sessions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions import selectors, services, tasks
from sessions.inputs import CommandOutcome, parse_command, parse_session
from sessions.machine import SESSION_NEXT, SessionStatus, session_move_allowed
from sessions.models import Reservation
from tests.charging_sessions.conftest import EVSE_ID, World, events_to, messages_to

pytestmark = pytest.mark.django_db


def reserve(world: World, reservation_id: str = "R-1", minutes: int = 30) -> Reservation:
    expiry = timezone.now() + timedelta(minutes=minutes)
    request = parse_command(
        {
            "type": "RESERVE_NOW",
            "evse_id": world.evse_id,
            "contract_id": world.contract_id,
            "reservation_id": reservation_id,
            "expiry": expiry.isoformat(),
        }
    )
    command = services.command_submit(csp_id=world.csp.partner.pk, request=request)
    return command.reservation


def test_an_open_reservation_past_its_expiry_expires_and_both_sides_are_told(world):
    requested = reserve(world, "R-1", minutes=10)
    accepted = reserve(world, "R-2", minutes=10)
    Reservation.objects.filter(pk=accepted.pk).update(state="ACTIVE")
    later = reserve(world, "R-3", minutes=60)

    assert services.reservations_expire_due(now=requested.expiry_date - timedelta(seconds=1)) == 0
    assert services.reservations_expire_due(now=requested.expiry_date + timedelta(minutes=1)) == 2

    states = dict(Reservation.objects.values_list("reservation_id", "state"))
    assert states == {"R-1": "EXPIRED", "R-2": "EXPIRED", "R-3": "REQUESTED"}
    assert events_to(world.csp, "CSP") == ["reservation.expired", "reservation.expired"]
    cso_messages = [m for m in messages_to(world.cso, "CSO") if m.event_type == "reservation.expired"]
    assert [m.payload["reservation"]["reservation_id"] for m in cso_messages] == ["R-1", "R-2"]
    assert cso_messages[0].path == "reservations"
    sent = cso_messages[0].payload["reservation"]
    assert (sent["state"], sent["csp"], sent["cso"], sent["evse_id"]) == (
        "EXPIRED",
        "NL-BMO",
        "DE*ACH",
        EVSE_ID,
    )
    assert later.pk and services.reservation_expire(reservation_id=later.pk) is False  # not due yet


def test_finished_reservations_never_expire(world):
    reservation = reserve(world, minutes=10)
    Reservation.objects.filter(pk=reservation.pk).update(state="CANCELLED")
    assert services.reservations_expire_due(now=timezone.now() + timedelta(days=1)) == 0
    assert Reservation.objects.get().state == "CANCELLED"


def test_the_periodic_jobs_run_the_services(world, clock):
    reserve(world, minutes=10)
    clock.advance(3600)
    assert tasks.reservations_expire() == 1
    # The RESERVE_NOW itself never went out within its deadline either.
    assert tasks.commands_time_out() == 1


def test_session_state_table():
    assert session_move_allowed("PENDING", "ACTIVE")
    assert not session_move_allowed("COMPLETED", "ACTIVE")
    assert not session_move_allowed("NONSENSE", "ACTIVE")
    assert SESSION_NEXT[SessionStatus.ACTIVE] == {"ACTIVE", "COMPLETED", "INVALID"}


# --- for settlement -------------------------------------------------------------------------------


def test_session_facts_for_settlement(world, django_assert_num_queries):
    command = services.command_submit(
        csp_id=world.csp.partner.pk,
        request=parse_command(
            {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
        ),
    )
    services.command_result_record(
        cso_id=world.cso.partner.pk, command_uid=command.uid, outcome=CommandOutcome("ACCEPTED", "")
    )
    start = timezone.now()
    for session_id, reference in (("S-1", command.authorization_reference), ("S-2", None)):
        data = {
            "id": session_id,
            "evse_id": world.evse_id,
            "connector_id": "1",
            "contract_id": world.contract_id,
            "auth_method": "WHITELIST" if reference is None else "COMMAND",
            "start_date_time": start.isoformat(),
            "end_date_time": (start + timedelta(hours=1)).isoformat(),
            "status": "COMPLETED",
            "kwh": 11.5,
            "currency": "EUR",
            "total_cost": {"excl_vat": "4.20", "incl_vat": "5.00"},
        }
        if reference:
            data["authorization_reference"] = reference
        services.session_start(cso_id=world.cso.partner.pk, fields=parse_session(data, partial=False))

    session = selectors.session_get_for(cso_id=world.cso.partner.pk, session_id="S-1")
    assert session is not None and session.csp == world.csp.partner
    assert selectors.session_get_for(cso_id=world.csp.partner.pk, session_id="S-1") is None

    with django_assert_num_queries(1):
        facts = selectors.session_facts_for(
            cso_id=world.cso.partner.pk, session_ids=["S-1", "S-2", "S-404", "S-1"]
        )
    assert set(facts) == {"S-1", "S-2"}
    one = facts["S-1"]
    assert (one.cso_id, one.csp_id, one.status) == (world.cso.partner.pk, world.csp.partner.pk, "COMPLETED")
    assert (one.contract_id, one.evse_id, one.connector_id) == (world.contract_id, EVSE_ID, "1")
    assert (one.authorization_reference, one.auth_method) == (command.authorization_reference, "COMMAND")
    assert (one.kwh, one.currency, one.total_cost_excl_vat) == (Decimal("11.5"), "EUR", Decimal("4.2"))
    assert one.end_date_time - one.start_date_time == timedelta(hours=1)
    assert one.time_zone == "Europe/Berlin" and one.agreement_id is not None
    assert facts["S-2"].authorization_reference == ""
    assert selectors.session_facts_for(cso_id=world.cso.partner.pk, session_ids=[]) == {}


# --- the hub's own cost of a state change ---------------------------------------------------------


def own_statements(run: Any) -> list[str]:
    """The SQL statements on this app's tables that `run` makes (the outbox's own are the routing's)."""
    with CaptureQueriesContext(connection) as ctx:
        run()
    return [q["sql"].split(" ", 1)[0] for q in ctx.captured_queries if "charging_sessions_" in q["sql"]]


def test_each_state_change_is_two_statements_of_its_own(world):
    command = services.command_submit(
        csp_id=world.csp.partner.pk,
        request=parse_command(
            {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
        ),
    )
    # A command's move and its read with its parties: on PostgreSQL one statement (the UPDATE in a
    # CTE), elsewhere the UPDATE and then the read.
    moved = ["WITH"] if connection.vendor == "postgresql" else ["UPDATE", "SELECT"]
    answered = own_statements(lambda: services.command_delivered(command.delivery, {"result": "ACCEPTED"}))
    assert answered == moved
    assert (
        own_statements(
            lambda: services.command_result_record(
                cso_id=world.cso.partner.pk, command_uid=command.uid, outcome=CommandOutcome("ACCEPTED", "")
            )
        )
        == moved
    )
    data = {
        "id": "S-1",
        "evse_id": world.evse_id,
        "connector_id": "1",
        "contract_id": world.contract_id,
        "authorization_reference": command.authorization_reference,
        "start_date_time": timezone.now().isoformat(),
        "currency": "EUR",
        "last_updated": "2030-01-01T00:00:00Z",
    }
    services.session_start(cso_id=world.cso.partner.pk, fields=parse_session(data, partial=False))
    update = parse_session({"kwh": 1, "last_updated": "2030-01-01T00:01:00Z"}, partial=True)
    statements = own_statements(
        lambda: services.session_update(cso_id=world.cso.partner.pk, session_id="S-1", fields=update)
    )
    assert statements == ["SELECT", "UPDATE"]
