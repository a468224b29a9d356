"""Partners' roaming endpoints on 127.0.0.1: receive the hub's deliveries and note when they arrived.

Each delivery is answered at once, so the partner's own time is nil and what a benchmark measures
between its request to the hub and the arrival here is the hub's time (plus the loopback network).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


class Arrivals:
    """Arrival times (time.monotonic) of deliveries, keyed by (path, key), with waiting."""

    def __init__(self) -> None:
        self._times: dict[tuple[str, str], float] = {}
        self._cond = threading.Condition()

    def note(self, path: str, key: str) -> None:
        with self._cond:
            self._times.setdefault((path, key), time.monotonic())
            self._cond.notify_all()

    def wait(self, path: str, key: str, *, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while (path, key) not in self._times:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._times[(path, key)]


class EndpointServer:
    """One HTTP server for all the simulated partners' endpoints (path prefixes tell them apart).

    `key_of(path, body)` names a delivery (e.g. the command id and event); `answer(path, body)`
    is the JSON answered to it.
    """

    def __init__(self, *, key_of: Callable[[str, dict[str, Any]], str | None], answer: Answer) -> None:
        self.arrivals = Arrivals()
        self.deliveries = 0
        # How long each answer took, from its headers read to the answer written: the partner's own
        # time, which the hub's time must not include.
        self.answer_ms: list[float] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer must leave at once: with Nagle's algorithm on, a small write that follows
            # another waits for the hub's delayed ACK (40 ms on Linux), which is no time of the hub's.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                received = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                key = key_of(self.path, body)
                if key is not None:
                    server.arrivals.note(self.path, key)
                server.deliveries += 1
                payload = json.dumps(answer(self.path, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                server.answer_ms.append(1000 * (time.monotonic() - received))

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep the run's output quiet

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="partner-endpoints", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
