"""Redis stopped under a running hub (gunicorn, Celery worker and beat on a private PostgreSQL and
Redis): authorization answered from hub data keeps working, replay protection keeps refusing a
replayed nonce, writes that route messages still succeed, and the deliveries they wrote go out once
Redis is back, without restarting any hub process.

Redis is the cache (principals, nonces, throttling) and the Celery broker. While it is away the hub
must fall back on PostgreSQL for what matters (docs/api.md: "replay protection never switches off").
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.reliability import hubworld
from tests.reliability.conftest import FAST_ROUTING
from tests.reliability.hubworld import HubWorld
from tests.reliability.signed import error_code
from tests.reliability.stack import Stack, wait_for

pytestmark = [pytest.mark.reliability]

AUTHORIZATIONS = 30
# An answer while Redis is away may take longer (the cache's connect attempt fails first), not long.
SLOW_ANSWER_SECONDS = 5.0


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[HubWorld]:
    hub = stack.hub(**FAST_ROUTING)
    try:
        built = hubworld.build(hub, start=hub.start)
        try:
            yield built
        finally:
            built.cso_endpoint.stop()
            built.csp_endpoint.stop()
    finally:
        hub.stop()


@pytest.fixture
def outage(stack: Stack, world: HubWorld) -> Iterator[Any]:
    """Redis up at the start; `outage.begin()` stops it, `outage.end()` starts it again (also done
    after the test whatever happens)."""
    stack.ensure_up()

    class Outage:
        def begin(self) -> None:
            stack.redis.stop()

        def end(self) -> None:
            stack.redis.start()

    yield Outage()
    stack.ensure_up()


def send(prepared: dict[str, Any]) -> requests.Response:
    return requests.request(timeout=30, **prepared)


def timed(action: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


def test_authorization_and_replay_protection_work_without_redis_and_deliveries_resume(world, outage):
    cso, hub = world.cso, world.hub
    before = cso.post("/authorizations/", world.authorization())
    assert before.status_code == 200 and before.json()["status"] == "ACCEPTED", before.text

    outage.begin()
    answers = [
        timed(lambda: cso.post("/authorizations/", world.authorization())) for _ in range(AUTHORIZATIONS)
    ]
    for answer, _ in answers:
        assert answer.status_code == 200, (answer.status_code, answer.text[:300], hub.diagnostics())
        assert answer.json()["status"] == "ACCEPTED"
    latencies = sorted(seconds for _, seconds in answers)
    assert latencies[-1] < SLOW_ANSWER_SECONDS, latencies

    # Replay protection: a nonce used during the outage is refused the second time.
    prepared = cso.signed("GET", "/partners/me")
    assert send(prepared).status_code == 200
    replay = send(prepared)
    assert replay.status_code == 401 and error_code(replay) == "nonce_reused", replay.text

    # A partner can log in, and writes that route messages are stored (their delivery waits).
    fresh = type(cso)(hub.base_url, username=cso.username, password=cso.password, secret=cso.secret)
    assert fresh.login().access
    sdr_answers = [timed(lambda n=n: cso.post("/sdrs/", world.cdr(f"SDR-OUT-{n}"))) for n in range(5)]
    for answer, _ in sdr_answers:
        assert answer.status_code == 201, (answer.status_code, answer.text[:300], hub.diagnostics())
    sdr_latency = max(seconds for _, seconds in sdr_answers)
    assert sdr_latency < SLOW_ANSWER_SECONDS, sdr_latency
    time.sleep(2)
    assert not world.csp_endpoint.of("sdr."), "delivered without a broker?"

    outage.end()
    back = time.monotonic()
    wait_for(
        lambda: len({r.json()["sdrs"][0]["sdr_id"] for r in world.csp_endpoint.of("sdr.created")}) == 5,
        timeout=60,
        what=f"the deliveries written during the outage\n{hub.diagnostics()}",
    )
    resumed = time.monotonic() - back
    after = cso.post("/authorizations/", world.authorization())
    assert after.status_code == 200
    assert all(p.alive() for p in hub.processes()), hub.diagnostics()
    print(
        f"\nredis down: {AUTHORIZATIONS} authorizations ACCEPTED, "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
        f"SDR posts max {sdr_latency * 1000:.0f} ms; deliveries resumed {resumed:.1f}s after Redis returned"
    )


def test_a_nonce_used_just_before_redis_stops_is_refused_while_it_is_down(world, outage):
    """The request was accepted while Redis kept the nonces; replayed (within the timestamp window)
    while the database fallback is in charge, it must still be refused."""
    prepared = world.cso.signed("GET", "/partners/me")
    assert send(prepared).status_code == 200
    # The hub refuses what was signed more than a second before it lost Redis (docs/api.md).
    time.sleep(2.1)
    outage.begin()
    replay = send(prepared)
    assert replay.status_code == 401, (
        f"a replayed request was answered {replay.status_code}: {replay.text[:200]}"
    )
    assert error_code(replay) == "nonce_reused"


def test_a_nonce_used_while_redis_is_down_is_refused_after_it_returns(world, outage):
    """The request was accepted under the database fallback; replayed once Redis is back (within the
    timestamp window), it must still be refused."""
    outage.begin()
    prepared = world.cso.signed("GET", "/partners/me")
    assert send(prepared).status_code == 200
    outage.end()
    replay = send(prepared)
    assert replay.status_code == 401, (
        f"a replayed request was answered {replay.status_code}: {replay.text[:200]}"
    )
    assert error_code(replay) == "nonce_reused"
