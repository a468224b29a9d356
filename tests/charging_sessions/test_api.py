"""The I3 endpoints of commands and sessions: roles, scope (partner A cannot see partner B), the
error format, and nothing changed by a refused request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clearinghouse.routing.models import OutboxMessage
from partners import services as partner_services
from partners.models import RoamingAgreement
from sessions.models import ChargingSession, RemoteCommand
from tests.charging_sessions.conftest import EVSE_ID, OTHER_EVSE_ID, World, location_doc, publish_location
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def start_command(world: World, **extra: Any) -> dict[str, Any]:
    return {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id, **extra}


def session_body(world: World, **overrides: Any) -> dict[str, Any]:
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


@pytest.fixture
def stranger(db: Any) -> Any:
    """A partner with both roles and no business with the world's partners."""
    return onboard(name="Gamma Roaming", country="FR", party="GRO", roles=["CSO", "CSP"])


def nothing_written() -> bool:
    return not RemoteCommand.objects.exists() and not OutboxMessage.objects.exists()


# --- POST /commands/ ------------------------------------------------------------------------------


def test_a_csp_sends_a_command(world):
    r = world.csp.client.post("/commands/", start_command(world, connector_id="1"))
    assert r.status_code == 201, r.content
    body = r.json()
    command = RemoteCommand.objects.get()
    assert body["id"] == str(command.uid)
    assert (body["type"], body["state"], body["cso"], body["csp"]) == (
        "START_SESSION",
        "PENDING",
        "DE*ACH",
        "NL-BMO",
    )
    assert (body["evse_id"], body["connector_id"], body["contract_id"]) == (EVSE_ID, "1", world.contract_id)
    assert body["authorization_reference"] == command.authorization_reference
    assert body["created_at"].endswith("Z") and body["deadline_at"].endswith("Z")
    assert body["response"] is None and body["result"] is None


def test_only_a_csp_sends_commands(world):
    r = world.cso.client.post("/commands/", start_command(world))
    assert r.status_code == 403 and error_code(r) == "role_required"
    r = world.csp.client.post("/commands/", start_command(world), auth=False)
    assert r.status_code == 401
    assert nothing_written()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"type": "START_SESSION"},
        {"type": "SELF_DESTRUCT"},
        {"type": "START_SESSION", "evse_id": "nonsense", "contract_id": "NL-BMO-C00000001"},
        {"type": "RESERVE_NOW", "evse_id": EVSE_ID, "contract_id": "NL-BMO-C00000001", "reservation_id": "R"},
    ],
)
def test_bad_commands_answer_400_and_write_nothing(world, body):
    r = world.csp.client.post("/commands/", body)
    assert r.status_code == 400
    error_code(r)
    assert nothing_written()


def test_a_malformed_body_answers_400(world):
    r = world.csp.client.post("/commands/", raw=b"{not json")
    assert r.status_code == 400
    error_code(r)
    assert nothing_written()


def test_commands_breaking_a_rule_answer_422(world):
    r = world.csp.client.post("/commands/", start_command(world, evse_id="DE*ACH*E999"))
    assert r.status_code == 422 and error_code(r) == "unknown_evse"
    assert r.json()["error"]["details"] == {"evse_id": "DE*ACH*E999"}
    assert nothing_written()


def test_mixed_mode_answers_409_with_the_direct_endpoint(world):
    RoamingAgreement.objects.update(mode=RoamingAgreement.Mode.MIXED)
    r = world.csp.client.post("/commands/", start_command(world))
    assert r.status_code == 409 and error_code(r) == "mixed_mode_direct"
    assert r.json()["error"]["details"]["direct_endpoint"] == world.cso_endpoint.url
    assert nothing_written()


