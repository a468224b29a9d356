"""Fixtures of the locations tests: publishers, agreements, documents, a live CSP endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from partners.services import agreement_create
from tests.support import Onboarded, onboard

CONFORMANCE = Path("/work/shared/conformance/ocpi-2.2.1")
if not CONFORMANCE.is_dir():  # the shared folder sits beside the checkout
    CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "ocpi-2.2.1"


def example(name: str) -> Any:
    """An official OCPI 2.2.1 example, unmodified."""
    return json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))


def make_location(
    location_id: str,
    *,
    operator: str = "DE*ACH",
    evses: int = 1,
    lat: str = "52.520008",
    lon: str = "13.404954",
    publish: bool = True,
    status: str = "AVAILABLE",
    last_updated: str = "2024-01-01T00:00:00Z",
    standard: str = "IEC_62196_T2",
    power_type: str = "AC_3_PHASE",
    volts: int = 230,
    amps: int = 16,
    max_electric_power: int | None = None,
    tariff_ids: list[str] | None = None,
    evse_prefix: str | None = None,
) -> dict[str, Any]:
    """A valid OCPI Location of the CSO with `operator`, with `evses` EVSEs of one connector."""
    country, party = operator.split("*")
    prefix = evse_prefix or location_id.upper().replace("-", "")
    connector: dict[str, Any] = {
        "id": "1",
        "standard": standard,
        "format": "CABLE",
        "power_type": power_type,
        "max_voltage": volts,
        "max_amperage": amps,
        "last_updated": last_updated,
    }
    if max_electric_power is not None:
        connector["max_electric_power"] = max_electric_power
    if tariff_ids is not None:
        connector["tariff_ids"] = tariff_ids
    return {
        "country_code": country,
        "party_id": party,
        "id": location_id,
        "publish": publish,
        "name": f"Site {location_id}",
        "address": "Hauptstrasse 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DEU",
        "coordinates": {"latitude": lat, "longitude": lon},
        "evses": [
            {
                "uid": f"{location_id}-{n}",
                "evse_id": f"{operator}*E{prefix}{n}",
                "status": status,
                "connectors": [dict(connector)],
                "last_updated": last_updated,
            }
            for n in range(1, evses + 1)
        ],
        "time_zone": "Europe/Berlin",
        "last_updated": last_updated,
    }


def agree(cso: Onboarded, csp: Onboarded, **kw: Any) -> Any:
    return agreement_create(cso=cso.partner, csp=csp.partner, **kw)


@pytest.fixture
def publisher(db) -> Any:
    """Onboard a CSO with a given operator ID (the examples carry their own, e.g. BE*BEC)."""
    made: dict[str, Onboarded] = {}

    def make(operator: str) -> Onboarded:
        if operator not in made:
            country, party = operator.split("*")
            made[operator] = onboard(name=f"CSO {operator}", country=country, party=party, roles=["CSO"])
        return made[operator]

    return make


class Received:
    """What a partner endpoint received: one entry per HTTP request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()


@pytest.fixture
def csp_endpoint() -> Iterator[tuple[str, Received]]:
    """A real HTTP server on 127.0.0.1 standing in for a CSP's endpoint; answers 200."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.lock:
                received.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "raw": body, "json": json.loads(body)}
                )
            answer = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/i3", received
    finally:
        server.shutdown()
        server.server_close()
