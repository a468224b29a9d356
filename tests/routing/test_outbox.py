"""The outbox row is part of the caller's transaction: no commit, no message and no send."""

from __future__ import annotations

import pytest
from django.db import transaction

from clearinghouse.routing.models import DeliveryChannel, OutboxMessage
from tests.routing.support import send, state_of

State = OutboxMessage.State


class Rollback(Exception):
    pass


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_message_and_sends_nothing(
    server, partner, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        send(partner)
        raise Rollback
    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert server.requests == []


@pytest.mark.django_db
def test_delivery_happens_after_commit(server, partner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = send(partner)
        assert server.requests == []  # not before the caller's transaction commits
        assert state_of(message).state == State.PENDING
    assert len(callbacks) == 1
    assert server.message_ids() == [str(message.message_id)]
    assert state_of(message).state == State.DELIVERED


@pytest.mark.django_db
def test_one_delivery_start_per_channel_and_transaction(server, partner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        messages = [send(partner, seq=i) for i in range(20)]
    assert len(callbacks) == 1
    assert [r.json()["seq"] for r in server.requests] == list(range(20))
    assert all(state_of(m).state == State.DELIVERED for m in messages)

    # A later transaction starts the channel again.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send(partner, seq=20)
    assert len(callbacks) == 1
    assert len(server.requests) == 21


@pytest.mark.django_db
def test_a_rolled_back_savepoint_does_not_swallow_the_start_of_a_later_write(
    server, partner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Rollback), transaction.atomic():
            send(partner, seq=1)
            raise Rollback
        kept = send(partner, seq=2)
    assert len(callbacks) == 1
    assert [r.json()["seq"] for r in server.requests] == [2]
    assert state_of(kept).state == State.DELIVERED
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_committed_and_rolled_back_transactions_for_real(server, partner):
    with pytest.raises(Rollback), transaction.atomic():
        send(partner, seq=1)
        raise Rollback
    assert not OutboxMessage.objects.exists()
    assert server.requests == []

    with transaction.atomic():
        message = send(partner, seq=2)
        assert server.requests == []
    # Committed: the in-process task delivered it on commit.
    assert server.message_ids() == [str(message.message_id)]
    assert state_of(message).state == State.DELIVERED
    assert DeliveryChannel.objects.get(pk=message.channel_id).lease_until is None


@pytest.mark.django_db(transaction=True)
def test_a_broker_failure_after_commit_does_not_undo_the_callers_work(server, partner, monkeypatch):
    from clearinghouse.routing.tasks import deliver_channel

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(deliver_channel, "delay", broker_down)
    with transaction.atomic():
        message = send(partner)
    # Committed and waiting for the sweep.
    assert state_of(message).state == State.PENDING
    assert server.requests == []
