"""Starting a channel's delivery without losing a message or wasting a task, and what a worker
keeps between messages (the decrypted signing secret) staying right when the partner changes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from clearinghouse.lib import signing
from clearinghouse.routing import delivery
from clearinghouse.routing.models import DeliveryChannel, OutboxMessage
from clearinghouse.routing.services import channel_deliver, delivery_hooks_register
from clearinghouse.routing.tasks import deliver_channel
from partners.models import PartnerUser
from partners.services import (
    endpoints_replace,
    partner_user_deactivate,
    partner_user_issue,
    partner_user_rotate_secret,
)
from tests.routing.support import close_connection_after, queued_only, send, state_of
from tests.routing.test_lease import lease
from tests.support import onboard

pytestmark = pytest.mark.django_db

State = OutboxMessage.State


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The channels whose delivery task was started (the tasks themselves run as usual)."""
    calls: list[int] = []
    original = deliver_channel.delay

    def delay(channel_id: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(channel_id)
        return original(channel_id, *args, **kwargs)

    monkeypatch.setattr(deliver_channel, "delay", delay)
    return calls


def verified(secret: str, received: Any) -> bool:
    headers = received.headers
    args = ("POST", "/i3/events", headers["x-i3-timestamp"], headers["x-i3-nonce"], received.body)
    return signing.verify(secret, *args, headers["x-i3-signature"])


# --- starting a delivery --------------------------------------------------------------------------


# Transactions for real: a write commits at once and its on-commit callback runs, as in a worker.


@pytest.mark.django_db(transaction=True)
def test_a_message_for_a_leased_channel_starts_no_task(server, partner, started):
    with queued_only():
        first = send(partner, seq=1)
    lease(first.channel_id, 30)
    send(partner, seq=2)
    assert started == []  # the holder delivers it
    assert server.requests == []

    DeliveryChannel.objects.filter(pk=first.channel_id).update(lease_until=None, lease_token="")
    send(partner, seq=3)
    assert started == [first.channel_id]
    assert [r.json()["seq"] for r in server.requests] == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_message_for_a_channel_whose_lease_expired_starts_a_task(server, partner, started):
    with queued_only():
        first = send(partner)
    lease(first.channel_id, -1)  # its worker died
    second = send(partner)
    assert started == [first.channel_id]
    assert server.message_ids() == [str(first.message_id), str(second.message_id)]


@pytest.mark.django_db(transaction=True)
def test_the_holder_delivers_what_was_written_while_it_released_the_lease(
    server, partner, monkeypatch, started
):
    # The holder found the queue empty; just before it releases the lease a message is written,
    # whose writer sees the lease held and starts no task. The holder looks again once it is free.
    written: list[OutboxMessage] = []
    release = delivery._lease_release

    def writer_in_between(channel_id: int, token: str) -> None:
        if not written:
            written.append(send(partner, seq=2))
        release(channel_id, token)

    with queued_only():
        first = send(partner, seq=1)
    monkeypatch.setattr(delivery, "_lease_release", writer_in_between)

    assert channel_deliver(channel_id=first.channel_id) == 2
    assert started == []
    assert [r.json()["seq"] for r in server.requests] == [1, 2]
    assert state_of(written[0]).state == State.DELIVERED
    assert DeliveryChannel.objects.get(pk=first.channel_id).lease_until is None


@pytest.fixture
def on_its_way(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The channels whose delivery task was sent to the broker, where it waits (not run)."""
    calls: list[int] = []
    monkeypatch.setattr(deliver_channel, "delay", lambda channel_id: calls.append(channel_id))
    return calls


def wake_requested(channel_id: int) -> bool:
    return DeliveryChannel.objects.get(pk=channel_id).wake_requested


@pytest.mark.django_db(transaction=True)
def test_writers_start_one_task_between_them_until_it_claims_the_channel(server, partner, on_its_way):
    # A burst of messages to one partner while the first one's task waits for a worker.
    messages = [send(partner, seq=i) for i in range(1, 4)]
    channel_id = messages[0].channel_id
    assert on_its_way == [channel_id]
    assert wake_requested(channel_id)

    # The task runs: it delivers all three, in order, and the channel takes requests again.
    assert channel_deliver(channel_id=channel_id) == 3
    assert [r.json()["seq"] for r in server.requests] == [1, 2, 3]
    assert not wake_requested(channel_id)
    send(partner, seq=4)
    assert on_its_way == [channel_id, channel_id]


@pytest.mark.django_db(transaction=True)
def test_a_task_that_finds_the_channel_held_clears_the_request(server, partner, on_its_way):
    first = send(partner, seq=1)
    channel_id = first.channel_id
    lease(channel_id, 30)  # another worker (a sweep's task) took the channel first
    assert channel_deliver(channel_id=channel_id) == 0  # the task loses the claim
    assert not wake_requested(channel_id)
    assert server.requests == []

    # The holder went away without delivering (its lease expired): the next writer starts a task.
    lease(channel_id, -1)
    send(partner, seq=2)
    assert on_its_way == [channel_id, channel_id]
    assert channel_deliver(channel_id=channel_id) == 2
    assert [r.json()["seq"] for r in server.requests] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_a_task_the_broker_refused_leaves_no_request_behind(server, partner, monkeypatch):
    def broker_down(channel_id: int) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(deliver_channel, "delay", broker_down)
    first = send(partner, seq=1)
    assert not wake_requested(first.channel_id)
    assert state_of(first).state == State.PENDING

    # The broker is back: the next writer's task delivers both.
    monkeypatch.undo()
    send(partner, seq=2)
    assert [r.json()["seq"] for r in server.requests] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_delivers_a_channel_whose_task_was_lost(server, partner, on_its_way):
    from clearinghouse.routing.tasks import routing_sweep

    first = send(partner, seq=1)  # its task is lost with the worker that had taken it
    channel_id = first.channel_id
    send(partner, seq=2)
    assert on_its_way == [channel_id]
    assert wake_requested(channel_id)

    on_its_way.clear()
    assert routing_sweep() == 1
    assert on_its_way == [channel_id]  # the sweep's task
    assert channel_deliver(channel_id=channel_id) == 2
    assert not wake_requested(channel_id)
    send(partner, seq=3)
    assert on_its_way == [channel_id, channel_id]


def test_the_holder_does_not_look_again_behind_a_head_that_waits_for_its_retry(server, partner, monkeypatch):
    from tests.routing.support import reply

    server.script(reply(503))
    looked: list[int] = []
    head_due_at = delivery.head_due_at
    monkeypatch.setattr(delivery, "head_due_at", lambda **kw: looked.append(1) or head_due_at(**kw))
    first, second = send(partner), send(partner)
    assert channel_deliver(channel_id=first.channel_id) == 0
    assert looked == []  # the sweep starts the channel when the head is due
    assert state_of(first).attempts == 1 and state_of(second).attempts == 0


# --- what the hooks write to other channels -------------------------------------------------------


def sent(server: Any) -> list[tuple[str, int]]:
    """What the partner received: (event type, seq) in order."""
    return [(r.headers["x-i3-event-type"], r.json()["seq"]) for r in server.requests]


def answered_to(other: Any) -> None:
    """On delivery of a message of event "ask", an "answer" for `other` (as a CSO's answer to a
    command goes on to the CSP)."""

    def on_delivered(message: OutboxMessage, body: Any) -> None:
        send(other, event_type="answer", seq=message.payload["seq"])

    delivery_hooks_register("ask", on_delivered=on_delivered)


@pytest.mark.django_db(transaction=True)
def test_what_a_hook_writes_is_delivered_by_the_same_run_when_its_channel_is_done(server, partner, started):
    other = onboard(name="Delta", country="NL", party="DLT", roles=["CSP"], endpoint=server.url)
    answered_to(other)
    with queued_only():
        asked = send(partner, event_type="ask", seq=1)
    assert channel_deliver(channel_id=asked.channel_id) == 1
    assert started == []  # no task: this run went on to the other channel
    assert sent(server) == [("ask", 1), ("answer", 1)]
    answer = OutboxMessage.objects.get(event_type="answer")
    assert answer.state == State.DELIVERED
    assert DeliveryChannel.objects.get(pk=answer.channel_id).lease_until is None


@pytest.mark.django_db(transaction=True)
def test_what_a_hook_writes_gets_a_task_at_once_while_its_channel_has_more(server, partner, monkeypatch):
    other = onboard(name="Delta", country="NL", party="DLT", roles=["CSP"], endpoint=server.url)
    answered_to(other)
    with queued_only():
        asks = [send(partner, event_type="ask", seq=i) for i in range(2)]
    tasks: list[tuple[int, int]] = []  # (channel, asks delivered when its task was started)
    monkeypatch.setattr(
        deliver_channel,
        "delay",
        lambda channel_id: tasks.append((channel_id, len(sent(server)))),
    )
    assert channel_deliver(channel_id=asks[0].channel_id) == 2
    answers = list(OutboxMessage.objects.filter(event_type="answer").order_by("id"))
    # The first answer's task was started before the second ask went out (the task does not run
    # here); the run delivered both answers once its own channel was done.
    assert tasks == [(answers[0].channel_id, 1)]
    assert state_of(answers[1]).state == State.DELIVERED
    assert sent(server) == [("ask", 0), ("ask", 1), ("answer", 0), ("answer", 1)]


@pytest.mark.django_db(transaction=True)
def test_what_a_hook_writes_gets_a_task_when_its_channel_goes_on_after_the_release(
    server, partner, monkeypatch
):
    other = onboard(name="Delta", country="NL", party="DLT", roles=["CSP"], endpoint=server.url)
    answered_to(other)
    with queued_only():
        asked = send(partner, event_type="ask", seq=1)
    release = delivery._lease_release

    def writer_in_between(channel_id: int, token: str) -> None:
        release(channel_id, token)
        if channel_id == asked.channel_id and not OutboxMessage.objects.filter(payload__seq=2).exists():
            # Another writer (its own thread and connection) finds the channel free: its task is
            # not run here; the holder finds the message when it looks after the release.
            with queued_only():
                write = close_connection_after(lambda: send(partner, event_type="ask", seq=2))
                writer = threading.Thread(target=write)
                writer.start()
                writer.join(5)

    monkeypatch.setattr(delivery, "_lease_release", writer_in_between)
    tasks: list[tuple[int, int]] = []
    monkeypatch.setattr(
        deliver_channel, "delay", lambda channel_id: tasks.append((channel_id, len(sent(server))))
    )
    assert channel_deliver(channel_id=asked.channel_id) == 2
    first_answer = OutboxMessage.objects.filter(event_type="answer").order_by("id").first()
    # The first answer's channel got its task before the run went on with the second ask.
    assert tasks == [(first_answer.channel_id, 1)]
    assert sent(server) == [("ask", 1), ("ask", 2), ("answer", 1), ("answer", 2)]


@pytest.mark.django_db(transaction=True)
def test_what_a_hook_wrote_gets_a_task_when_the_run_fails(server, partner, started, monkeypatch):
    other = onboard(name="Delta", country="NL", party="DLT", roles=["CSP"], endpoint=server.url)
    answered_to(other)
    with queued_only():
        asked = send(partner, event_type="ask", seq=1)
    release = delivery._lease_release

    def broken(channel_id: int, token: str) -> None:
        release(channel_id, token)
        if channel_id == asked.channel_id:
            raise RuntimeError("database went away")

    monkeypatch.setattr(delivery, "_lease_release", broken)
    with pytest.raises(RuntimeError):
        channel_deliver(channel_id=asked.channel_id)
    answer = OutboxMessage.objects.get(event_type="answer")
    assert started == [answer.channel_id]
    assert state_of(answer).state == State.DELIVERED  # by the task (run in-process here)


# --- what a worker keeps between messages ---------------------------------------------------------


def deliver(partner: Any) -> OutboxMessage:
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    return state_of(message)


def test_a_rotated_secret_signs_the_next_message(server, partner):
    assert deliver(partner).state == State.DELIVERED
    assert verified(partner.secret, server.requests[0])

    new_secret = partner_user_rotate_secret(partner_user=PartnerUser.objects.get(partner=partner.partner))
    deliver(partner)
    assert verified(new_secret, server.requests[1])
    assert not verified(partner.secret, server.requests[1])


def test_a_deactivated_signer_is_replaced_by_the_next_active_user(server, partner):
    deliver(partner)
    oldest = PartnerUser.objects.get(partner=partner.partner)
    second_secret = partner_user_issue(partner=partner.partner, username="beta-second").hmac_secret
    partner_user_deactivate(partner_user=oldest)
    deliver(partner)
    got = server.requests[1]
    assert got.headers["x-i3-key-id"] == "beta-second"
    assert verified(second_secret, got)


def test_an_endpoint_change_applies_to_the_next_message(server_factory, partner, server):
    deliver(partner)
    moved = server_factory()
    endpoints_replace(partner=partner.partner, endpoints=[{"role": "CSP", "url": moved.url}])
    deliver(partner)
    assert len(server.requests) == 1
    assert len(moved.requests) == 1
    assert verified(partner.secret, moved.requests[0])
