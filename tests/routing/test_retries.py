"""Failed attempts: retry with backoff, timeouts, dead letters, re-drive and cancel."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse.models import AuditEntry
from clearinghouse.routing import client
from clearinghouse.routing.models import OutboxMessage
from clearinghouse.routing.services import (
    backoff_seconds,
    channel_deliver,
    delivery_hooks_register,
    outbox_cancel,
    outbox_redrive,
)
from partners.models import PartnerUser
from tests.routing.support import reply, send, slow, state_of, trickle

pytestmark = pytest.mark.django_db

State = OutboxMessage.State


def make_due(message: OutboxMessage) -> None:
    """Skip the backoff wait: the retry is due now."""
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def test_a_500_is_retried_with_backoff_and_delivered_later(server, partner, settings):
    settings.ROUTING_BACKOFF_BASE_SECONDS = 60
    server.script(reply(500, {"error": "db down"}), reply(503), reply(200, {"ok": 1}))
    message = send(partner)

    before = timezone.now()
    assert channel_deliver(channel_id=message.channel_id) == 0
    message = state_of(message)
    assert message.state == State.PENDING
    assert message.attempts == 1
    assert message.last_status_code == 500
    assert "HTTP 500" in message.last_error and "db down" in message.last_error
    # First retry: between half and all of the base delay from now.
    assert before + timedelta(seconds=30) <= message.next_attempt_at <= timezone.now() + timedelta(seconds=60)

    # Not due yet: nothing is sent.
    assert channel_deliver(channel_id=message.channel_id) == 0
    assert len(server.requests) == 1

    make_due(message)
    before = timezone.now()
    assert channel_deliver(channel_id=message.channel_id) == 0
    message = state_of(message)
    assert message.attempts == 2
    assert message.last_status_code == 503
    # Second retry: the delay doubles.
    assert message.next_attempt_at >= before + timedelta(seconds=60)

    make_due(message)
    assert channel_deliver(channel_id=message.channel_id) == 1
    message = state_of(message)
    assert message.state == State.DELIVERED
    assert message.attempts == 3
    assert message.last_error == ""
    assert message.response_body == {"ok": 1}
    assert server.message_ids() == [str(message.message_id)] * 3


def test_a_slow_partner_times_out_and_is_retried(server, partner, settings):
    settings.ROUTING_READ_TIMEOUT = 0.3
    server.script(slow(2))
    message = send(partner)

    started = time.monotonic()
    assert channel_deliver(channel_id=message.channel_id) == 0
    assert time.monotonic() - started < 1.5

    message = state_of(message)
    assert message.state == State.PENDING
    assert message.attempts == 1
    assert message.last_error.startswith("timeout")
    assert message.last_status_code is None
    assert message.next_attempt_at > timezone.now()
    assert message.channel.lease_until is None

    make_due(message)
    assert channel_deliver(channel_id=message.channel_id) == 1
    assert state_of(message).state == State.DELIVERED


def test_an_answer_that_trickles_in_is_cut_off_at_the_deadline(server, partner, settings):
    # Every byte arrives well within the read timeout, the whole answer never does.
    settings.ROUTING_CONNECT_TIMEOUT = 0.2
    settings.ROUTING_READ_TIMEOUT = 0.3
    server.script(trickle(total=100, pause=0.05))
    message = send(partner)

    started = time.monotonic()
    channel_deliver(channel_id=message.channel_id)
    assert time.monotonic() - started < 1.2

    message = state_of(message)
    assert message.state == State.PENDING
    assert message.last_error.startswith("timeout")


def test_an_unreachable_partner_is_retried(server_factory, partner, settings):
    from partners.services import endpoints_replace

    gone = server_factory()
    gone.stop()
    endpoints_replace(partner=partner.partner, endpoints=[{"role": "CSP", "url": gone.url}])
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == State.PENDING
    assert message.last_error.startswith("connection failed")


def test_dead_letter_after_the_last_attempt(server, partner, settings):
    settings.ROUTING_MAX_ATTEMPTS = 3
    dead: list[OutboxMessage] = []
    delivery_hooks_register("test.event", on_dead=dead.append)
    server.default = reply(500)
    message = send(partner)
    assert message.max_attempts == 3

    for attempt in (1, 2):
        assert channel_deliver(channel_id=message.channel_id) == 0
        assert state_of(message).attempts == attempt
        make_due(message)
    assert channel_deliver(channel_id=message.channel_id) == 1

    message = state_of(message)
    assert message.state == State.DEAD
    assert message.attempts == 3
    assert message.last_status_code == 500
    assert [m.pk for m in dead] == [message.pk]
    assert dead[0].state == State.DEAD
    assert len(server.requests) == 3

    # A dead message is not sent again by the sweep or a later run.
    make_due(message)
    assert channel_deliver(channel_id=message.channel_id) == 0
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_a_4xx_is_dead_at_once(server, partner, status):
    dead: list[OutboxMessage] = []
    delivery_hooks_register("test.event", on_dead=dead.append)
    server.script(reply(status, {"error": {"code": "bad"}}))
    message = send(partner)

    assert channel_deliver(channel_id=message.channel_id) == 1

    message = state_of(message)
    assert message.state == State.DEAD
    assert message.attempts == 1
    assert message.last_status_code == status
    assert f"HTTP {status}" in message.last_error
    assert len(dead) == 1


@pytest.mark.parametrize("status", [408, 425, 429])
def test_a_4xx_that_asks_to_come_back_later_is_retried(server, partner, status):
    server.script(reply(status))
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == State.PENDING
    assert message.last_status_code == status


def test_a_long_error_answer_is_cut_short(server, partner):
    server.script(reply(400, raw=b"E" * 5_000_000))
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == State.DEAD
    assert len(message.last_error) < 400


def test_a_failing_on_dead_hook_is_recorded(server, partner):
    def broken(message: OutboxMessage) -> None:
        raise ValueError("cannot react")

    delivery_hooks_register("test.event", on_dead=broken)
    server.script(reply(400))
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == State.DEAD
    assert "HTTP 400" in message.last_error
    assert "on_dead hook failed: ValueError: cannot react" in message.last_error


def test_a_secret_the_hub_cannot_decrypt_counts_as_a_failed_attempt(server, partner, settings):
    settings.ROUTING_MAX_ATTEMPTS = 2
    PartnerUser.objects.filter(partner=partner.partner).update(hmac_secret_encrypted="garbage")
    first, second = send(partner), send(partner)

    assert channel_deliver(channel_id=first.channel_id) == 0
    first = state_of(first)
    assert first.state == State.PENDING
    assert first.attempts == 1
    assert first.last_error.startswith("hub error: ValueError")
    assert first.next_attempt_at > timezone.now()
    assert first.channel.lease_until is None  # the lease is released, not left to expire

    make_due(first)
    assert channel_deliver(channel_id=first.channel_id) == 1  # dead: the one behind is next
    assert state_of(first).state == State.DEAD
    assert state_of(second).attempts == 1
    assert server.requests == []


def test_a_partner_without_an_active_api_user_is_retried_with_the_reason(server, partner):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(partner_user__partner=partner.partner).update(is_active=False)
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == State.PENDING
    assert "no active API user" in message.last_error


def test_redrive_sends_a_dead_message_again(server, partner):
    server.script(reply(400))
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    assert state_of(message).state == State.DEAD

    assert outbox_redrive(message_ids=[message.pk]) == 1
    message = state_of(message)
    assert message.state == State.PENDING
    assert message.attempts == 0
    assert channel_deliver(channel_id=message.channel_id) == 1
    message = state_of(message)
    assert message.state == State.DELIVERED
    assert message.attempts == 1
    assert server.message_ids() == [str(message.message_id)] * 2
    assert AuditEntry.objects.filter(action="outbox.redrive").count() == 1


def test_redrive_delivers_after_commit(server, partner, django_capture_on_commit_callbacks):
    server.script(reply(400))
    with django_capture_on_commit_callbacks(execute=True):
        message = send(partner)
    assert state_of(message).state == State.DEAD

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outbox_redrive(message_ids=[message.pk])
        assert len(server.requests) == 1
    assert len(callbacks) == 1
    assert state_of(message).state == State.DELIVERED
    assert len(server.requests) == 2


def test_redrive_leaves_pending_and_delivered_messages_alone(server, partner):
    delivered = send(partner)
    channel_deliver(channel_id=delivered.channel_id)
    pending = send(partner)
    assert outbox_redrive(message_ids=[delivered.pk, pending.pk]) == 0
    assert state_of(delivered).state == State.DELIVERED


def test_cancel_stops_a_pending_message(server, partner):
    server.script(reply(500))
    first = send(partner)
    second = send(partner)
    channel_deliver(channel_id=first.channel_id)
    assert state_of(first).attempts == 1

    assert outbox_cancel(message_ids=[first.pk]) == 1
    make_due(first)
    assert channel_deliver(channel_id=first.channel_id) == 1  # the one behind it goes out

    assert state_of(first).state == State.CANCELLED
    assert state_of(second).state == State.DELIVERED
    assert server.message_ids() == [str(first.message_id), str(second.message_id)]
    # Cancelling a message that is no longer pending changes nothing.
    assert outbox_cancel(message_ids=[first.pk, second.pk]) == 0
    assert AuditEntry.objects.filter(action="outbox.cancel").count() == 2


def test_a_cancelled_message_can_be_redriven(server, partner):
    message = send(partner)
    outbox_cancel(message_ids=[message.pk])
    assert channel_deliver(channel_id=message.channel_id) == 0
    assert server.requests == []
    assert outbox_redrive(message_ids=[message.pk]) == 1
    assert channel_deliver(channel_id=message.channel_id) == 1
    assert state_of(message).state == State.DELIVERED


@pytest.mark.parametrize(
    ("answer", "final"), [(reply(500), State.CANCELLED), (reply(200, {"ok": 1}), State.DELIVERED)]
)
def test_a_message_cancelled_while_in_flight(server, partner, monkeypatch, answer, final):
    # A failure keeps the cancel; a success is recorded, since the partner has the message.
    real = client.signed_post
    message = send(partner)

    def post_while_staff_cancel(**kwargs: Any) -> Any:
        try:
            return real(**kwargs)
        finally:
            assert outbox_cancel(message_ids=[message.pk]) == 1

    monkeypatch.setattr(client, "signed_post", post_while_staff_cancel)
    server.script(answer)
    channel_deliver(channel_id=message.channel_id)
    assert state_of(message).state == final


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap(settings):
    settings.ROUTING_BACKOFF_BASE_SECONDS = 2
    settings.ROUTING_BACKOFF_CAP_SECONDS = 100
    for attempts, full in [(1, 2), (2, 4), (3, 8), (6, 64), (7, 100), (50, 100), (5000, 100)]:
        samples = [backoff_seconds(attempts) for _ in range(50)]
        assert all(full / 2 <= s <= full for s in samples), (attempts, samples)
        assert len(set(samples)) > 1  # jitter spreads retries of many messages


def test_a_partner_whose_endpoint_was_removed_is_retried_with_the_reason(server, partner):
    from partners.services import endpoints_replace

    message = send(partner)
    endpoints_replace(partner=partner.partner, endpoints=[])
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == State.PENDING
    assert message.last_error == "the partner has no active endpoint for this role"
    assert server.requests == []
