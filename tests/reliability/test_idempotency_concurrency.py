"""Idempotency under concurrency, over real sockets: fifty identical requests released at the same
moment against the live server (one thread and one database connection per request) have one
effect.

- Fifty identical SDR posts store one SDR; every answer is 200 or 201 and names that SDR.
- Fifty identical remote commands under one Idempotency-Key store one command, and the CSO's
  endpoint (a real HTTP server on 127.0.0.1) receives it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from clearinghouse import celery_app
from clearinghouse.routing.models import OutboxMessage
from sessions.models import RemoteCommand
from settlement.models import Sdr
from tests.charging_sessions.conftest import PartnerEndpoint, wait_until
from tests.charging_sessions.conftest import build_world as build_command_world
from tests.reliability.signed import Partner, race
from tests.settlement.sdr_support import build_world as build_sdr_world
from tests.support import Onboarded, onboard

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent transactions: SQLite serialises writers, and its in-memory test "
        "database gives the live server's threads one shared connection",
    ),
]

THREADS = 50


@pytest.fixture(autouse=True)
def _hub(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fifty requests in the same second must not meet the rate limits; deliveries run when the
    # request's transaction commits, inside the live server, as they would on a worker.
    settings.I3_THROTTLE_RATES = {"default": "10000/s", "authorization": "10000/s", "bulk": "10000/s"}
    settings.ROUTING_ALLOW_HTTP = True
    settings.ROUTING_CONNECT_TIMEOUT = 1.0
    settings.ROUTING_READ_TIMEOUT = 2.0
    settings.TASKS_IN_THREAD = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def live(onboarded: Onboarded, live_server: Any) -> Partner:
    return Partner(
        live_server.url, username=onboarded.username, password=onboarded.password, secret=onboarded.secret
    ).login()


@pytest.fixture
def endpoints() -> Any:
    started: list[PartnerEndpoint] = []

    def start() -> PartnerEndpoint:
        started.append(PartnerEndpoint())
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.stop()


def test_fifty_identical_sdr_posts_over_http_store_one_sdr(live_server):
    cso = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"])
    csp = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"])
    world = build_sdr_world(cso, csp)
    partner = live(cso, live_server)
    body = world.cdr()

    sessions = partner.connected_sessions(THREADS)

    answers = race(THREADS, lambda i: partner.post("/sdrs/", body, session=sessions[i]))

    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == 1, statuses
    assert len({a.json()["id"] for a in answers}) == 1
    assert {a.json()["sdr_id"] for a in answers} == {"SDR-1"}
    assert Sdr.objects.count() == 1
    # Stored once means recorded once: the intake's RECEIVED -> VALIDATED and the pull delivery.
    assert Sdr.objects.get().events.count() == 2


def test_fifty_identical_sdr_posts_with_one_idempotency_key_store_one_sdr(live_server):
    cso = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"])
    csp = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"])
    world = build_sdr_world(cso, csp)
    partner = live(cso, live_server)
    body = world.cdr(sdr_id="SDR-K")
    key = {"Idempotency-Key": "sdr-k-1"}

    sessions = partner.connected_sessions(THREADS)

    answers = race(THREADS, lambda i: partner.post("/sdrs/", body, headers=key, session=sessions[i]))

    # The first answer is replayed to everyone: the same status and the same record.
    assert {a.status_code for a in answers} == {201}, sorted(a.status_code for a in answers)
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == THREADS - 1
    assert len({a.json()["id"] for a in answers}) == 1
    assert Sdr.objects.count() == 1


def test_fifty_identical_commands_reach_the_cso_once(live_server, endpoints: Callable[[], PartnerEndpoint]):
    world = build_command_world(endpoints)
    partner = live(world.csp, live_server)
    body = {
        "type": "START_SESSION",
        "evse_id": world.evse_id,
        "connector_id": "1",
        "contract_id": world.contract_id,
    }
    key = {"Idempotency-Key": "remote-start-7f3a"}

    sessions = partner.connected_sessions(THREADS)

    answers = race(THREADS, lambda i: partner.post("/commands/", body, headers=key, session=sessions[i]))

    assert {a.status_code for a in answers} == {201}, sorted(a.status_code for a in answers)
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == THREADS - 1
    command_ids = {a.json()["id"] for a in answers}
    assert len(command_ids) == 1
    assert RemoteCommand.objects.count() == 1
    assert OutboxMessage.objects.filter(role="CSO").count() == 1

    # The delivery runs after the first request commits; give a duplicate every chance to show up.
    assert wait_until(lambda: len(world.cso_endpoint.requests) >= 1, timeout=10)
    assert not wait_until(lambda: len(world.cso_endpoint.requests) > 1, timeout=2)
    [delivered] = world.cso_endpoint.requests
    assert delivered.event_type == "command.start_session"
    assert delivered.json()["command_id"] == command_ids.pop()
    assert RemoteCommand.objects.get().state == "ACCEPTED"


def test_fifty_commands_with_fifty_keys_are_fifty_commands(live_server, endpoints):
    """The control: distinct keys are distinct requests, so the de-duplication above is the key's doing."""
    world = build_command_world(endpoints)
    partner = live(world.csp, live_server)
    body = {
        "type": "START_SESSION",
        "evse_id": world.evse_id,
        "connector_id": "1",
        "contract_id": world.contract_id,
    }

    sessions = partner.connected_sessions(THREADS)

    answers = race(
        THREADS,
        lambda i: partner.post(
            "/commands/", body, headers={"Idempotency-Key": f"k-{i}"}, session=sessions[i]
        ),
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == THREADS
    assert wait_until(lambda: len(world.cso_endpoint.requests) == THREADS, timeout=20)
    assert len({r.json()["command_id"] for r in world.cso_endpoint.requests}) == THREADS
