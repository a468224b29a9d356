"""A roaming world for the privacy tests: a CSO with a published location and tariff, a CSP with a
live real-time endpoint (a thread on 127.0.0.1), a second CSP, and a driver's contract with every
kind of credential, a session, a remote command, a reservation and SDRs, made through the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse import celery_app
from clearinghouse.lib.identifiers import make_contract_id
from credentials import services as credential_services
from partners.services import agreement_create
from tests.credentials.conftest import PartnerServer, accept, partner_server  # noqa: F401
from tests.settlement.sdr_support import cdr_doc, location_doc, publish, tariff_doc
from tests.support import Onboarded, onboard

AGREED_FROM = datetime(2020, 1, 1, tzinfo=UTC)
UID = "04A1B2C3D4E5F6"
UID_OTHER = "04FFEEDDCCBBAA"
PIN = "735918264051"
PASSWORD = "Wobbly-Tangerine-Harbour-42"
USERNAME = "jane.driver.x7"
FINGERPRINT = "c3" * 32
DRIVER = {"name": "Jane Q. Driverson", "email": "jane.driverson@example.net", "phone": "+31 6 1234 5678"}
OTHER_DRIVER = {"name": "Otto Otherman", "email": "otto@example.org", "phone": "+32 470 00 00 01"}
EVSE = "DE*ACH*E100"


@pytest.fixture(autouse=True)
def _hub(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Deliveries and routed questions run in this process, with short timeouts.
    settings.ROUTING_CONNECT_TIMEOUT = 1.0
    settings.ROUTING_READ_TIMEOUT = 2.0
    settings.ROUTING_ALLOW_HTTP = True
    settings.TASKS_IN_THREAD = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@dataclass
class World:
    cso: Onboarded
    csp: Onboarded
    other_csp: Onboarded
    server: PartnerServer
    contract: str
    other_contract: str
    foreign_contract: str  # a contract of the other CSP
    made: dict[str, Any] = field(default_factory=dict)

    @property
    def spellings(self) -> list[str]:
        """Every spelling of the contract a test erases (as the hub could have received it)."""
        from credentials.privacy.identity import contract_spellings

        forms = contract_spellings(self.contract)
        return forms + [f.lower() for f in forms]

    @property
    def secrets(self) -> list[str]:
        """The contract's credential values and the driver's personal data."""
        return [UID, "04:A1:B2:C3:D4:E5:F6", PIN, PASSWORD, USERNAME, FINGERPRINT, *DRIVER.values()]


def _contract(country: str, party: str, instance: str) -> str:
    return make_contract_id(country, party, instance)


@pytest.fixture
def world(db: Any, partner_server: Callable[[], PartnerServer]) -> World:  # noqa: F811
    server = partner_server()
    cso = onboard(
        name="Alpha Charge", country="DE", party="ACH", roles=["CSO"], endpoint="https://cso.example/i3"
    )
    csp = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"], endpoint=server.url)
    other = onboard(name="Other Mobility", country="BE", party="OTH", roles=["CSP"])
    server.secret = csp.secret
    server.respond = accept()
    for partner in (csp, other):
        agreement_create(cso=cso.partner, csp=partner.partner, valid_from=AGREED_FROM)
    operator = cso.partner.operator_id
    publish(cso, tariff_doc(operator), location_doc(operator))
    return World(
        cso=cso,
        csp=csp,
        other_csp=other,
        server=server,
        contract=_contract("NL", "BMO", "C12345678"),
        other_contract=_contract("NL", "BMO", "C87654321"),
        foreign_contract=_contract("BE", "OTH", "C11111111"),
    )


def upload_credentials(world: World) -> None:
    items = [
        {"type": "RFID", "value": UID, "contract_id": world.contract, "whitelist": "ALWAYS",
         "driver": DRIVER},
        {"type": "QR_STATIC", "contract_id": world.contract, "pin": PIN, "whitelist": "NEVER"},
        {"type": "APP_USER", "value": USERNAME, "contract_id": world.contract, "password": PASSWORD},
        {"type": "PNC", "contract_id": world.contract, "certificate_fingerprint": FINGERPRINT},
        {"type": "RFID", "value": UID_OTHER, "contract_id": world.other_contract, "whitelist": "ALWAYS",
         "driver": OTHER_DRIVER},
    ]  # fmt: skip
    r = world.csp.client.post("/credentials/", items)
    assert r.status_code == 200, r.content
    assert [item["status"] for item in r.json()["results"]] == ["created"] * 5, r.content
    r = world.other_csp.client.post(
        "/credentials/",
        [
            {
                "type": "RFID",
                "value": "04ABABABABABAB",
                "contract_id": world.foreign_contract,
                "whitelist": "ALWAYS",
            }
        ],
    )
    assert r.status_code == 200, r.content


def authorize(world: World, credential: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else None
    r = world.cso.client.post(
        "/authorizations/", {"evse_id": f"{EVSE}*1", "credential": credential}, headers=headers
    )
    assert r.status_code in (200, 202), r.content
    body = r.json()
    if body["status"] == "PENDING":
        # The routed question, asked of the CSP's live endpoint now (a worker would after commit).
        credential_services.authorization_route(authorization_id=body["authorization_id"])
        body = world.cso.client.get(f"/authorizations/{body['authorization_id']}").json()
    return body


def session_start(
    world: World, session_id: str, contract: str, reference: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "id": session_id,
        "evse_id": EVSE,
        "connector_id": "1",
        "contract_id": contract,
        "authorization_reference": reference,
        "start_date_time": "2025-03-04T10:00:00Z",
        "currency": "EUR",
        "meter_id": "M-7",
        "last_updated": "2025-03-04T10:00:00Z",
        **extra,
    }
    r = world.cso.client.post("/sessions/", body)
    assert r.status_code == 201, r.content
    return r.json()


def session_end(world: World, session_id: str) -> None:
    r = world.cso.client.patch(
        f"/sessions/{session_id}",
        {
            "status": "COMPLETED",
            "end_date_time": "2025-03-04T12:00:00Z",
            "kwh": 20,
            "total_cost": {"excl_vat": 6.0, "incl_vat": 7.14},
            "charging_periods": [
                {"start_date_time": "2025-03-04T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 20}]}
            ],
            "last_updated": "2025-03-04T12:00:00Z",
        },
    )
    assert r.status_code == 200, r.content


def command(world: World, body: dict[str, Any], result: str = "ACCEPTED") -> dict[str, Any]:
    r = world.csp.client.post("/commands/", body)
    assert r.status_code == 201, r.content
    command_id = r.json()["id"]
    r = world.cso.client.post(f"/commands/{command_id}/result", {"result": result, "message": "done"})
    assert r.status_code == 200, r.content
    return r.json()


def sdr(
    world: World, contract: str, sdr_id: str, *, uid: str = UID, spelled: str | None = None, **kw: Any
) -> dict[str, Any]:
    """An SDR through the API; `spelled` is how the CDR writes the contract ID."""
    if "days_ago" in kw:
        day = (timezone.now() - timedelta(days=kw.pop("days_ago"))).date().isoformat()
        start, end = f"{day}T10:00:00Z", f"{day}T12:00:00Z"
        kw.update(
            start_date_time=start,
            end_date_time=end,
            last_updated=end,
            charging_periods=[
                {
                    "start_date_time": start,
                    "tariff_id": "T1",
                    "dimensions": [{"type": "ENERGY", "volume": 20.0}],
                }
            ],
        )
    doc = cdr_doc(world.cso.partner.operator_id, contract, sdr_id=sdr_id, **kw)
    doc["cdr_token"]["uid"] = uid
    if spelled:
        doc["cdr_token"]["contract_id"] = spelled
    r = world.cso.client.post("/sdrs/", doc)
    assert r.status_code == 201, r.content
    return r.json()


def populate(world: World) -> None:
    """The contract's life at the hub, through the API: credentials with personal data, authorizations
    (decided by the hub and routed to the CSP), a finished session, commands and a reservation, SDRs
    (one accepted), an idempotent replayable answer; and the same for the other contract."""
    upload_credentials(world)
    started = authorize(world, {"type": "RFID", "value": UID}, key="auth-1")
    assert started["status"] == "ACCEPTED" and started["contract_id"] == world.contract
    routed = authorize(world, {"type": "QR_STATIC", "value": world.contract, "pin": PIN})
    assert routed["status"] == "ACCEPTED" and routed["decided_by"] == "CSP", routed
    authorize(world, {"type": "APP_USER", "value": USERNAME, "password": PASSWORD})
    authorize(world, {"type": "PNC", "value": world.contract, "certificate_fingerprint": FINGERPRINT})
    other = authorize(world, {"type": "RFID", "value": UID_OTHER})
    compact = world.contract.replace("-", "")
    session_start(
        world,
        "S-1",
        compact,
        started["authorization_reference"],
        cdr_token={
            "uid": UID,
            "type": "RFID",
            "contract_id": compact.lower(),
            "country_code": "NL",
            "party_id": "BMO",
        },
    )
    session_end(world, "S-1")
    session_start(world, "S-OTHER", world.other_contract, other["authorization_reference"])
    session_end(world, "S-OTHER")
    command(world, {"type": "START_SESSION", "evse_id": f"{EVSE}", "contract_id": world.contract})
    expiry = (timezone.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    command(
        world,
        {
            "type": "RESERVE_NOW",
            "evse_id": EVSE,
            "contract_id": world.contract,
            "reservation_id": "R-1",
            "expiry": expiry,
        },
    )
    command(world, {"type": "CANCEL_RESERVATION", "reservation_id": "R-1"}, result="CANCELED_RESERVATION")
    accepted = sdr(world, world.contract, "SDR-1", session_id="S-1", days_ago=5)
    r = world.csp.client.post(f"/sdrs/{accepted['id']}/accept", {})
    assert r.status_code == 200, r.content
    sdr(world, world.contract, "SDR-2", spelled=compact.lower(), days_ago=40)
    sdr(world, world.other_contract, "SDR-3", uid=UID_OTHER, days_ago=2)
    world.made["reference"] = started["authorization_reference"]
