"""Embedded mode: deliveries start after commit in a background thread, not inside the request."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from tests.routing.support import reply, send, slow, state_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_writer_does_not_wait_for_a_slow_partner(settings, server, partner):
    settings.TASKS_IN_THREAD = True
    server.script(slow(1.0, then=reply(200, {"ok": True})))
    started = time.monotonic()
    with transaction.atomic():
        message = send(partner)
    assert time.monotonic() - started < 0.5
    server.wait_for(1, timeout=5)
    for _ in range(50):
        if state_of(message).state == "DELIVERED":
            break
        time.sleep(0.1)
    assert state_of(message).state == "DELIVERED"