def test_a_repeated_idempotency_key_replays_the_first_answer(world):
    headers = {"Idempotency-Key": "cmd-1"}
    first = world.csp.client.post("/commands/", start_command(world), headers=headers)
    again = world.csp.client.post("/commands/", start_command(world), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert RemoteCommand.objects.count() == 1
    assert OutboxMessage.objects.filter(role="CSO").count() == 1
    other = world.csp.client.post("/commands/", start_command(world, connector_id="2"), headers=headers)
    assert other.status_code == 409 and error_code(other) == "idempotency_key_reused"
    assert RemoteCommand.objects.count() == 1


# --- GET /commands/{id} and POST /commands/{id}/result --------------------------------------------


def test_a_command_is_visible_to_its_csp_and_cso_only(world, stranger):
    command_id = world.csp.client.post("/commands/", start_command(world)).json()["id"]
    for client in (world.csp.client, world.cso.client):
        r = client.get(f"/commands/{command_id}")
        assert r.status_code == 200 and r.json()["id"] == command_id
    r = stranger.client.get(f"/commands/{command_id}")
    assert r.status_code == 404 and error_code(r) == "command_not_found"
    assert world.csp.client.get(f"/commands/{uuid.uuid4()}").status_code == 404
    r = world.csp.client.get("/commands/not-a-uuid")
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_the_cso_reports_the_outcome(world, stranger):
    command_id = world.csp.client.post("/commands/", start_command(world)).json()["id"]
    r = stranger.client.post(f"/commands/{command_id}/result", {"result": "ACCEPTED"})
    assert r.status_code == 404 and error_code(r) == "command_not_found"
    r = world.csp.client.post(f"/commands/{command_id}/result", {"result": "ACCEPTED"})
    assert r.status_code == 403 and error_code(r) == "role_required"
    r = world.cso.client.post(f"/commands/{command_id}/result", {"result": "DONE"})
    assert r.status_code == 400 and error_code(r) == "invalid_field"
    assert RemoteCommand.objects.get().state == "PENDING"

    r = world.cso.client.post(
        f"/commands/{command_id}/result", {"result": "EVSE_INOPERATIVE", "message": "broken"}
    )
    assert r.status_code == 200, r.content
    assert (r.json()["state"], r.json()["result"], r.json()["message"]) == (
        "RESULT",
        "EVSE_INOPERATIVE",
        "broken",
    )
    again = world.cso.client.post(f"/commands/{command_id}/result", {"result": "EVSE_INOPERATIVE"})
    assert again.status_code == 200
    r = world.cso.client.post(f"/commands/{command_id}/result", {"result": "ACCEPTED"})
    assert r.status_code == 409 and error_code(r) == "invalid_transition"
    assert RemoteCommand.objects.get().result == "EVSE_INOPERATIVE"
    assert (
        world.cso.client.post(f"/commands/{uuid.uuid4()}/result", {"result": "ACCEPTED"}).status_code == 404
    )


# --- POST /sessions/ ------------------------------------------------------------------------------


def test_a_cso_reports_a_session_once(world):
    r = world.cso.client.post("/sessions/", session_body(world))
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["id"], body["status"], body["evse_id"], body["cso"], body["csp"]) == (
        "S-1",
        "ACTIVE",
        EVSE_ID,
        "DE*ACH",
        "NL-BMO",
    )
    again = world.cso.client.post("/sessions/", session_body(world))
    assert again.status_code == 200 and again.json()["id"] == "S-1"
    conflict = world.cso.client.post("/sessions/", session_body(world, evse_id=OTHER_EVSE_ID))
    assert conflict.status_code == 409 and error_code(conflict) == "session_exists"
    assert ChargingSession.objects.count() == 1


def test_only_a_cso_reports_sessions(world):
    r = world.csp.client.post("/sessions/", session_body(world))
    assert r.status_code == 403 and error_code(r) == "role_required"
    r = world.csp.client.patch("/sessions/S-1", {"kwh": 1, "last_updated": iso(T0)})
    assert r.status_code == 403
    assert not ChargingSession.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"id": None}, 400, "missing_field"),
        ({"start_date_time": "yesterday"}, 400, "invalid_datetime"),
        ({"currency": "XXY"}, 400, "invalid_currency"),
        ({"kwh": -3}, 400, "invalid_number"),
        ({"evse_id": "DE*ACH*E404"}, 422, "unknown_evse"),
        ({"auth_method": "AUTH_REQUEST"}, 422, "authorization_required"),
    ],
)
def test_refused_sessions_keep_nothing(world, overrides, status, code):
    r = world.cso.client.post("/sessions/", session_body(world, **overrides))
    assert r.status_code == status and error_code(r) == code
    assert not ChargingSession.objects.exists() and not OutboxMessage.objects.exists()


# --- PATCH /sessions/{id} -------------------------------------------------------------------------


def test_a_cso_updates_its_session(world, stranger):
    world.cso.client.post("/sessions/", session_body(world))
    later = iso(T0 + timedelta(minutes=5))
    r = world.cso.client.patch("/sessions/S-1", {"kwh": 2.5, "last_updated": later})
    assert r.status_code == 200, r.content
    assert r.json()["applied"] is True and r.json()["session"]["kwh"] == 2.5
    r = world.cso.client.patch("/sessions/S-1", {"kwh": 1, "last_updated": iso(T0)})
    assert r.status_code == 200 and r.json()["applied"] is False and r.json()["session"]["kwh"] == 2.5

    r = world.cso.client.patch("/sessions/S-1", {"kwh": 3})
    assert r.status_code == 400 and error_code(r) == "missing_field"
    r = stranger.client.patch("/sessions/S-1", {"kwh": 3, "last_updated": iso(T0 + timedelta(hours=1))})
    assert r.status_code == 404 and error_code(r) == "session_not_found"
    r = world.cso.client.patch(
        "/sessions/S-1", {"status": "PENDING", "last_updated": iso(T0 + timedelta(hours=1))}
    )
    assert r.status_code == 409 and error_code(r) == "invalid_transition"
    assert ChargingSession.objects.get().kwh == 2.5


