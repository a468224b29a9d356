"""The simulated partners' own HTTP endpoints, where the hub delivers.

Each partner runs a ThreadingHTTPServer on 127.0.0.1 (an ephemeral port) and does what
docs/partner-endpoints.md asks of a real one: it verifies the hub's signature on every message (the
secret of the API user named in X-I3-Key-Id, the timestamp within 5 minutes, a nonce never seen
before), answers 401 otherwise, de-duplicates on X-I3-Message-Id (a repeat gets the first answer and
is not acted on again), and records what arrived so the demo can check it.

A CSP answers the real-time authorization questions from its own list of drivers; a CSO answers a
remote command at once ({"result": "ACCEPTED", "timeout": 30}) and, a moment later, reports the
charge point's outcome to the hub from its charge-point thread.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from clearinghouse.lib import signing

MAX_SKEW_SECONDS = 300
NONCE_MEMORY_SECONDS = 600
BASE_PATH = "/i3"


@dataclass(frozen=True)
class Delivery:
    """One verified message from the hub."""

    path: str  # relative to the endpoint's base URL, e.g. "authorizations"
    event_type: str
    message_id: str
    body: Any
    received_at: float


@dataclass
class Inbox:
    """What arrived at one endpoint: verified messages, repeats, refusals."""

    deliveries: list[Delivery] = field(default_factory=list)
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


Answer = tuple[int, Any]
Handler = Callable[[Delivery], Answer]


class PartnerEndpoint:
    """One partner's endpoint server. The secret is set after onboarding (the URL is needed first)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.key_id = ""
        self.secret = ""
        self.inbox = Inbox()
        self.handlers: dict[str, Handler] = {}
        self._answers: dict[str, Answer] = {}
        self._nonces: dict[str, float] = {}
        self._lock = threading.Lock()  # guards the inbox, the answers and the nonces
        self._serial = threading.Lock()  # held while one message is handled
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name=f"endpoint-{label}", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_credentials(self, *, key_id: str, secret: str) -> None:
        with self._lock:
            self.key_id = key_id
            self.secret = secret

    def on(self, path: str, handler: Handler) -> None:
        self.handlers[path] = handler

    # --- reading what arrived -------------------------------------------------------------------

    def deliveries(self, event_type: str | None = None, path: str | None = None) -> list[Delivery]:
        with self._lock:
            return [
                d
                for d in self.inbox.deliveries
                if (event_type is None or d.event_type == event_type) and (path is None or d.path == path)
            ]

    def event_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(d.event_type for d in self.inbox.deliveries)

    # --- receiving ------------------------------------------------------------------------------

    def receive(self, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Verify, de-duplicate, record and dispatch one POST; returns (status, JSON answer)."""
        problem = self._verify(target, headers, raw)
        if problem:
            with self._lock:
                self.inbox.refused.append(f"{target}: {problem}")
            return 401, {"error": {"code": "bad_signature", "message": problem}}
        message_id = headers.get("x-i3-message-id", "")
        path = target.split("?", 1)[0][len(BASE_PATH) :].strip("/")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {"error": {"code": "parse_error", "message": "not JSON"}}
        # One message at a time: a repeat that arrives while its first copy is being handled must
        # wait for that answer, not act a second time.
        with self._serial:
            with self._lock:
                if message_id and message_id in self._answers:
                    # At least once: a repeat is answered like the first time and not acted on again.
                    self.inbox.duplicates += 1
                    return self._answers[message_id]
            delivery = Delivery(path, headers.get("x-i3-event-type", ""), message_id, body, time.time())
            handler = self.handlers.get(path)
            if handler is None:
                with self._lock:
                    self.inbox.unexpected.append(f"{delivery.event_type} at /{path}")
                return 404, {"error": {"code": "not_found", "message": f"nothing is served at /{path}"}}
            answer = handler(delivery)
            with self._lock:
                self.inbox.deliveries.append(delivery)
                if message_id:
                    self._answers[message_id] = answer
            return answer

    def _verify(self, target: str, headers: dict[str, str], raw: bytes) -> str:
        if not self.secret:
            return "this endpoint has no secret yet"
        if headers.get("x-i3-key-id") != self.key_id:
            return f"unknown key id {headers.get('x-i3-key-id')!r}"
        timestamp = headers.get("x-i3-timestamp", "")
        nonce = headers.get("x-i3-nonce", "")
        try:
            signing.check_freshness(timestamp, max_skew=MAX_SKEW_SECONDS)
            signing.check_nonce_format(nonce)
        except signing.SignatureError as exc:
            return exc.message
        if not signing.verify(
            self.secret, "POST", target, timestamp, nonce, raw, headers.get("x-i3-signature", "")
        ):
            return "signature does not match"
        now = time.time()
        with self._lock:
            for old, seen in list(self._nonces.items()):
                if now - seen > NONCE_MEMORY_SECONDS:
                    del self._nonces[old]
            if nonce in self._nonces:
                return "nonce reused"
            self._nonces[nonce] = now
        return ""


def _handler_class(endpoint: PartnerEndpoint) -> type[BaseHTTPRequestHandler]:
    class EndpointHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, answer = endpoint.receive(self.path, headers, raw)
            except Exception as exc:  # a bug in a simulated partner must show, not hang the hub
                with endpoint._lock:
                    endpoint.inbox.unexpected.append(f"error at {self.path}: {type(exc).__name__}: {exc}")
                status, answer = 500, {"error": {"code": "partner_error", "message": str(exc)}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the summary reports what arrived; per-request lines would drown it

    return EndpointHandler


def ok(_: Delivery) -> Answer:
    return 200, {"received": True}


# --- CSP behaviour ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CspDecision:
    """How the CSP answers a real-time question about one of its drivers' tokens."""

    status: str
    contract_id: str = ""
    reason: str = ""


class CspDrivers:
    """The CSP's own knowledge for real-time authorization: token -> decision; UNKNOWN otherwise."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str], CspDecision] = {}
        self.questions: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def know(self, kind: str, value: str, decision: CspDecision) -> None:
        self.decisions[(kind, value.upper())] = decision

    def answer(self, delivery: Delivery) -> Answer:
        question = delivery.body or {}
        credential = question.get("credential") or {}
        with self._lock:
            self.questions.append(question)
        decision = self.decisions.get((credential.get("type", ""), str(credential.get("value", "")).upper()))
        answer: dict[str, Any] = {"authorization_id": question.get("authorization_id"), "status": "UNKNOWN"}
        if decision is not None:
            answer["status"] = decision.status
            if decision.contract_id:
                answer["contract_id"] = decision.contract_id
            if decision.reason:
                answer["reason"] = decision.reason
        return 200, answer


def serve_csp(endpoint: PartnerEndpoint, drivers: CspDrivers) -> None:
    endpoint.on("authorizations", drivers.answer)
    for path in ("evse-statuses", "sessions", "sdrs", "commands/results", "reservations"):
        endpoint.on(path, ok)


# --- CSO behaviour ----------------------------------------------------------------------------------


@dataclass
class ChargePoint:
    """The CSO's side of remote commands: accept at once, report the outcome from a worker thread."""

    report: Callable[[str, dict[str, Any]], int]  # (command id, result body) -> HTTP status
    delay: float = 0.2
    reported: list[str] = field(default_factory=list)  # command ids whose outcome the hub took
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="charge-point", daemon=True)
        self._thread.start()

    def command(self, delivery: Delivery) -> Answer:
        body = delivery.body or {}
        self._jobs.put(body)
        return 200, {"result": "ACCEPTED", "timeout": 30}

    def stop(self) -> None:
        self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            time.sleep(self.delay)  # the charge point acts, then the CSO reports the outcome
            command_id = str(job.get("command_id", ""))
            try:
                self.report(command_id, {"result": "ACCEPTED"})
                self.reported.append(command_id)
            except Exception as exc:
                self.errors.append(f"{command_id}: {type(exc).__name__}: {exc}")


def serve_cso(endpoint: PartnerEndpoint, charge_point: ChargePoint) -> None:
    endpoint.on("commands", charge_point.command)
    for path in ("authorizations/results", "sessions", "sdrs", "reservations"):
        endpoint.on(path, ok)
