"""Status changes reach a subscribed CSP's endpoint in batches, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clearinghouse.lib import signing
from clearinghouse.routing.models import OutboxMessage
from locations.models import EvseStatusChange, StatusPushCursor
from locations.services import evse_status_push_run, status_changes_purge
from locations.tasks import push_statuses
from tests.locations.conftest import agree, make_location
from tests.support import onboard

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_settling(settings):
    settings.EVSE_STATUS_PUSH_SETTLE_SECONDS = 0


def stamp(second: int) -> str:
    return f"2024-01-01T00:{second // 60:02d}:{second % 60:02d}Z"


@pytest.fixture
def network(cso, csp_endpoint):
    url, received = csp_endpoint
    subscriber = onboard(name="Listener", country="NL", party="LIS", roles=["CSP"], endpoint=url)
    agree(cso, subscriber)
    docs = [make_location(f"P{n}", evses=10) for n in range(5)]
    docs.append(make_location("HIDDEN", publish=False))
    assert cso.client.put("/locations/", docs).status_code == 200
    return cso, subscriber, received


def run_push(django_capture_on_commit_callbacks) -> int:
    # The outbox delivers on commit (eagerly in tests): run the callbacks as a commit would.
    with django_capture_on_commit_callbacks(execute=True):
        return evse_status_push_run()


def statuses(cso, n, status, second):
    items = [
        {"evse_id": f"DE*ACH*EP{k % 5}{k // 5 + 1}", "status": status, "timestamp": stamp(second)}
        for k in range(n)
    ]
    r = cso.client.post("/evse-statuses/", items)
    assert r.json()["counts"] == {"applied": n}, r.content


def test_many_changes_arrive_as_one_signed_batch(network, django_capture_on_commit_callbacks):
    cso, subscriber, received = network
    assert run_push(django_capture_on_commit_callbacks) == 0  # the first run starts the cursor
    statuses(cso, 50, "CHARGING", 1)
    cso.client.post(
        "/evse-statuses/", [{"evse_id": "DE*ACH*EHIDDEN1", "status": "CHARGING", "timestamp": stamp(1)}]
    )
    assert run_push(django_capture_on_commit_callbacks) == 1

    assert len(received.requests) == 1
    request = received.requests[0]
    assert request["path"] == "/i3/evse-statuses"
    assert request["headers"]["X-I3-Event-Type"] == "evse_status.batch"
    pushed = request["json"]["statuses"]
    assert len(pushed) == 50
    assert {p["status"] for p in pushed} == {"CHARGING"}
    assert "DE*ACH*EHIDDEN1" not in {p["evse_id"] for p in pushed}
    assert [p["id"] for p in pushed] == sorted(p["id"] for p in pushed)
    assert set(pushed[0]) == {
        "id",
        "evse_id",
        "evse_uid",
        "location_id",
        "operator_id",
        "status",
        "timestamp",
        "received_at",
    }
    # Signed by the hub with the CSP's secret, like every delivery.
    headers = request["headers"]
    assert signing.verify(
        subscriber.secret,
        "POST",
        request["path"],
        headers["X-I3-Timestamp"],
        headers["X-I3-Nonce"],
        request["raw"],
        headers["X-I3-Signature"],
    )
    assert OutboxMessage.objects.get().state == OutboxMessage.State.DELIVERED

    # Nothing new: nothing sent. New changes: only those.
    assert run_push(django_capture_on_commit_callbacks) == 0
    statuses(cso, 3, "AVAILABLE", 2)
    assert run_push(django_capture_on_commit_callbacks) == 1
    assert [len(r["json"]["statuses"]) for r in received.requests] == [50, 3]


def test_large_backlogs_go_in_batches_of_the_configured_size(
    network, django_capture_on_commit_callbacks, settings
):
    cso, _, received = network
    settings.EVSE_STATUS_PUSH_BATCH_SIZE = 20
    run_push(django_capture_on_commit_callbacks)
    statuses(cso, 50, "CHARGING", 1)
    assert run_push(django_capture_on_commit_callbacks) == 3
    assert [len(r["json"]["statuses"]) for r in received.requests] == [20, 20, 10]
    ids = [s["id"] for r in received.requests for s in r["json"]["statuses"]]
    assert ids == sorted(ids) and len(set(ids)) == 50


def test_only_subscribed_partners_of_the_cso_receive(
    network, django_capture_on_commit_callbacks, csp_endpoint, cso
):
    _, subscriber, received = network
    url, _ = csp_endpoint
    # A CSP with an endpoint but no agreement, and a CSP with an agreement but no endpoint.
    stranger = onboard(name="Stranger", country="NL", party="STR", roles=["CSP"], endpoint=url)
    puller = onboard(name="Puller", country="NL", party="PUL", roles=["CSP"])
    agree(cso, puller)
    run_push(django_capture_on_commit_callbacks)
    statuses(cso, 5, "BLOCKED", 1)
    run_push(django_capture_on_commit_callbacks)
    assert len(received.requests) == 1
    assert set(OutboxMessage.objects.values_list("partner_id", flat=True)) == {subscriber.partner.pk}
    assert not StatusPushCursor.objects.filter(csp__in=[stranger.partner, puller.partner]).exists()
    # The puller reads the same changes from the feed.
    assert len(puller.client.get("/evse-statuses/").json()["results"]) == 5


def test_changes_still_settling_wait_for_the_next_run(network, django_capture_on_commit_callbacks, settings):
    cso, _, received = network
    run_push(django_capture_on_commit_callbacks)
    settings.EVSE_STATUS_PUSH_SETTLE_SECONDS = 60
    statuses(cso, 4, "CHARGING", 1)
    assert run_push(django_capture_on_commit_callbacks) == 0
    EvseStatusChange.objects.update(received_at=timezone.now() - timedelta(seconds=61))
    assert run_push(django_capture_on_commit_callbacks) == 1
    assert len(received.requests[0]["json"]["statuses"]) == 4


def test_the_periodic_task_pushes(network, django_capture_on_commit_callbacks):
    cso, _, received = network
    with django_capture_on_commit_callbacks(execute=True):
        push_statuses.delay()
    statuses(cso, 2, "CHARGING", 1)
    with django_capture_on_commit_callbacks(execute=True):
        push_statuses.delay()
    assert len(received.requests) == 1


def test_a_partner_that_is_down_gets_its_batch_later(cso, django_capture_on_commit_callbacks):
    subscriber = onboard(
        name="Down", country="NL", party="DWN", roles=["CSP"], endpoint="http://127.0.0.1:9/i3"
    )
    agree(cso, subscriber)
    cso.client.put("/locations/P", make_location("P"))
    run_push(django_capture_on_commit_callbacks)
    cso.client.post(
        "/evse-statuses/", [{"evse_id": "DE*ACH*EP1", "status": "CHARGING", "timestamp": stamp(1)}]
    )
    assert run_push(django_capture_on_commit_callbacks) == 1
    message = OutboxMessage.objects.get()
    assert message.state == OutboxMessage.State.PENDING and message.attempts == 1
    assert message.payload["statuses"][0]["evse_id"] == "DE*ACH*EP1"
    assert run_push(django_capture_on_commit_callbacks) == 0  # the cursor moved on: no duplicate


def test_purge_keeps_recent_changes(network, settings):
    cso, _, _ = network
    statuses(cso, 4, "CHARGING", 1)
    EvseStatusChange.objects.filter(
        id__in=list(EvseStatusChange.objects.values_list("id", flat=True)[:3])
    ).update(received_at=timezone.now() - timedelta(days=settings.EVSE_STATUS_CHANGE_RETENTION_DAYS + 1))
    assert status_changes_purge(batch=2) == 3
    assert EvseStatusChange.objects.count() == 1
