"""Fixtures of the routing tests: partner servers, a partner that uses one, quick settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clearinghouse import celery_app
from clearinghouse.routing import hooks
from tests.routing.support import PartnerServer
from tests.support import Onboarded, onboard


@pytest.fixture
def server_factory() -> Iterator[Callable[[], PartnerServer]]:
    started: list[PartnerServer] = []

    def start() -> PartnerServer:
        started.append(PartnerServer())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[[], PartnerServer]) -> PartnerServer:
    return server_factory()


@pytest.fixture(autouse=True)
def _routing_defaults(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Short timeouts keep a misbehaving test fast; tasks run in-process so a delay() delivers at once.
    settings.ROUTING_CONNECT_TIMEOUT = 1.0
    settings.ROUTING_READ_TIMEOUT = 2.0
    settings.ROUTING_MAX_ATTEMPTS = 5
    settings.ROUTING_ALLOW_HTTP = True
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    # Hooks registered by a test are forgotten after it.
    monkeypatch.setattr(hooks, "_HOOKS", {})


@pytest.fixture
def partner(server: PartnerServer) -> Onboarded:
    """An active CSP whose endpoint is `server`."""
    return onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"], endpoint=server.url)
