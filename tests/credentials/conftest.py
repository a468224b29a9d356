"""Fixtures of the credentials tests: agreements, stored credentials, and live HTTP servers on
127.0.0.1 that play a CSP's real-time endpoint (and a CSO's endpoint receiving results)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password

from clearinghouse.lib import signing
from clearinghouse.lib.identifiers import mask, normalize_rfid_uid, parse_contract_id
from credentials.inputs import normalize_fingerprint, normalize_username
from credentials.keys import lookup_hash
from credentials.models import Credential
from partners import services as partner_services
from partners.models import Partner, RoamingAgreement
from tests.support import Onboarded

UID = "04A1B2C3D4E5F6"
PIN = "482915"
PASSWORD = "correct horse battery"
FINGERPRINT = "ab" * 32


def contract(provider: str = "NL-BMO", instance: str = "C12345678") -> str:
    return parse_contract_id(f"{provider}-{instance}").normalized()


def agree(cso: Onboarded | Partner, csp: Onboarded | Partner, **kwargs: Any) -> RoamingAgreement:
    cso_partner = cso.partner if isinstance(cso, Onboarded) else cso
    csp_partner = csp.partner if isinstance(csp, Onboarded) else csp
    return partner_services.agreement_create(cso=cso_partner, csp=csp_partner, **kwargs)


def set_endpoint(partner: Partner, url: str, roles: tuple[str, ...] | None = None) -> None:
    partner_services.endpoints_replace(
        partner=partner, endpoints=[{"role": role, "url": url} for role in (roles or partner.roles)]
    )


def make_credential(
    csp: Onboarded | Partner,
    *,
    type: str = "RFID",
    value: str = UID,
    contract_id: str | None = None,
    issuer: str = "CSP",
    status: str = "VALID",
    whitelist: str = "ALWAYS",
    pin: str | None = None,
    password: str | None = None,
    fingerprint: str = "",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Credential:
    """A stored credential, hashed the way the services store one."""
    partner = csp.partner if isinstance(csp, Onboarded) else csp
    contract_id = contract_id or contract(partner.provider_id)
    if type == "RFID":
        lookup = normalize_rfid_uid(value)
    elif type == "APP_USER":
        lookup = normalize_username(value)
    else:
        lookup = contract_id
    return Credential.objects.create(
        csp=partner,
        issuer=issuer,
        type=type,
        lookup_hash=lookup_hash(type, lookup),
        value_hint=mask(lookup),
        contract_id=contract_id,
        status=status,
        whitelist=whitelist,
        pin_hash=make_password(pin) if pin else "",
        password_hash=make_password(password) if password else "",
        certificate_fingerprint=normalize_fingerprint(fingerprint) if fingerprint else "",
        valid_from=valid_from,
        valid_until=valid_until,
    )


@pytest.fixture
def agreed(cso: Onboarded, csp: Onboarded) -> RoamingAgreement:
    return agree(cso, csp)


# --- live partner endpoints -------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    signature_ok: bool


@dataclass
class PartnerServer:
    """A partner's endpoint on 127.0.0.1: records what the hub sends, answers as told."""

    secret: str = ""
    # (status code, JSON body or None, seconds to wait first) for each request body
    respond: Callable[[Any], tuple[int, Any, float]] = lambda body: (200, {}, 0.0)
    received: list[Received] = field(default_factory=list)
    answered: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/i3"

    def bodies(self, path_end: str) -> list[Any]:
        return [r.body for r in self.received if r.path.endswith(path_end)]


def _handler(server_state: PartnerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else None
            ok = bool(server_state.secret) and signing.verify(
                server_state.secret,
                "POST",
                self.path,
                self.headers.get(signing.HEADER_TIMESTAMP, ""),
                self.headers.get(signing.HEADER_NONCE, ""),
                raw,
                self.headers.get(signing.HEADER_SIGNATURE, ""),
            )
            server_state.received.append(Received(self.path, dict(self.headers), body, raw, ok))
            code, answer, delay = server_state.respond(body)
            if delay:
                time.sleep(delay)
            payload = (
                b""
                if answer is None
                else (answer if isinstance(answer, bytes) else json.dumps(answer).encode())
            )
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the hub gave up waiting (deadline) and closed the connection
            server_state.answered += 1

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


@pytest.fixture
def partner_server() -> Iterator[Callable[[], PartnerServer]]:
    """Start as many live partner endpoints as a test needs."""
    servers: list[tuple[_QuietServer, threading.Thread]] = []

    def start() -> PartnerServer:
        state = PartnerServer()
        httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
        state.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return state

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/i3"


def settle(*servers: PartnerServer, timeout: float = 5.0) -> None:
    """Wait until every server got its question and answered it, so no question is still in
    flight when the test ends (a broadcast does not wait for the CSPs after the first acceptance)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.received and s.answered >= len(s.received) for s in servers):
            time.sleep(0.2)  # the hub's thread reads the answer
            return
        time.sleep(0.02)
    raise AssertionError("a partner server got no question")


def accept(contract_id: str | None = None, **extra: Any) -> Callable[[Any], tuple[int, Any, float]]:
    """A CSP that accepts every question (with the contract ID it knows)."""

    def respond(body: Any) -> tuple[int, Any, float]:
        answer = {
            "authorization_id": body["authorization_id"],
            "status": "ACCEPTED",
            "contract_id": contract_id or body["credential"].get("contract_id"),
            **extra,
        }
        return 200, answer, 0.0

    return respond


def answer(
    status: str, *, delay: float = 0.0, reason: str | None = None
) -> Callable[[Any], tuple[int, Any, float]]:
    def respond(body: Any) -> tuple[int, Any, float]:
        data: dict[str, Any] = {"authorization_id": body["authorization_id"], "status": status}
        if reason:
            data["reason"] = reason
        return 200, data, delay

    return respond
