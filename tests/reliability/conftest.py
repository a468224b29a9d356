"""Fixtures of the reliability suite: the private PostgreSQL + Redis shared by the fault tests (and
the soak), and a fresh hub of real processes on a fresh database for each test that asks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.stack import Hub, Stack, private_stack

# Quick retries and sweeps, so a fault test sees many of them within seconds.
FAST_ROUTING = {
    "ROUTING_BACKOFF_BASE_SECONDS": 0.2,
    "ROUTING_BACKOFF_CAP_SECONDS": 1.0,
    "ROUTING_MAX_ATTEMPTS": 1000,
    "ROUTING_CONNECT_TIMEOUT": 1.0,
    "ROUTING_READ_TIMEOUT": 3.0,
    "ROUTING_SWEEP_SECONDS": 1,
    "I3_THROTTLE_DEFAULT": "100000/s",
    "I3_THROTTLE_AUTHORIZATION": "100000/s",
    "I3_THROTTLE_BULK": "100000/s",
}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """A PostgreSQL cluster and a Redis of the suite's own, on free ports, with a migrated template."""
    with private_stack() as started:
        yield started


@pytest.fixture
def hub_factory(stack: Stack) -> Iterator[Any]:
    """Make hubs (not started) on fresh databases; every process they start is stopped afterwards."""
    made: list[Hub] = []

    def make(**settings: Any) -> Hub:
        made.append(stack.hub(**{**FAST_ROUTING, **settings}))
        return made[-1]

    yield make
    for hub in made:
        hub.stop()
    stack.ensure_up()
