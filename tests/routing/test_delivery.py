"""A message reaches the partner's real HTTP endpoint once, signed, and its answer is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from clearinghouse.lib import signing
from clearinghouse.routing import client
from clearinghouse.routing.models import OutboxMessage
from clearinghouse.routing.services import channel_deliver, delivery_hooks_register, outbox_enqueue
from tests.routing.support import queued_only, reply, send, state_of
from tests.support import onboard

pytestmark = pytest.mark.django_db

DELIVERED = OutboxMessage.State.DELIVERED


def test_delivers_once_signed_with_the_partners_secret(server, partner):
    delivered: list[tuple[str, Any]] = []
    delivery_hooks_register(
        "auth.request", on_delivered=lambda m, body: delivered.append((m.event_type, body))
    )
    server.script(reply(200, {"status": "ACCEPTED", "id": "a-1"}))
    message = send(partner, event_type="auth.request", path="/authorizations", token="abc")

    assert channel_deliver(channel_id=message.channel_id) == 1

    assert len(server.requests) == 1
    got = server.requests[0]
    assert got.path == "/i3/authorizations"
    assert got.json() == {"token": "abc"}
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-i3-message-id"] == str(message.message_id)
    assert got.headers["x-i3-event-type"] == "auth.request"
    assert got.headers["x-i3-key-id"] == partner.username
    assert signing.verify(
        partner.secret,
        "POST",
        "/i3/authorizations",
        got.headers["x-i3-timestamp"],
        got.headers["x-i3-nonce"],
        got.body,
        got.headers["x-i3-signature"],
    )
    # The signature covers the exact body and target: any change breaks it.
    ts, nonce, sig = (got.headers[h] for h in ("x-i3-timestamp", "x-i3-nonce", "x-i3-signature"))
    assert not signing.verify(partner.secret, "POST", "/i3/authorizations", ts, nonce, got.body + b" ", sig)
    assert not signing.verify(partner.secret, "POST", "/i3/other", ts, nonce, got.body, sig)
    assert not signing.verify("another-secret", "POST", "/i3/authorizations", ts, nonce, got.body, sig)

    message = state_of(message)
    assert message.state == DELIVERED
    assert message.attempts == 1
    assert message.last_status_code == 200
    assert message.response_body == {"status": "ACCEPTED", "id": "a-1"}
    assert message.url == server.url + "/authorizations"
    assert message.delivered_at is not None and message.delivered_at <= timezone.now()
    assert delivered == [("auth.request", {"status": "ACCEPTED", "id": "a-1"})]

    # Delivered messages are never sent again.
    assert channel_deliver(channel_id=message.channel_id) == 0
    assert len(server.requests) == 1


def test_signature_covers_the_query_string(server, partner):
    message = send(partner, path="events?kind=status&v=1")
    channel_deliver(channel_id=message.channel_id)
    got = server.requests[0]
    assert got.path == "/i3/events?kind=status&v=1"
    assert signing.verify(
        partner.secret,
        "POST",
        "/i3/events?kind=status&v=1",
        got.headers["x-i3-timestamp"],
        got.headers["x-i3-nonce"],
        got.body,
        got.headers["x-i3-signature"],
    )


def test_decimals_and_datetimes_travel_as_strings(server, partner):
    at = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    message = outbox_enqueue(
        partner_id=partner.partner.pk,
        role="CSP",
        event_type="sdr.created",
        path="sdrs",
        payload={"amount": Decimal("12.30"), "at": at},
    )
    channel_deliver(channel_id=message.channel_id)
    assert server.requests[0].json() == {"amount": "12.30", "at": "2026-05-01T12:30:00Z"}


def test_signed_by_the_oldest_active_api_user_after_a_secret_rotation(server, partner):
    from partners.models import PartnerUser
    from partners.services import partner_user_rotate_secret

    new_secret = partner_user_rotate_secret(partner_user=PartnerUser.objects.get(partner=partner.partner))
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    got = server.requests[0]
    args = ("POST", "/i3/events", got.headers["x-i3-timestamp"], got.headers["x-i3-nonce"], got.body)
    assert signing.verify(new_secret, *args, got.headers["x-i3-signature"])
    assert not signing.verify(partner.secret, *args, got.headers["x-i3-signature"])


@pytest.mark.parametrize(
    ("raw", "note"),
    [
        (b"<html>thanks</html>", "not JSON"),
        (b'{"a": NaN}', "not JSON"),
        (b"", ""),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
    ids=["html", "nan", "empty", "too-deep"],
)
def test_a_2xx_whose_body_is_not_usable_is_delivered_without_body(server, partner, raw, note):
    answers: list[Any] = []
    delivery_hooks_register("test.event", on_delivered=lambda m, body: answers.append(body))
    server.script(reply(202, raw=raw))
    message = send(partner)

    channel_deliver(channel_id=message.channel_id)

    message = state_of(message)
    assert message.state == DELIVERED
    assert message.last_status_code == 202
    assert message.response_body is None
    assert note in message.last_error
    assert answers == [None]


def test_a_huge_answer_is_not_read_to_the_end(server, partner):
    huge = b'{"filler": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    server.script(reply(200, raw=huge))
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == DELIVERED
    assert message.response_body is None
    assert "longer than" in message.last_error


def test_an_answer_the_database_cannot_store_still_settles_the_message(server, partner):
    # PostgreSQL refuses "\u0000" in JSON; SQLite stores it. Either way the message is delivered
    # once and the channel goes on.
    server.script(reply(200, raw=b'{"text": "a\\u0000b"}'))
    first = send(partner)
    second = send(partner)
    assert channel_deliver(channel_id=first.channel_id) == 2
    first = state_of(first)
    assert first.state == DELIVERED
    if connection.vendor == "postgresql":
        assert first.response_body is None
        assert first.last_error.startswith("answer not kept")
    else:
        assert first.response_body == {"text": "a\x00b"}
    assert state_of(second).state == DELIVERED
    assert len(server.requests) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("hooked", [False, True], ids=["without hook", "with hook"])
def test_an_answer_the_database_cannot_store_settles_the_message_on_a_worker(server, partner, hooked):
    # As on a worker, outside any transaction: a message without a hook is marked in autocommit, one
    # with a hook in a transaction of its own; the hook runs once, after the second try.
    seen: list[Any] = []
    if hooked:
        delivery_hooks_register("test.event", on_delivered=lambda message, body: seen.append(body))
    server.script(reply(200, raw=b'{"text": "a\\u0000b"}'))
    with queued_only():
        first, second = send(partner), send(partner)
    assert channel_deliver(channel_id=first.channel_id) == 2
    assert state_of(first).state == DELIVERED and state_of(second).state == DELIVERED
    if connection.vendor == "postgresql":
        assert state_of(first).last_error.startswith("answer not kept")
    assert len(seen) == (2 if hooked else 0)
    assert len(server.requests) == 2


def test_a_failing_on_delivered_hook_neither_undoes_the_delivery_nor_stops_the_channel(server, partner):
    def broken(message: OutboxMessage, body: Any) -> None:
        OutboxMessage.objects.filter(pk=message.pk).update(path="changed-by-the-hook")
        raise RuntimeError("bug in the hook")

    delivery_hooks_register("test.event", on_delivered=broken)
    first, second = send(partner), send(partner)

    assert channel_deliver(channel_id=first.channel_id) == 2

    first = state_of(first)
    assert first.state == DELIVERED
    assert first.path == "events"  # the hook's own writes were rolled back with it
    assert "on_delivered hook failed: RuntimeError: bug in the hook" in first.last_error
    assert state_of(second).state == DELIVERED
    assert first.channel.lease_until is None


@pytest.mark.django_db(transaction=True)
def test_on_a_worker_a_failing_hook_rolls_back_its_writes_and_the_message_stays_delivered(server, partner):
    # As on a worker, outside any transaction: the hook runs without a savepoint of its own, so its
    # failure rolls back the whole transaction, and the message is marked delivered again alone.
    calls: list[int] = []

    def broken(message: OutboxMessage, body: Any) -> None:
        calls.append(message.pk)
        OutboxMessage.objects.filter(pk=message.pk).update(path="changed-by-the-hook")
        send(partner, event_type="test.written-by-the-hook")
        if len(calls) == 1:
            raise RuntimeError("bug in the hook")

    delivery_hooks_register("test.event", on_delivered=broken)
    with queued_only():
        first, second = send(partner), send(partner)

    assert channel_deliver(channel_id=first.channel_id) == 3  # the second's hook wrote a third

    first, second = state_of(first), state_of(second)
    assert first.state == DELIVERED and second.state == DELIVERED
    assert first.path == "events" and second.path == "changed-by-the-hook"
    assert "on_delivered hook failed: RuntimeError: bug in the hook" in first.last_error
    assert first.response_body == second.response_body and first.attempts == 1
    assert not second.last_error
    # What the failing hook wrote is gone; what the second one wrote was delivered after it.
    events = [r.headers["x-i3-event-type"] for r in server.requests]
    assert events == ["test.event", "test.event", "test.written-by-the-hook"]
    assert calls == [first.pk, second.pk]
    assert first.channel.lease_until is None


def test_nothing_is_written_without_an_endpoint_for_the_role(server):
    no_endpoint = onboard(name="Pull Only", country="BE", party="PUL", roles=["CSP"])
    assert send(no_endpoint) is None
    cso_only = onboard(name="Only CSO", country="AT", party="OCS", roles=["CSO"], endpoint=server.url)
    assert send(cso_only) is None  # it has a CSO endpoint, not a CSP one
    assert not OutboxMessage.objects.exists()


def test_signed_post_can_be_called_directly_with_its_own_deadline(server, partner):
    server.script(reply(200, {"answer": 42}))
    response = client.signed_post(
        url=server.url + "/direct",
        payload={"q": 1},
        secret=partner.secret,
        key_id=partner.username,
        message_id="m-1",
        event_type="direct.call",
        timeout=1.0,
    )
    assert (response.status_code, response.body, response.note) == (200, {"answer": 42}, "")
    assert response.headers["content-type"] == "application/json"
    assert response.raw == b'{"answer": 42}'
    assert server.requests[0].headers["x-i3-message-id"] == "m-1"


def test_a_redirect_is_not_followed(server, partner):
    def redirect(handler: Any) -> None:
        handler.send_response(302)
        handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server.script(redirect)
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == OutboxMessage.State.DEAD
    assert message.last_status_code == 302
    assert len(server.requests) == 1


def test_plain_http_is_refused_when_not_allowed(server, partner, settings):
    settings.ROUTING_ALLOW_HTTP = False
    message = send(partner)
    channel_deliver(channel_id=message.channel_id)
    message = state_of(message)
    assert message.state == OutboxMessage.State.PENDING
    assert message.attempts == 1
    assert "ROUTING_ALLOW_HTTP" in message.last_error
    assert server.requests == []
