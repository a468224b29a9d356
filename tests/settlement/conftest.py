"""Fixtures of the SDR tests: a published world, and partner endpoints as real HTTP servers on
127.0.0.1 that record what the hub delivers to them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from clearinghouse import celery_app
from tests.settlement.sdr_support import World, build_world
from tests.support import Onboarded


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        endpoint = self.server.endpoint
        endpoint.record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        status = endpoint.status
        answer = json.dumps({"ok": status < 300}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    endpoint: Endpoint


class Endpoint:
    """A partner's endpoint: `url` is its base URL; `received` what the hub sent, in order."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.endpoint = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/i3"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self.received.append({"path": path, "headers": headers, "body": body, "json": json.loads(body)})

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                r
                for r in self.received
                if event_type is None or r["headers"]["x-i3-event-type"] == event_type
            ]

    def wait_for(self, count: int, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def endpoint_factory() -> Iterator[Callable[[], Endpoint]]:
    started: list[Endpoint] = []

    def start() -> Endpoint:
        started.append(Endpoint())
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(autouse=True)
def _routing_in_process(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Deliveries run in-process when their transaction commits; short timeouts keep failures quick.
    settings.ROUTING_CONNECT_TIMEOUT = 1.0
    settings.ROUTING_READ_TIMEOUT = 2.0
    settings.ROUTING_ALLOW_HTTP = True
    settings.TASKS_IN_THREAD = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def world(cso: Onboarded, csp: Onboarded) -> World:
    """CSO DE*ACH (location LOC1, EVSE DE*ACH*E100 with connector 1 of 22 kW, tariff T1 at
    0.30/kWh + 19 %), CSP NL-BMO without an endpoint (it pulls), an agreement since 2020."""
    return build_world(cso, csp)


class LiveWorld(World):
    """A world whose CSO and CSP have endpoints: `cso_endpoint`, `csp_endpoint`."""

    cso_endpoint: Endpoint
    csp_endpoint: Endpoint


@pytest.fixture
def live(db: Any, endpoint_factory: Callable[[], Endpoint]) -> LiveWorld:
    """CSO DE*ACH and CSP NL-BMO as in `world`, each with a live endpoint the hub delivers to."""
    from tests.support import onboard

    cso_endpoint, csp_endpoint = endpoint_factory(), endpoint_factory()
    cso = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"], endpoint=cso_endpoint.url)
    csp = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"], endpoint=csp_endpoint.url)
    built = build_world(cso, csp)
    world = LiveWorld(cso=built.cso, csp=built.csp, contract=built.contract)
    world.cso_endpoint, world.csp_endpoint = cso_endpoint, csp_endpoint
    return world
