"""End to end against live CSO and CSP endpoints on 127.0.0.1, with real commits: remote start,
stop, reservation and cancel in clearing house mode with every outcome, timeouts, dead deliveries,
mixed mode, duplicates, and a whole session flowing to the CSP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from clearinghouse.routing.tasks import routing_sweep
from partners.models import RoamingAgreement
from partners.services import endpoints_replace
from sessions import tasks
from sessions.models import RemoteCommand, Reservation
from tests.charging_sessions.conftest import EVSE_ID, World, verify_signed
from tests.support import error_code


def send(world: World, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    r = world.csp.client.post("/commands/", body, **kwargs)
    assert r.status_code == 201, r.content
    return r.json()


def start_session(world: World, **extra: Any) -> dict[str, Any]:
    return send(
        world, {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id, **extra}
    )


def report(world: World, command_id: str, result: str) -> Any:
    return world.cso.client.post(f"/commands/{command_id}/result", {"result": result})


def state_of(world: World, command_id: str) -> str:
    return world.csp.client.get(f"/commands/{command_id}").json()["state"]


def iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- remote start ---------------------------------------------------------------------------------


def test_remote_start_goes_to_the_cso_and_every_answer_to_the_csp(live_world):
    world = live_world
    command = start_session(world, connector_id="2")

    [delivered] = world.cso_endpoint.requests
    assert delivered.path == "/i3/commands"
    assert delivered.event_type == "command.start_session"
    assert verify_signed(world.cso, delivered)
    sent = delivered.json()
    assert (sent["command_id"], sent["type"], sent["evse_id"], sent["connector_id"]) == (
        command["id"],
        "START_SESSION",
        EVSE_ID,
        "2",
    )
    assert (sent["location_id"], sent["evse_uid"], sent["contract_id"]) == (
        "LOC-1",
        "E100-1",
        world.contract_id,
    )
    assert sent["authorization_reference"] == command["authorization_reference"]
    assert sent["response_url"] == f"https://hub.example/api/i3/v1/commands/{command['id']}/result"

    # The CSO accepted at once (its endpoint's default answer); the CSP was told.
    assert state_of(world, command["id"]) == "ACCEPTED"
    assert world.csp_endpoint.events() == ["command.response"]
    told = world.csp_endpoint.requests[0]
    assert told.path == "/i3/commands/results" and verify_signed(world.csp, told)
    assert told.json()["command"]["response"] == "ACCEPTED"
    assert told.json()["command"]["timeout"] == 30

    r = report(world, command["id"], "ACCEPTED")
    assert r.status_code == 200 and r.json()["state"] == "RESULT"
    assert world.csp_endpoint.events() == ["command.response", "command.result"]
    assert world.csp_endpoint.last("command.result")["command"]["result"] == "ACCEPTED"

    # The session that follows quotes the authorization and reaches the CSP too.
    r = world.cso.client.post(
        "/sessions/",
        {
            "id": "S-1",
            "evse_id": world.evse_id,
            "connector_id": "2",
            "contract_id": world.contract_id,
            "authorization_reference": command["authorization_reference"],
            "start_date_time": iso(timezone.now()),
            "currency": "EUR",
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["auth_method"] == "COMMAND"
    assert world.csp_endpoint.events()[-1] == "session.started"
    assert len(world.cso_endpoint.requests) == 1


def test_remote_start_refused_by_the_cso_at_once(live_world):
    world = live_world
    for response in ("REJECTED", "NOT_SUPPORTED"):
        world.cso_endpoint.answer((200, {"result": response, "message": [{"language": "en", "text": "no"}]}))
        command = start_session(world)
        assert state_of(world, command["id"]) == response
        told = world.csp_endpoint.last("command.response")["command"]
        assert (told["id"], told["state"], told["message"]) == (command["id"], response, "no")
        r = report(world, command["id"], "ACCEPTED")
        assert r.status_code == 409 and error_code(r) == "invalid_transition"


def test_remote_start_outcomes_reach_the_csp(live_world):
    world = live_world
    for result in ("EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED", "REJECTED", "TIMEOUT"):
        command = start_session(world)
        assert report(world, command["id"], result).status_code == 200
        told = world.csp_endpoint.last("command.result")["command"]
        assert (told["id"], told["state"], told["result"]) == (command["id"], "RESULT", result)


def test_an_answer_the_hub_cannot_read_still_waits_for_the_outcome(live_world):
    world = live_world
    world.cso_endpoint.answer((200, None))
    command = start_session(world)
    assert state_of(world, command["id"]) == "SENT"
    assert report(world, command["id"], "ACCEPTED").json()["state"] == "RESULT"


# --- timeouts and deliveries that die -------------------------------------------------------------


def test_no_outcome_in_time_ends_in_timeout_by_the_periodic_job(live_world, clock):
    world = live_world
    world.cso_endpoint.answer((200, {"result": "ACCEPTED", "timeout": 10}))
    command = start_session(world)
    clock.advance(10 + 30 - 1)
    assert tasks.commands_time_out() == 0
    clock.advance(2)
    assert tasks.commands_time_out() == 1
    assert state_of(world, command["id"]) == "TIMEOUT"
    assert world.csp_endpoint.events() == ["command.response", "command.timeout"]
    assert world.csp_endpoint.last("command.timeout")["command"]["finished_at"].endswith("Z")
    r = report(world, command["id"], "ACCEPTED")
    assert r.status_code == 409


def test_a_delivery_that_dies_fails_the_command_with_the_reason(live_world, settings):
    world = live_world
    settings.COMMAND_DELIVERY_MAX_ATTEMPTS = 1
    world.cso_endpoint.answer((503, {"error": "maintenance"}))
    command = start_session(world)
    assert len(world.cso_endpoint.requests) == 1
    body = world.csp.client.get(f"/commands/{command['id']}").json()
    assert body["state"] == "FAILED"
    assert "HTTP 503" in body["failure_reason"]
    assert world.csp_endpoint.events() == ["command.failed"]
    assert "HTTP 503" in world.csp_endpoint.last("command.failed")["command"]["failure_reason"]


def test_a_refused_delivery_is_not_retried(live_world):
    world = live_world
    world.cso_endpoint.answer((404, None))
    command = start_session(world)
    assert state_of(world, command["id"]) == "FAILED"
    assert len(world.cso_endpoint.requests) == 1
    assert world.csp_endpoint.events() == ["command.failed"]


def test_an_unreachable_cso_fails_the_command(live_world, settings):
    world = live_world
    settings.COMMAND_DELIVERY_MAX_ATTEMPTS = 1
    endpoints_replace(partner=world.cso.partner, endpoints=[{"role": "CSO", "url": "http://127.0.0.1:9/i3"}])
    command = start_session(world)
    body = world.csp.client.get(f"/commands/{command['id']}").json()
    assert body["state"] == "FAILED" and "connection failed" in body["failure_reason"]


def test_a_retried_delivery_that_succeeds_later_moves_on(live_world, clock):
    world = live_world
    world.cso_endpoint.answer((503, None))
    command = start_session(world)
    assert state_of(world, command["id"]) == "PENDING"
    clock.advance(60)
    routing_sweep()
    assert len(world.cso_endpoint.requests) == 2
    assert state_of(world, command["id"]) == "ACCEPTED"


# --- mixed mode and duplicates --------------------------------------------------------------------


def test_mixed_mode_is_refused_with_the_direct_endpoint_and_nothing_is_sent(live_world):
    world = live_world
    RoamingAgreement.objects.update(mode=RoamingAgreement.Mode.MIXED)
    r = world.csp.client.post(
        "/commands/", {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
    )
    assert r.status_code == 409 and error_code(r) == "mixed_mode_direct"
    assert r.json()["error"]["details"]["direct_endpoint"] == world.cso_endpoint.url
    assert world.cso_endpoint.url in r.json()["error"]["message"]
    assert world.cso_endpoint.requests == [] and world.csp_endpoint.requests == []


def test_a_duplicate_command_reaches_the_cso_once(live_world):
    world = live_world
    body = {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
    first = send(world, body, headers={"Idempotency-Key": "start-42"})
    second = send(world, body, headers={"Idempotency-Key": "start-42"})
    assert first["id"] == second["id"]
    assert len(world.cso_endpoint.requests) == 1
    assert RemoteCommand.objects.count() == 1


# --- stop, reserve, cancel, unlock ----------------------------------------------------------------


def test_remote_stop_of_a_running_session(live_world):
    world = live_world
    r = world.cso.client.post(
        "/sessions/",
        {
            "id": "S-9",
            "evse_id": world.evse_id,
            "connector_id": "1",
            "contract_id": world.contract_id,
            "auth_method": "WHITELIST",
            "start_date_time": iso(timezone.now()),
            "currency": "EUR",
        },
    )
    assert r.status_code == 201
    command = send(world, {"type": "STOP_SESSION", "session_id": "S-9"})
    sent = world.cso_endpoint.requests[-1].json()
    assert (sent["type"], sent["session_id"], sent["evse_id"]) == ("STOP_SESSION", "S-9", EVSE_ID)
    assert report(world, command["id"], "ACCEPTED").json()["state"] == "RESULT"
    assert world.csp_endpoint.events()[-2:] == ["command.response", "command.result"]


def test_remote_stop_of_a_session_the_cso_does_not_know(live_world):
    world = live_world
    world.cso_endpoint.answer((200, {"result": "UNKNOWN_SESSION"}))
    command = send(world, {"type": "STOP_SESSION", "session_id": "S-404", "operator_id": "DE*ACH"})
    assert state_of(world, command["id"]) == "UNKNOWN_SESSION"
    assert world.csp_endpoint.last("command.response")["command"]["response"] == "UNKNOWN_SESSION"


def test_reserve_then_cancel(live_world):
    world = live_world
    expiry = iso(timezone.now() + timedelta(minutes=30))
    reserve = send(
        world,
        {
            "type": "RESERVE_NOW",
            "evse_id": world.evse_id,
            "contract_id": world.contract_id,
            "reservation_id": "R-1",
            "expiry": expiry,
        },
    )
    sent = world.cso_endpoint.requests[-1].json()
    assert (sent["type"], sent["reservation_id"], sent["expiry_date"]) == ("RESERVE_NOW", "R-1", expiry)
    assert sent["authorization_reference"] == reserve["authorization_reference"]
    assert report(world, reserve["id"], "ACCEPTED").status_code == 200
    assert Reservation.objects.get().state == "ACTIVE"

    cancel = send(world, {"type": "CANCEL_RESERVATION", "reservation_id": "R-1"})
    sent = world.cso_endpoint.requests[-1].json()
    assert (sent["type"], sent["reservation_id"]) == ("CANCEL_RESERVATION", "R-1")
    assert report(world, cancel["id"], "CANCELED_RESERVATION").status_code == 200
    assert Reservation.objects.get().state == "CANCELLED"
    assert world.csp_endpoint.events() == ["command.response", "command.result"] * 2
    assert world.csp_endpoint.last("command.result")["command"]["reservation_id"] == "R-1"


def test_a_reservation_the_cso_cannot_make(live_world):
    world = live_world
    for n, result in enumerate(("EVSE_OCCUPIED", "REJECTED")):
        reserve = send(
            world,
            {
                "type": "RESERVE_NOW",
                "evse_id": world.evse_id,
                "contract_id": world.contract_id,
                "reservation_id": f"R-{n}",
                "expiry": iso(timezone.now() + timedelta(minutes=30)),
            },
        )
        report(world, reserve["id"], result)
        assert Reservation.objects.get(reservation_id=f"R-{n}").state == "REJECTED"
    world.cso_endpoint.answer((200, {"result": "NOT_SUPPORTED"}))
    reserve = send(
        world,
        {
            "type": "RESERVE_NOW",
            "evse_id": world.evse_id,
            "contract_id": world.contract_id,
            "reservation_id": "R-9",
            "expiry": iso(timezone.now() + timedelta(minutes=30)),
        },
    )
    assert state_of(world, reserve["id"]) == "NOT_SUPPORTED"
    assert Reservation.objects.get(reservation_id="R-9").state == "REJECTED"


def test_a_reservation_past_its_expiry_is_expired_and_both_sides_are_told(live_world, clock):
    world = live_world
    reserve = send(
        world,
        {
            "type": "RESERVE_NOW",
            "evse_id": world.evse_id,
            "contract_id": world.contract_id,
            "reservation_id": "R-1",
            "expiry": iso(timezone.now() + timedelta(minutes=20)),
        },
    )
    report(world, reserve["id"], "ACCEPTED")
    clock.advance(20 * 60 + 1)
    assert tasks.reservations_expire() == 1
    assert Reservation.objects.get().state == "EXPIRED"
    for endpoint, partner in ((world.cso_endpoint, world.cso), (world.csp_endpoint, world.csp)):
        told = [r for r in endpoint.requests if r.event_type == "reservation.expired"]
        assert len(told) == 1 and told[0].path == "/i3/reservations"
        assert verify_signed(partner, told[0])
        assert told[0].json()["reservation"]["state"] == "EXPIRED"


def test_unlock_connector(live_world):
    world = live_world
    command = send(world, {"type": "UNLOCK_CONNECTOR", "evse_id": world.evse_id, "connector_id": "1"})
    assert world.cso_endpoint.requests[-1].event_type == "command.unlock_connector"
    assert report(world, command["id"], "ACCEPTED").json()["result"] == "ACCEPTED"


# --- a whole session ------------------------------------------------------------------------------


def test_a_whole_session_flows_to_the_csp_and_can_be_pulled(live_world):
    world = live_world
    begin = timezone.now().replace(microsecond=0)
    since = iso(timezone.now() - timedelta(seconds=1))
    r = world.cso.client.post(
        "/sessions/",
        {
            "id": "S-1",
            "evse_id": world.evse_id,
            "connector_id": "1",
            "cdr_token": {"uid": "04A1B2C3D4E5F6", "type": "RFID", "contract_id": world.contract_id},
            "auth_method": "WHITELIST",
            "start_date_time": iso(begin),
            "currency": "EUR",
            "status": "PENDING",
            "last_updated": iso(begin),
        },
    )
    assert r.status_code == 201, r.content

    def patch(minutes: int, **data: Any) -> Any:
        response = world.cso.client.patch(
            "/sessions/S-1", {**data, "last_updated": iso(begin + timedelta(minutes=minutes))}
        )
        assert response.status_code == 200, response.content
        return response.json()

    patch(1, status="ACTIVE")
    patch(
        2,
        kwh=1.2,
        charging_periods=[{"start_date_time": iso(begin), "dimensions": [{"type": "ENERGY", "volume": 1.2}]}],
    )
    patch(
        30,
        status="COMPLETED",
        end_date_time=iso(begin + timedelta(minutes=30)),
        kwh=7.5,
        total_cost={"excl_vat": 3.1, "incl_vat": 3.69},
    )
    assert world.csp_endpoint.events() == ["session.started", "session.progress", "session.ended"]
    for received in world.csp_endpoint.requests:
        assert received.path == "/i3/sessions" and verify_signed(world.csp, received)
    ended = world.csp_endpoint.last("session.ended")["session"]
    assert (ended["status"], ended["kwh"], ended["total_cost"]) == (
        "COMPLETED",
        7.5,
        {"excl_vat": "3.10", "incl_vat": "3.69"},
    )
    assert ended["cdr_token"]["uid"] == "…E5F6"
    assert len(ended["charging_periods"]) == 1

    pulled = world.csp.client.get(f"/sessions/?since={since}&status=COMPLETED").json()["results"]
    assert [s["id"] for s in pulled] == ["S-1"]
    assert pulled[0] == world.csp.client.get("/sessions/S-1").json()
    assert {k: v for k, v in pulled[0].items() if k != "updated_at"} == {
        k: v for k, v in ended.items() if k != "updated_at"
    }