# --- GET /sessions/ and /sessions/{id} ------------------------------------------------------------


def test_sessions_are_seen_by_their_cso_and_csp_only(world, stranger):
    world.cso.client.post("/sessions/", session_body(world))
    for client in (world.cso.client, world.csp.client):
        r = client.get("/sessions/")
        assert r.status_code == 200 and [s["id"] for s in r.json()["results"]] == ["S-1"]
        r = client.get("/sessions/S-1")
        assert r.status_code == 200 and r.json()["cdr_token"]["contract_id"] == world.contract_id
    assert stranger.client.get("/sessions/").json()["results"] == []
    r = stranger.client.get("/sessions/S-1")
    assert r.status_code == 404 and error_code(r) == "session_not_found"


def test_the_session_list_filters_and_pages(world, django_assert_max_num_queries):
    for n in range(5):
        r = world.cso.client.post("/sessions/", session_body(world, id=f"S-{n}", evse_id=EVSE_ID))
        assert r.status_code == 201
    cut = ChargingSession.objects.get(session_id="S-2").updated_at
    world.cso.client.patch(
        "/sessions/S-4",
        {
            "status": "COMPLETED",
            "end_date_time": iso(T0 + timedelta(hours=1)),
            "last_updated": iso(T0 + timedelta(hours=1)),
        },
    )
    client = world.csp.client
    client.login()
    with django_assert_max_num_queries(4):
        page = client.get("/sessions/?limit=2").json()
    assert [s["id"] for s in page["results"]] == ["S-0", "S-1"] and page["next"]
    ids = [s["id"] for s in page["results"]]
    while page["next"]:
        page = client.get(page["next"].split("/api/i3/v1", 1)[1]).json()
        ids += [s["id"] for s in page["results"]]
    assert ids == ["S-0", "S-1", "S-2", "S-3", "S-4"]
    since = iso(cut)
    assert [s["id"] for s in client.get(f"/sessions/?since={since}").json()["results"]] == ["S-3", "S-4"]
    assert [s["id"] for s in client.get("/sessions/?status=COMPLETED").json()["results"]] == ["S-4"]
    for query, code in (
        ("since=yesterday", "invalid_since"),
        ("status=DONE", "invalid_status"),
        ("limit=5000", "invalid_limit"),
        ("cursor=zzz", "invalid_cursor"),
    ):
        r = client.get(f"/sessions/?{query}")
        assert r.status_code == 400 and error_code(r) == code, query


def test_an_id_used_by_two_csos_needs_the_operator(world, endpoints):
    second = onboard(name="Second CSO", country="DE", party="SEC", roles=["CSO"], endpoint=endpoints().url)
    partner_services.agreement_create(cso=second.partner, csp=world.csp.partner)
    publish_location(
        second, location_doc(country="DE", party="SEC", location_id="L", evses=[("1", "DE*SEC*E1", ["1"])])
    )
    world.cso.client.post("/sessions/", session_body(world))
    assert second.client.post("/sessions/", session_body(world, evse_id="DE*SEC*E1")).status_code == 201
    r = world.csp.client.get("/sessions/S-1")
    assert r.status_code == 409 and error_code(r) == "ambiguous_session_id"
    assert r.json()["error"]["details"] == {"operators": ["DE*ACH", "DE*SEC"]}
    r = world.csp.client.get("/sessions/S-1?operator=DESEC")
    assert r.status_code == 200 and r.json()["cso"] == "DE*SEC"
    r = world.csp.client.get("/sessions/S-1?operator=DE-SEC")
    assert r.status_code == 400 and error_code(r) == "invalid_operator_id"
    # Each CSO reads its own without naming itself.
    assert second.client.get("/sessions/S-1").json()["cso"] == "DE*SEC"


def test_the_openapi_schema_describes_commands_and_sessions(client):
    r = client.get("/api/i3/v1/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/commands/", "/commands/{command_id}", "/commands/{command_id}/result", "/sessions/"):
        assert f"/api/i3/v1{path}" in paths, path
    assert set(paths["/api/i3/v1/sessions/{session_id}"]) >= {"get", "patch"}
