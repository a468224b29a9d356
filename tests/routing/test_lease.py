"""One worker at a time per channel: the lease, its expiry, and the sweep that finds due channels."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse.routing.models import DeliveryChannel, OutboxMessage
from clearinghouse.routing.services import channel_deliver, delivery_hooks_register, due_channel_ids
from clearinghouse.routing.tasks import routing_sweep
from tests.routing.support import close_connection_after, gated, queued_only, reply, send, state_of
from tests.support import onboard

State = OutboxMessage.State


def lease(channel_id: int, seconds: float, token: str = "another-worker") -> None:
    DeliveryChannel.objects.filter(pk=channel_id).update(
        lease_until=timezone.now() + timedelta(seconds=seconds), lease_token=token
    )


@pytest.mark.django_db
def test_a_channel_leased_by_another_worker_is_left_alone(server, partner):
    message = send(partner)
    lease(message.channel_id, 30)
    assert channel_deliver(channel_id=message.channel_id) == 0
    assert server.requests == []
    assert state_of(message).state == State.PENDING
    assert DeliveryChannel.objects.get(pk=message.channel_id).lease_token == "another-worker"


@pytest.mark.django_db
def test_an_expired_lease_is_reclaimed(server, partner):
    message = send(partner)
    lease(message.channel_id, -1)  # its worker died
    assert channel_deliver(channel_id=message.channel_id) == 1
    assert state_of(message).state == State.DELIVERED
    channel = DeliveryChannel.objects.get(pk=message.channel_id)
    assert channel.lease_until is None and channel.lease_token == ""


@pytest.mark.django_db
def test_a_worker_that_lost_its_lease_stops(server, partner):
    # The first delivery takes so long that the lease expires and another worker claims the channel.
    delivery_hooks_register("test.event", on_delivered=lambda m, body: lease(m.channel_id, 30))
    first, second = send(partner), send(partner)
    assert channel_deliver(channel_id=first.channel_id) == 1
    assert state_of(first).state == State.DELIVERED
    assert state_of(second).state == State.PENDING
    assert len(server.requests) == 1
    # The new holder's lease is not released by the worker that lost it.
    assert DeliveryChannel.objects.get(pk=first.channel_id).lease_token == "another-worker"


@pytest.mark.django_db
def test_the_lease_is_released_when_the_delivery_raises(server, partner, monkeypatch):
    from clearinghouse.routing import delivery

    def broken(message: OutboxMessage, response: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(delivery, "_settle_delivered", broken)
    message = send(partner)
    with pytest.raises(RuntimeError):
        channel_deliver(channel_id=message.channel_id)
    assert DeliveryChannel.objects.get(pk=message.channel_id).lease_until is None


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_finds_the_channel_busy_while_the_first_delivers(server, partner):
    gate = threading.Event()
    server.script(gated(gate))
    with queued_only():
        messages = [send(partner, seq=i) for i in range(3)]
    channel_id = messages[0].channel_id
    results: list[int] = []

    first = threading.Thread(
        target=close_connection_after(lambda: results.append(channel_deliver(channel_id=channel_id)))
    )
    first.start()
    server.wait_for(1)  # the first worker holds the lease and waits for the partner's answer
    assert channel_deliver(channel_id=channel_id) == 0
    assert len(server.requests) == 1
    gate.set()
    first.join(5)

    assert results == [3]
    assert server.message_ids() == [str(m.message_id) for m in messages]


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_deliver_each_message_once(server, partner):
    with queued_only():
        messages = [send(partner, seq=i) for i in range(6)]
    channel_id = messages[0].channel_id
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(5)
            results.append(channel_deliver(channel_id=channel_id))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=close_connection_after(work)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)

    assert errors == []
    assert sorted(results) == [0, 0, 0, 6]
    assert server.message_ids() == [str(m.message_id) for m in messages]
    assert all(state_of(m).state == State.DELIVERED for m in messages)


@pytest.mark.django_db
def test_due_channel_ids_finds_channels_whose_head_is_due(server):
    partners = [
        onboard(name=f"P{i}", country="NL", party=f"P{i}X", roles=["CSP"], endpoint=server.url)
        for i in range(5)
    ]
    busy, waiting, leased, expired, done = partners
    now = timezone.now()

    # Many due messages in one channel must not hide the others (limit counts channels).
    busy_messages = [send(busy) for _ in range(5)]
    OutboxMessage.objects.filter(pk__in=[m.pk for m in busy_messages]).update(
        next_attempt_at=now - timedelta(minutes=5)
    )
    # A head in backoff keeps its channel off the list though the messages behind it are due.
    head = send(waiting)
    send(waiting)
    OutboxMessage.objects.filter(pk=head.pk).update(next_attempt_at=now + timedelta(minutes=1))
    lease(send(leased).channel_id, 30)
    expired_message = send(expired)
    lease(expired_message.channel_id, -1)
    delivered = send(done)
    channel_deliver(channel_id=delivered.channel_id)

    assert due_channel_ids() == [busy_messages[0].channel_id, expired_message.channel_id]
    assert due_channel_ids(limit=2) == [busy_messages[0].channel_id, expired_message.channel_id]
    assert due_channel_ids(limit=1) == [busy_messages[0].channel_id]


@pytest.mark.django_db
def test_the_sweep_delivers_due_retries(server_factory, settings):
    first_server, second_server = server_factory(), server_factory()
    first = onboard(name="One", country="NL", party="ONE", roles=["CSP"], endpoint=first_server.url)
    second = onboard(name="Two", country="NL", party="TWO", roles=["CSP"], endpoint=second_server.url)
    first_server.script(reply(500))
    a, b = send(first), send(second)
    channel_deliver(channel_id=a.channel_id)
    assert routing_sweep() == 1  # b's channel was never started; a waits for its retry
    assert state_of(b).state == State.DELIVERED

    OutboxMessage.objects.filter(pk=a.pk).update(next_attempt_at=timezone.now())
    assert routing_sweep() == 1
    assert state_of(a).state == State.DELIVERED
    assert routing_sweep() == 0


def test_a_lease_shorter_than_two_attempts_is_a_configuration_error(settings):
    from clearinghouse.routing.checks import routing_timeouts_check

    assert routing_timeouts_check(None) == []
    settings.ROUTING_LEASE_SECONDS = 5  # connect 1 s + 2 × read 2 s = 5 s per attempt
    assert [e.id for e in routing_timeouts_check(None)] == ["routing.E001"]
