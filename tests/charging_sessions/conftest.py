"""A roaming world for commands and sessions: a CSO and a CSP with live HTTP endpoints on
127.0.0.1, an agreement, a published location, and a contract with a credential.

The partners' servers record what the hub sends them and answer as each test scripts.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse import celery_app
from clearinghouse.lib import signing
from clearinghouse.lib.identifiers import make_contract_id
from clearinghouse.routing.models import OutboxMessage
from credentials import services as credential_services
from credentials.inputs import parse_authorization_request
from locations import services as location_services
from partners import services as partner_services
from tests.support import Onboarded, onboard

EVSE_ID = "DE*ACH*E100*1"
OTHER_EVSE_ID = "DE*ACH*E100*2"


# --- live partner endpoints -----------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the partner's server saw it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_type(self) -> str:
        return self.headers.get("x-i3-event-type", "")


Answer = tuple[int, Any]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        endpoint = self.server.endpoint
        endpoint.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status, answer = endpoint.next_answer()
        content = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    endpoint: PartnerEndpoint


class PartnerEndpoint:
    """A partner's endpoint: `url` is its base URL; `requests` what it received, in order."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.default: Answer = (200, {"ok": True})
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.endpoint = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/i3"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def answer(self, *answers: Answer) -> None:
        """Answers for the next requests, in order; after them, `default`."""
        with self._lock:
            self._script.extend(answers)

    def next_answer(self) -> Answer:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def events(self) -> list[str]:
        with self._lock:
            return [r.event_type for r in self.requests]

    def last(self, event_type: str) -> Any:
        with self._lock:
            matching = [r for r in self.requests if r.event_type == event_type]
        assert matching, f"no {event_type} among {self.events()}"
        return matching[-1].json()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def endpoints() -> Iterator[Callable[[], PartnerEndpoint]]:
    started: list[PartnerEndpoint] = []

    def start() -> PartnerEndpoint:
        started.append(PartnerEndpoint())
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(autouse=True)
def _hub_defaults(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Short timeouts keep a misbehaving test fast; tasks run in-process so a delivery happens at once.
    settings.ROUTING_CONNECT_TIMEOUT = 1.0
    settings.ROUTING_READ_TIMEOUT = 2.0
    settings.ROUTING_ALLOW_HTTP = True
    settings.HUB_PUBLIC_URL = "https://hub.example"
    settings.COMMAND_DEFAULT_TIMEOUT_SECONDS = 60
    settings.COMMAND_RESULT_GRACE_SECONDS = 30
    settings.SESSION_PROGRESS_MIN_INTERVAL_SECONDS = 300
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


# --- the world ------------------------------------------------------------------------------------


def contract_id(instance: str = "C00000001", provider: str = "NL-BMO") -> str:
    country, party = provider.split("-")
    return make_contract_id(country, party, instance)


def connector(connector_id: str) -> dict[str, Any]:
    return {
        "id": connector_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "last_updated": "2024-01-01T00:00:00Z",
    }


def location_doc(
    *, country: str, party: str, location_id: str, evses: list[tuple[str, str, list[str]]]
) -> dict[str, Any]:
    """A small valid OCPI location: evses are (uid, EVSE ID, connector ids)."""
    return {
        "country_code": country,
        "party_id": party,
        "id": location_id,
        "publish": True,
        "name": "Test site",
        "address": "Teststrasse 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": "Europe/Berlin",
        "evses": [
            {
                "uid": uid,
                "evse_id": evse_id,
                "status": "AVAILABLE",
                "capabilities": ["REMOTE_START_STOP_CAPABLE", "RESERVABLE"],
                "connectors": [connector(c) for c in connectors],
                "last_updated": "2024-01-01T00:00:00Z",
            }
            for uid, evse_id, connectors in evses
        ],
        "last_updated": "2024-01-01T00:00:00Z",
    }


def publish_location(cso: Onboarded, doc: dict[str, Any]) -> None:
    partner = cso.partner
    location_services.location_put(
        cso_id=partner.pk, operator_id=partner.operator_id, location_id=doc["id"], body=doc
    )


def upload_credential(
    csp: Onboarded, contract: str, *, whitelist: str = "ALWAYS", uid: str = "04A1B2C3D4E5F6"
) -> None:
    results = credential_services.credentials_upload(
        csp_id=csp.partner.pk,
        provider_id=csp.partner.provider_id,
        items=[
            {"type": "RFID", "value": uid, "contract_id": contract, "status": "VALID", "whitelist": whitelist}
        ],
    )
    assert results[0].status == "created", results


@dataclass
class World:
    cso: Onboarded
    csp: Onboarded
    cso_endpoint: PartnerEndpoint
    csp_endpoint: PartnerEndpoint
    contract_id: str
    evse_id: str = EVSE_ID
    location_id: str = "LOC-1"
    evse_uid: str = "E100-1"


def build_world(endpoints: Callable[[], PartnerEndpoint], *, mode: str = "CLEARING_HOUSE") -> World:
    cso_endpoint, csp_endpoint = endpoints(), endpoints()
    cso = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"], endpoint=cso_endpoint.url)
    csp = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"], endpoint=csp_endpoint.url)
    partner_services.agreement_create(cso=cso.partner, csp=csp.partner, mode=mode)
    publish_location(
        cso,
        location_doc(
            country="DE",
            party="ACH",
            location_id="LOC-1",
            evses=[("E100-1", EVSE_ID, ["1", "2"]), ("E100-2", OTHER_EVSE_ID, ["1"])],
        ),
    )
    contract = contract_id()
    upload_credential(csp, contract)
    # The CSO accepts commands at once unless a test says otherwise.
    cso_endpoint.default = (200, {"result": "ACCEPTED", "timeout": 30})
    return World(cso=cso, csp=csp, cso_endpoint=cso_endpoint, csp_endpoint=csp_endpoint, contract_id=contract)


@pytest.fixture
def world(db: Any, endpoints: Callable[[], PartnerEndpoint]) -> World:
    return build_world(endpoints)


@pytest.fixture
def live_world(transactional_db: Any, endpoints: Callable[[], PartnerEndpoint]) -> World:
    """The world with real commits: deliveries run when a write commits, as in production."""
    return build_world(endpoints)


def verify_signed(world_partner: Onboarded, received: Received) -> bool:
    """The hub signs what it sends with the receiving partner's secret."""
    headers = received.headers
    return signing.verify(
        world_partner.secret,
        "POST",
        received.path,
        headers["x-i3-timestamp"],
        headers["x-i3-nonce"],
        received.body,
        headers["x-i3-signature"],
    )


# --- a clock the tests can move -------------------------------------------------------------------


class Clock:
    """Moves the hub's notion of now (django.utils.timezone.now) forward."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._real = timezone.now
        self.offset = timedelta()
        monkeypatch.setattr(timezone, "now", self.now)

    def now(self) -> datetime:
        return self._real() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# --- shortcuts ------------------------------------------------------------------------------------


def authorize(world: World, *, uid: str = "04A1B2C3D4E5F6", evse_id: str = EVSE_ID) -> Any:
    """A real-time authorization of the world's RFID card at the CSO's EVSE (the credentials app)."""
    request = parse_authorization_request({"evse_id": evse_id, "credential": {"type": "RFID", "value": uid}})
    partner = world.cso.partner
    return credential_services.authorization_request(
        cso_id=partner.pk, cso_operator_id=partner.operator_id, request=request
    )


def messages_to(onboarded: Onboarded, role: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(partner=onboarded.partner, role=role).order_by("id"))


def events_to(onboarded: Onboarded, role: str) -> list[str]:
    return [m.event_type for m in messages_to(onboarded, role)]
