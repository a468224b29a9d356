"""Fifty identical SDRs posted at the same moment store one SDR (PostgreSQL: real concurrent
transactions; SQLite serialises writers, so the race this guards against cannot happen there)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from settlement.models import Sdr
from tests.settlement.sdr_support import build_world
from tests.support import I3Client, onboard

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent writers: SQLite serialises every write transaction, so no race can occur",
    ),
]

THREADS = 50


def race(cso: Any, path: str, body: Any, count: int = THREADS) -> list[Any]:
    """Send the same request from `count` threads released at the same moment."""
    cso.client.login()
    start = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def send(index: int) -> None:
        client = I3Client(username=cso.username, password=cso.password, secret=cso.secret)
        client.access = cso.client.access
        try:
            start.wait()
            answers[index] = client.post(path, body)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


@pytest.fixture
def racing_world(settings: Any) -> Any:
    settings.I3_THROTTLE_RATES = {"default": "10000/s", "authorization": "10000/s", "bulk": "10000/s"}
    cso = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"])
    csp = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"])
    return build_world(cso, csp)


def test_fifty_identical_posts_store_one_sdr(racing_world):
    answers = race(racing_world.cso, "/sdrs/", racing_world.cdr())
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1 and statuses.count(200) == THREADS - 1, statuses
    assert len({a.json()["id"] for a in answers}) == 1
    assert Sdr.objects.count() == 1
    assert Sdr.objects.get().events.count() == 2


def test_simultaneous_credits_of_one_sdr_store_one(racing_world):
    assert racing_world.cso.client.post("/sdrs/", racing_world.cdr()).status_code == 201
    credits = [
        racing_world.cdr(sdr_id=f"C-{n}", credit=True, credit_reference_id="SDR-1", excl=-6.0, incl=-7.14)
        for n in range(10)
    ]
    cso = racing_world.cso
    cso.client.login()
    start = threading.Barrier(len(credits))
    answers: list[Any] = [None] * len(credits)

    def send(index: int) -> None:
        client = I3Client(username=cso.username, password=cso.password, secret=cso.secret)
        client.access = cso.client.access
        try:
            start.wait()
            answers[index] = client.post("/sdrs/", credits[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(credits))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(a.status_code for a in answers) == [201] + [422] * 9
    assert Sdr.objects.filter(credit=True).exclude(state="REJECTED").count() == 1
