"""Real partner endpoints for the routing tests: HTTP servers on 127.0.0.1 whose answers each test
scripts, one answer per request, recording what they receive; and short ways to write messages."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.db import connection

from clearinghouse.routing.models import DeliveryChannel, OutboxMessage
from clearinghouse.routing.services import outbox_enqueue
from clearinghouse.routing.tasks import deliver_channel
from tests.support import Onboarded

Action = Callable[["_Handler"], None]


@dataclass(frozen=True)
class Received:
    """One request as the partner's server saw it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["x-i3-message-id"]

    def json(self) -> Any:
        return json.loads(self.body)


def reply(status: int = 200, body: Any = None, *, raw: bytes | None = None) -> Action:
    """Answer with a status and a JSON body (or raw bytes)."""
    content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())

    def act(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return act


def slow(seconds: float, then: Action | None = None) -> Action:
    """Wait before answering (cut short when the test ends)."""

    def act(handler: _Handler) -> None:
        handler.server.partner.released.wait(seconds)
        (then or reply(200, {"ok": True}))(handler)

    return act


def gated(gate: threading.Event, then: Action | None = None) -> Action:
    """Hold the answer until the test opens the gate."""

    def act(handler: _Handler) -> None:
        gate.wait(5)
        (then or reply(200, {"ok": True}))(handler)

    return act


def trickle(total: int, pause: float) -> Action:
    """A 200 whose body arrives one byte at a time: each read is quick, the whole never ends in time."""

    def act(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        for _ in range(total):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            if handler.server.partner.released.wait(pause):
                return

    return act


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        partner = self.server.partner
        partner.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        partner.next_action()(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping must not hold up the test's teardown
    partner: PartnerServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the hub hung up on a slow answer: expected in timeout tests


class PartnerServer:
    """A partner's endpoint: `url` is its base URL, `requests` what it received, in order."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.default: Action = reply(200, {"ok": True})
        self.released = threading.Event()
        self._script: deque[Action] = deque()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.partner = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/i3"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def script(self, *actions: Action) -> None:
        """Answers for the next requests, in order; after them, `default`."""
        with self._lock:
            self._script.extend(actions)

    def next_action(self) -> Action:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def message_ids(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.requests]

    def wait_for(self, count: int, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def send(onboarded: Onboarded, event_type: str = "test.event", path: str = "events", **payload: Any) -> Any:
    """Write one message to a partner's CSP channel."""
    return outbox_enqueue(
        partner_id=onboarded.partner.pk,
        role="CSP",
        event_type=event_type,
        path=path,
        payload=payload or {"n": 1},
    )


def state_of(message: OutboxMessage) -> OutboxMessage:
    message.refresh_from_db()
    return message


def close_connection_after(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Run fn in a thread with its own database connection, closed when it returns."""

    def run() -> Any:
        try:
            return fn()
        finally:
            connection.close()

    return run


@contextmanager
def queued_only() -> Iterator[None]:
    """Write messages without starting their delivery (outside a transaction, on_commit callbacks
    run at once), so a test can start the workers itself. The tasks that were never sent leave no
    wake-up request behind: the next writer starts one, as after a lost task and a sweep."""
    original = deliver_channel.delay
    deliver_channel.delay = lambda *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        deliver_channel.delay = original  # type: ignore[method-assign]
        DeliveryChannel.objects.filter(wake_requested=True).update(wake_requested=False)
