"""A partner's endpoint down for a while, then back on the same port: every delivery written
meanwhile arrives, in the order it was written, and none is lost or dead-lettered.

The hub runs as real processes (gunicorn, a Celery worker, Celery beat driving the routing sweep)
on a private PostgreSQL and Redis; the messages come from real API calls (SDRs and session starts
routed to the CSP); retries back off quickly (0.2 s doubling to at most 1 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability import hubworld
from tests.reliability.hubworld import HubWorld
from tests.reliability.stack import wait_for

pytestmark = [pytest.mark.reliability]

MESSAGES = 24
DOWN_SECONDS = 8


@pytest.fixture
def world(hub_factory: Any) -> Iterator[HubWorld]:
    hub = hub_factory()
    built = hubworld.build(hub, start=hub.start)
    yield built
    built.cso_endpoint.stop()
    built.csp_endpoint.stop()


def test_deliveries_wait_for_a_partner_that_is_down_and_arrive_in_order(world: HubWorld):
    hub = world.hub
    world.csp_endpoint.stop()  # the CSP's server goes away; its port refuses connections
    written: list[str] = []
    for n in range(MESSAGES):
        # Alternate two kinds of message on the CSP's channel: SDRs and session starts.
        if n % 3 == 2:
            answer = world.cso.post("/sessions/", world.session(f"S-{n}"))
            written.append(f"session.started:S-{n}")
        else:
            answer = world.cso.post("/sdrs/", world.cdr(f"SDR-{n}"))
            written.append(f"sdr.created:SDR-{n}")
        assert answer.status_code == 201, (answer.status_code, answer.text[:300])

    outbox = (
        "SELECT count(*) FILTER (WHERE state = 'PENDING'), max(attempts) "
        "FROM routing_outboxmessage WHERE role = 'CSP'"
    )
    # The head is retried while the partner is down; nothing behind it overtakes it.
    wait_for(
        lambda: hub.query(outbox)[0][1] >= 3, timeout=30, what=f"retries of the head\n{hub.diagnostics()}"
    )
    time.sleep(DOWN_SECONDS)
    pending, head_attempts = hub.query(outbox)[0]
    assert pending == MESSAGES, (pending, hub.diagnostics())
    assert not world.csp_endpoint.received

    world.csp_endpoint.start()  # back, on the same port
    back = time.monotonic()
    wait_for(
        lambda: len({r.message_id for r in world.csp_endpoint.received}) >= MESSAGES,
        timeout=60,
        what=f"all {MESSAGES} deliveries after the partner came back\n{hub.diagnostics()}",
    )
    drained = time.monotonic() - back

    arrived: list[str] = []
    seen: set[str] = set()
    for received in world.csp_endpoint.received:
        if received.message_id in seen:  # at least once: a repeat is allowed, and ignored
            continue
        seen.add(received.message_id)
        body = received.json()
        item = body["sdrs"][0]["sdr_id"] if "sdrs" in body else body["session"]["id"]
        arrived.append(f"{received.event_type}:{item}")
    assert arrived == written
    rows = hub.query("SELECT state, count(*) FROM routing_outboxmessage WHERE role = 'CSP' GROUP BY state")
    assert dict(rows) == {"DELIVERED": MESSAGES}, rows
    states = hub.query("SELECT state, count(*) FROM settlement_sdr GROUP BY state")
    assert dict(states) == {"DELIVERED": MESSAGES - MESSAGES // 3}, states
    print(
        f"\npartner down: {MESSAGES} messages written while down, head tried {head_attempts} times; "
        f"all delivered in order {drained:.1f}s after the partner came back; "
        f"{len(world.csp_endpoint.received) - MESSAGES} repeats"
    )
