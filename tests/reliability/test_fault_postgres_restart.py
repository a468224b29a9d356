"""PostgreSQL stopped and restarted under a running hub (gunicorn, Celery worker and beat on a private
cluster): while the database is away the API answers 503 in the error format (docs/api.md: "503: the
hub cannot reach its database or broker"), never 500; once it is back the same processes serve again,
and the worker delivers again, with no restart of any hub process.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.reliability import hubworld
from tests.reliability.conftest import FAST_ROUTING
from tests.reliability.hubworld import HubWorld
from tests.reliability.signed import error_code
from tests.reliability.stack import Stack, wait_for

pytestmark = [pytest.mark.reliability]

RECOVERY_SECONDS = 20


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


@pytest.fixture(autouse=True)
def _postgres_up(stack: Stack) -> Iterator[None]:
    stack.ensure_up()
    yield
    stack.ensure_up()


def test_the_api_answers_503_while_postgresql_is_down(world: HubWorld, stack: Stack):
    cso = world.cso
    # Warm: the partner's principal is cached, so authentication itself needs no database.
    assert cso.get("/partners/me").status_code == 200
    stack.postgres.stop("fast")
    try:
        answers = {
            "GET /partners/me": cso.get("/partners/me"),
            "POST /authorizations/": cso.post("/authorizations/", world.authorization()),
            "POST /sdrs/": cso.post("/sdrs/", world.cdr("SDR-DOWN")),
            "POST /auth/token": cso.post(
                "/auth/token", {"username": cso.username, "password": cso.password}, auth=False
            ),
        }
        ready = requests.get(world.hub.base_url + "/readyz", timeout=30)
    finally:
        stack.postgres.start()
    assert ready.status_code == 503, ready.text
    wrong = {
        what: f"{answer.status_code} {answer.text[:160]}"
        for what, answer in answers.items()
        if answer.status_code != 503
    }
    assert not wrong, f"answers while PostgreSQL was down, other than 503: {wrong}"
    for answer in answers.values():
        assert error_code(answer) == "unavailable"


def test_the_same_processes_serve_again_after_a_postgresql_restart(world: HubWorld, stack: Stack):
    hub, cso = world.hub, world.cso
    pids = {p.name: p.group_pids() for p in hub.processes()}
    statuses: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    def traffic() -> None:
        session = cso.session()
        while not stop.is_set():
            try:
                answer = cso.post("/authorizations/", world.authorization(), session=session)
                statuses[str(answer.status_code)] += 1
            except requests.RequestException as exc:
                statuses[type(exc).__name__] += 1
            time.sleep(0.02)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    time.sleep(1)
    restarted = time.monotonic()
    stack.postgres.restart("fast")
    restart_seconds = time.monotonic() - restarted

    def serving() -> bool:
        answer = cso.post("/authorizations/", world.authorization())
        return answer.status_code == 200 and answer.json()["status"] == "ACCEPTED"

    wait_for(serving, timeout=RECOVERY_SECONDS, what=f"the API to serve again\n{hub.diagnostics()}")
    recovered = time.monotonic() - restarted
    time.sleep(1)
    stop.set()
    sender.join(10)

    # Every answer once recovered is a success, for reads and writes, from every web worker.
    answers = [cso.post("/authorizations/", world.authorization()).status_code for _ in range(20)]
    assert set(answers) == {200}, answers
    assert cso.get("/partners/me").status_code == 200
    # The worker delivers again: an SDR written now reaches the CSP.
    assert cso.post("/sdrs/", world.cdr("SDR-AFTER-RESTART")).status_code == 201
    wait_for(
        lambda: any(
            r.json()["sdrs"][0]["sdr_id"] == "SDR-AFTER-RESTART" for r in world.csp_endpoint.of("sdr.")
        ),
        timeout=30,
        what=f"a delivery after the restart\n{hub.diagnostics()}",
    )
    # No hub process was restarted (gunicorn did not replace its workers, Celery its pool).
    assert {p.name: p.group_pids() for p in hub.processes()} == pids, hub.diagnostics()
    assert statuses["200"] > 0
    print(
        f"\npostgres restart: pg_ctl restart took {restart_seconds:.1f}s; serving again "
        f"{recovered:.1f}s after it began; answers meanwhile {dict(statuses)}"
    )
