"""Messages to one endpoint go out in the order written; one partner never holds up another; a
suspended partner receives nothing."""

from __future__ import annotations

import threading

import pytest
from django.utils import timezone

from clearinghouse.routing.models import OutboxMessage
from clearinghouse.routing.services import channel_deliver, delivery_hooks_register, outbox_enqueue
from partners.services import partner_reactivate, partner_suspend, partner_terminate
from tests.routing.support import close_connection_after, queued_only, reply, send, slow, state_of
from tests.support import onboard

State = OutboxMessage.State


def make_due(*messages: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(next_attempt_at=timezone.now())


@pytest.mark.django_db
def test_messages_go_out_in_the_order_written_even_when_the_first_fails_once(server, partner):
    server.script(reply(500))
    first, second, third = (send(partner, seq=i) for i in (1, 2, 3))

    assert channel_deliver(channel_id=first.channel_id) == 0
    # The head waits for its retry and the later ones wait behind it.
    assert server.message_ids() == [str(first.message_id)]
    assert state_of(second).attempts == 0 and state_of(third).attempts == 0

    # A message written meanwhile does not overtake the head either.
    fourth = send(partner, seq=4)
    assert channel_deliver(channel_id=first.channel_id) == 0
    assert len(server.requests) == 1

    make_due(first)
    assert channel_deliver(channel_id=first.channel_id) == 4
    assert [r.json()["seq"] for r in server.requests] == [1, 1, 2, 3, 4]
    assert server.message_ids() == [str(m.message_id) for m in (first, first, second, third, fourth)]
    assert all(state_of(m).state == State.DELIVERED for m in (first, second, third, fourth))


@pytest.mark.django_db
def test_a_dead_head_lets_the_channel_go_on(server, partner):
    server.script(reply(400))
    first, second = send(partner, seq=1), send(partner, seq=2)
    assert channel_deliver(channel_id=first.channel_id) == 2
    assert state_of(first).state == State.DEAD
    assert state_of(second).state == State.DELIVERED


@pytest.mark.django_db
def test_a_run_stops_after_a_batch_and_goes_on_in_a_new_task(server, partner, settings):
    settings.ROUTING_BATCH_SIZE = 2
    messages = [send(partner, seq=i) for i in range(5)]
    # The run delivers two, then re-enqueues itself (in-process here) until the queue is empty.
    assert channel_deliver(channel_id=messages[0].channel_id) == 2
    assert [r.json()["seq"] for r in server.requests] == [0, 1, 2, 3, 4]
    assert all(state_of(m).state == State.DELIVERED for m in messages)


@pytest.mark.django_db
def test_a_partners_cso_and_csp_channels_are_independent(server):
    both = onboard(name="Gamma Roaming", country="FR", party="GRO", roles=["CSO", "CSP"], endpoint=server.url)
    server.script(reply(500))
    as_csp = send(both, seq=1)
    as_cso = outbox_enqueue(
        partner_id=both.partner.pk, role="CSO", event_type="command", path="commands", payload={"seq": 2}
    )
    assert as_csp.channel_id != as_cso.channel_id
    channel_deliver(channel_id=as_csp.channel_id)
    channel_deliver(channel_id=as_cso.channel_id)
    assert state_of(as_csp).state == State.PENDING
    assert state_of(as_cso).state == State.DELIVERED


@pytest.mark.django_db
def test_a_dead_partner_does_not_block_another(server_factory, settings):
    settings.ROUTING_CONNECT_TIMEOUT = 0.3
    down, up = server_factory(), server_factory()
    down_url = down.url
    down.stop()
    dead_partner = onboard(name="Down", country="NL", party="DWN", roles=["CSP"], endpoint=down_url)
    live_partner = onboard(name="Up", country="NL", party="UPP", roles=["CSP"], endpoint=up.url)
    stuck = [send(dead_partner, seq=i) for i in range(3)]
    fine = [send(live_partner, seq=i) for i in range(3)]

    assert channel_deliver(channel_id=stuck[0].channel_id) == 0
    assert channel_deliver(channel_id=fine[0].channel_id) == 3
    assert [r.json()["seq"] for r in up.requests] == [0, 1, 2]
    assert state_of(stuck[0]).attempts == 1
    assert all(state_of(m).attempts == 0 for m in stuck[1:])


@pytest.mark.django_db(transaction=True)
def test_a_slow_partner_does_not_hold_up_another(server_factory, settings):
    settings.ROUTING_READ_TIMEOUT = 1.0
    slow_server, fast_server = server_factory(), server_factory()
    slow_partner = onboard(name="Slow", country="NL", party="SLW", roles=["CSP"], endpoint=slow_server.url)
    fast_partner = onboard(name="Fast", country="NL", party="FST", roles=["CSP"], endpoint=fast_server.url)
    slow_server.script(slow(0.5))
    with queued_only():
        slow_messages = [send(slow_partner, seq=i) for i in range(2)]
        fast_messages = [send(fast_partner, seq=i) for i in range(3)]

    # One worker is busy with the slow partner...
    worker = threading.Thread(
        target=close_connection_after(lambda: channel_deliver(channel_id=slow_messages[0].channel_id))
    )
    worker.start()
    slow_server.wait_for(1)
    # ...while another delivers the fast partner's messages at once.
    assert channel_deliver(channel_id=fast_messages[0].channel_id) == 3
    assert worker.is_alive()  # the slow partner's first answer is still on its way
    assert len(slow_server.requests) == 1
    worker.join(5)
    assert [state_of(m).state for m in slow_messages + fast_messages] == [State.DELIVERED] * 5


@pytest.mark.django_db
def test_nothing_is_written_for_a_suspended_or_terminated_partner(server, partner):
    partner_suspend(partner=partner.partner)
    assert send(partner) is None
    partner_terminate(partner=partner.partner)
    assert send(partner) is None
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_message_queued_before_the_suspension_is_dead_lettered_with_the_reason(server, partner):
    dead: list[OutboxMessage] = []
    delivery_hooks_register("test.event", on_dead=dead.append)
    server.script(reply(500))
    first, second = send(partner), send(partner)
    channel_deliver(channel_id=first.channel_id)  # one failed attempt before the suspension
    make_due(first)

    partner_suspend(partner=partner.partner)
    assert channel_deliver(channel_id=first.channel_id) == 2

    assert len(server.requests) == 1
    for message in (first, second):
        message = state_of(message)
        assert message.state == State.DEAD
        assert message.last_error == "partner is suspended: nothing is routed to it"
    assert state_of(first).attempts == 1
    assert state_of(second).attempts == 0
    assert [m.pk for m in dead] == [first.pk, second.pk]

    # After reactivation staff may send them again.
    partner_reactivate(partner=partner.partner)
    from clearinghouse.routing.services import outbox_redrive

    assert outbox_redrive(message_ids=[first.pk, second.pk]) == 2
    assert channel_deliver(channel_id=first.channel_id) == 2
    assert server.message_ids()[1:] == [str(first.message_id), str(second.message_id)]
