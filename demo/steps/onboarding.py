"""Step: two CSOs and two CSPs onboarded with `manage.py partner_onboard`, four agreements with
`manage.py agreement_create` (both modes, both authorization sub-types), each partner's endpoint
registered and checked to refuse an unsigned message."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..context import Demo, random_text
from ..hub import HubError, Partner, login, manage
from ..partners import BASE_PATH, ChargePoint, CspDrivers, PartnerEndpoint, serve_cso, serve_csp
from ..report import Step, StepFailed

# key, role, country, first letter of the party ID, display name
PARTNERS = [
    ("cso1", "CSO", "DE", "C", "Spree Charge"),
    ("cso2", "CSO", "NL", "D", "Grachten Laden"),
    ("csp1", "CSP", "NL", "M", "Tulip Mobility"),
    ("csp2", "CSP", "DE", "P", "Autobahn eMobility"),
]
# cso, csp, mode, authorization sub-type
AGREEMENTS = [
    ("cso1", "csp1", "CLEARING_HOUSE", "CSP_ISSUED"),
    ("cso1", "csp2", "CLEARING_HOUSE", "HUB_ISSUED"),
    ("cso2", "csp1", "MIXED", "CSP_ISSUED"),
    ("cso2", "csp2", "MIXED", "HUB_ISSUED"),
]
PARTY_ATTEMPTS = 5
PROBE = f"{BASE_PATH}/sessions?probe=unsigned"


def _onboard(demo: Demo, key: str, role: str, country: str, letter: str, name: str) -> Partner:
    endpoint = PartnerEndpoint(key)
    endpoint.start()
    legal_name = f"{name} {demo.suffix} {'B.V.' if country == 'NL' else 'GmbH'}"
    for _ in range(PARTY_ATTEMPTS):
        party_id = letter + random_text(2)
        try:
            out = manage(
                "partner_onboard",
                "--name", f"{name} {demo.suffix}",
                "--country", country,
                "--party-id", party_id,
                "--roles", role,
                "--endpoint", endpoint.url,
                "--legal-name", legal_name,
                "--email", f"roaming@{party_id.lower()}.example",
                "--vat-id", f"{country}{random_text(9, '0123456789')}{'B01' if country == 'NL' else ''}",
            )  # fmt: skip
        except HubError as exc:
            if "partner_exists" in str(exc):
                continue  # that party ID is taken by an earlier run: draw another
            endpoint.stop()
            raise
        partner = Partner(key, out["name"], country, party_id, role, endpoint)
        partner.partner_id = out["partner_id"]
        partner.username, partner.password, partner.secret = (
            out["username"],
            out["password"],
            out["hmac_secret"],
        )
        endpoint.set_credentials(key_id=partner.username, secret=partner.secret)
        return partner
    endpoint.stop()
    raise HubError(f"no free party ID for {name} after {PARTY_ATTEMPTS} attempts")


def _unsigned_refused(endpoint: PartnerEndpoint) -> int:
    """Post an unsigned message to the partner's own endpoint: it must answer 401."""
    url = endpoint.url.removesuffix(BASE_PATH) + PROBE
    request = urllib.request.Request(  # noqa: S310 - our own endpoint on 127.0.0.1
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - our own endpoint
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def run(demo: Demo, step: Step) -> None:
    valid_from = f"{demo.day:%Y-%m}-01"  # agreements cover the business day the sessions are on
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(PARTNERS)) as pool:
        futures = {spec[0]: pool.submit(_onboard, demo, *spec) for spec in PARTNERS}
        errors = []
        for key, future in futures.items():
            try:
                demo.partners[key] = future.result()
            except HubError as exc:
                errors.append(f"{key}: {exc}")
    if errors:
        raise StepFailed("; ".join(errors))
    for partner in demo.partners.values():
        login(partner, demo.hub_url)
        if partner.role == "CSP":
            demo.drivers[partner.key] = CspDrivers()
            serve_csp(partner.endpoint, demo.drivers[partner.key])
        else:
            charge_point = ChargePoint(report=_reporter(partner))
            demo.charge_points[partner.key] = charge_point
            serve_cso(partner.endpoint, charge_point)

    def agree(spec: tuple[str, str, str, str]) -> dict:
        cso, csp, mode, subtype = spec
        return manage(
            "agreement_create",
            "--cso", demo.partner(cso).operator_id,
            "--csp", demo.partner(csp).provider_id,
            "--mode", mode,
            "--authorization", subtype,
            "--valid-from", valid_from,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=len(AGREEMENTS)) as pool:
        created = list(pool.map(agree, AGREEMENTS))
    step.count(
        f"4 partners ({', '.join(p.ident for p in demo.partners.values())}), 4 agreements "
        "(both modes, both authorization sub-types)"
    )
    step.count(
        f"8 runs of manage.py partner_onboard / agreement_create took {time.monotonic() - began:.1f} s; "
        f"agreements valid from {valid_from}"
    )

    for partner in demo.partners.values():
        me = partner.api.get("/partners/me")
        endpoints = [e.get("url") for e in (me.body or {}).get("endpoints", [])] if me.ok else []
        step.check(
            f"{partner.ident} logs in and has its endpoint registered", [partner.endpoint.url], endpoints
        )
        step.check(
            f"{partner.ident}'s endpoint refuses an unsigned message",
            401,
            _unsigned_refused(partner.endpoint),
        )
    modes = sorted((a["mode"], a["authorization"]) for a in created)
    step.check(
        "agreements in both modes and both sub-types",
        sorted((m, s) for *_, m, s in AGREEMENTS),
        modes,
    )
    listed = demo.partner("csp1").api.get("/agreements/")
    seen = (
        sorted((a.get("mode"), a.get("authorization")) for a in (listed.body or {}).get("results", []))
        if listed.ok
        else []
    )
    step.check(
        "CSP1 sees its two agreements (GET /agreements/)",
        [("CLEARING_HOUSE", "CSP_ISSUED"), ("MIXED", "CSP_ISSUED")],
        seen,
    )
    for partner in demo.partners.values():
        # The unsigned probes above were meant to be refused; anything else refused stays counted.
        inbox = partner.endpoint.inbox
        inbox.refused[:] = [r for r in inbox.refused if not r.startswith(PROBE)]


def _reporter(cso: Partner) -> Callable[[str, dict[str, Any]], int]:
    """How the CSO's charge point reports a command's outcome: POST /commands/{id}/result."""

    def report(command_id: str, body: dict[str, Any]) -> int:
        answer = cso.api.post(f"/commands/{command_id}/result", body)
        if not answer.ok:
            raise RuntimeError(f"HTTP {answer.status} {json.dumps(answer.body)[:200]}")
        return answer.status

    return report
