"""A roaming world on a private hub, made the way operators and partners make it: partners onboarded
and the agreement made with the management commands, then the tariff, the location and the driver's
card published through the signed API. Both partners' endpoints are live Receivers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tests.reliability.signed import Partner
from tests.reliability.stack import Hub, Receiver
from tests.settlement.sdr_support import cdr_doc, contract_of, location_doc, tariff_doc

UID = "04A1B2C3D4E5F6"


@dataclass
class HubWorld:
    hub: Hub
    cso: Partner
    csp: Partner
    cso_endpoint: Receiver
    csp_endpoint: Receiver
    contract: str
    operator: str = "DE*ACH"

    @property
    def evse_id(self) -> str:
        return f"{self.operator}*E100"

    def cdr(self, sdr_id: str, **overrides: Any) -> dict[str, Any]:
        """A valid SDR of the world's session: 20 kWh at 0.30/kWh + 19 %."""
        return cdr_doc(self.operator, self.contract, sdr_id=sdr_id, **overrides)

    def authorization(self) -> dict[str, Any]:
        """An authorization the hub answers from its own data: the card is uploaded, policy ALWAYS."""
        return {"evse_id": self.evse_id, "credential": {"type": "RFID", "value": UID}}

    def session(self, session_id: str) -> dict[str, Any]:
        return {
            "id": session_id,
            "evse_id": self.evse_id,
            "connector_id": "1",
            "contract_id": self.contract,
            "auth_method": "WHITELIST",
            "start_date_time": "2025-03-04T10:00:00Z",
            "currency": "EUR",
            "last_updated": "2025-03-04T10:00:00Z",
        }

    def describe(self) -> dict[str, Any]:
        """What a separate load process needs to act as the two partners."""
        return {
            "base_url": self.hub.base_url,
            "cso": {"username": self.cso.username, "password": self.cso.password, "secret": self.cso.secret},
            "csp": {"username": self.csp.username, "password": self.csp.password, "secret": self.csp.secret},
            "evse_id": self.evse_id,
            "evse_uid": "LOC1-1",
            "location_id": "LOC1",
            "contract": self.contract,
            "uid": UID,
            "cdr_template": self.cdr("TEMPLATE"),
            "session_template": self.session("TEMPLATE"),
        }


def _onboard(hub: Hub, name: str, country: str, party: str, role: str, endpoint: str) -> Partner:
    argv = [
        "partner_onboard", "--name", name, "--country", country, "--party-id", party, "--roles", role,
        "--endpoint", endpoint,
    ]  # fmt: skip
    issued = json.loads(hub.manage(*argv))
    return Partner(
        hub.base_url, username=issued["username"], password=issued["password"], secret=issued["hmac_secret"]
    )


def build(hub: Hub, *, start: Callable[[], None] | None = None) -> HubWorld:
    """CSO DE*ACH (tariff T1, location LOC1 with EVSE DE*ACH*E100) and CSP NL-BMO (card UID uploaded,
    policy ALWAYS) with a clearing-house agreement since 2020; both endpoints up.

    `start` (starting the hub's processes) runs while the partners are onboarded, which needs only
    the database; the API calls wait for both.
    """
    cso_endpoint, csp_endpoint = Receiver().start(), Receiver().start()
    with ThreadPoolExecutor(3) as pool:
        started = pool.submit(start or (lambda: None))
        cso_job = pool.submit(_onboard, hub, "Alpha Charge", "DE", "ACH", "CSO", cso_endpoint.url)
        csp_job = pool.submit(_onboard, hub, "Beta Mobility", "NL", "BMO", "CSP", csp_endpoint.url)
        cso, csp = cso_job.result(), csp_job.result()
        hub.manage("agreement_create", "--cso", "DE*ACH", "--csp", "NL-BMO", "--valid-from", "2020-01-01")
        started.result()
    world = HubWorld(hub, cso.login(), csp.login(), cso_endpoint, csp_endpoint, contract_of("NL", "BMO"))
    for path, doc in (
        ("/tariffs/T1", tariff_doc(world.operator)),
        ("/locations/LOC1", location_doc(world.operator)),
    ):
        answer = cso.put(path, doc)
        assert answer.status_code in (200, 201), (path, answer.status_code, answer.text[:300])
    card = {"type": "RFID", "value": UID, "contract_id": world.contract, "whitelist": "ALWAYS"}
    answer = csp.post("/credentials/?mode=delta", [card])
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "created", answer.text[:300]
    return world
