"""Partners' roaming endpoints on 127.0.0.1: receive the hub's deliveries and note when they arrived.

Each delivery is answered at once, so the partner's own time is nil and what a benchmark measures
between its request to the hub and the arrival here is the hub's time (plus the loopback network).
The server runs in a process of its own: in the benchmark's process it would wait for the
interpreter lock behind the benchmark's clients, and that wait would be counted as the hub's.
Arrival times are time.monotonic() of the server's process, which is the same clock on Linux.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

Answer = Callable[[str, dict[str, Any]], dict[str, Any]]
KeyOf = Callable[[str, dict[str, Any]], str | None]


class Arrivals:
    """Arrival times (time.monotonic) of deliveries, keyed by (path, key), with waiting."""

    def __init__(self) -> None:
        self._times: dict[tuple[str, str], float] = {}
        self._cond = threading.Condition()

    def note(self, path: str, key: str, at: float | None = None) -> None:
        with self._cond:
            self._times.setdefault((path, key), time.monotonic() if at is None else at)
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


def _serve(conn: Connection, key_of: KeyOf, answer: Answer) -> None:
    """The server process: answers every POST at once and reports each arrival and answer time."""
    lock = threading.Lock()

    def report(*item: Any) -> None:
        with lock:
            conn.send(item)

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
                report("arrived", self.path, key, time.monotonic())
            payload = json.dumps(answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            report("answered", 1000 * (time.monotonic() - received))

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the run's output quiet

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    report("ready", httpd.server_address[1])
    httpd.serve_forever()


class EndpointServer:
    """One HTTP server for all the simulated partners' endpoints (path prefixes tell them apart).

    `key_of(path, body)` names a delivery (e.g. the command id and event); `answer(path, body)`
    is the JSON answered to it. Both must be module-level functions (the server's process is
    spawned and imports them).
    """

    def __init__(self, *, key_of: KeyOf, answer: Answer) -> None:
        self.arrivals = Arrivals()
        self.deliveries = 0
        # How long each answer took, from its headers read to the answer written: the partner's own
        # time, which the hub's time must not include.
        self.answer_ms: list[float] = []
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve, args=(child, key_of, answer), name="partner-endpoints", daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(30):
            self._process.kill()
            raise RuntimeError("the partner endpoints' server did not start")
        kind, port = self._conn.recv()
        assert kind == "ready"
        self.port = int(port)
        self._reader = threading.Thread(target=self._read, name="partner-endpoints-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                item = self._conn.recv()
            except (EOFError, OSError):
                return
            if item[0] == "arrived":
                _kind, path, key, at = item
                self.arrivals.note(path, key, at)
            elif item[0] == "answered":
                self.deliveries += 1
                self.answer_ms.append(item[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._process.terminate()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()
