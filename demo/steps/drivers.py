"""Steps: the CSPs' drivers get credentials (uploaded by a CSP, or issued by the hub), then present
them at the CSOs' charge points: every credential type, hub decisions and real-time questions to a
CSP, an unknown card, blocked ones, a wrong PIN, a dynamic QR code used twice, a driver's stop."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from clearinghouse.lib.identifiers import make_contract_id

from ..context import Demo, Started, Token, random_rfid, random_text
from ..partners import CspDecision
from ..report import Step, StepFailed
from ..wait import wait_for

PREFER_WAIT = {"Prefer": "wait=8"}
BURST = 40  # extra hub-decided authorizations, for honest latency percentiles
DRIVERS = ["Femke de Vries", "Bram Jansen", "Sanne Bakker", "Daan Visser", "Anna Smit", "Lars Mulder"]


def _fingerprint() -> str:
    """SHA-256 of a (made-up) ISO 15118 contract certificate."""
    return hashlib.sha256(secrets.token_bytes(64)).hexdigest()


def _contract(partner_country: str, party_id: str) -> str:
    return make_contract_id(partner_country, party_id, "C" + random_text(8, "0123456789"))


def credentials(demo: Demo, step: Step) -> None:
    csp1, csp2 = demo.partner("csp1"), demo.partner("csp2")
    words = random_text(4).lower()

    def mine() -> str:
        return _contract(csp1.country, csp1.party_id)

    uploads = [
        Token("rfid_always", "csp1", "RFID", random_rfid(), mine(), "CSP"),
        Token("rfid_allowed", "csp1", "RFID", random_rfid(), mine(), "CSP"),
        Token("rfid_blocked", "csp1", "RFID", random_rfid(), mine(), "CSP"),
        Token("qr_static", "csp1", "QR_STATIC", "", mine(), "CSP", pin="2468"),
        Token("app_user", "csp1", "APP_USER", f"anna.{words}@tulip.example", mine(), "CSP",
              password="anna-rides-EV-2026"),
        Token("pnc", "csp1", "PNC", "", mine(), "CSP", fingerprint=_fingerprint()),
    ]  # fmt: skip
    policy = {"rfid_allowed": "ALLOWED"}
    items: list[dict[str, Any]] = []
    for token, name in zip(uploads, DRIVERS, strict=False):
        if not token.value:
            token.value = token.contract_id
        item: dict[str, Any] = {
            "type": token.type,
            "value": token.value,
            "contract_id": token.contract_id,
            "status": "BLOCKED" if token.label == "rfid_blocked" else "VALID",
            "whitelist": policy.get(token.label, "ALWAYS"),
            "visual_number": f"{csp1.provider_id}-{token.label}",
            "pin": token.pin,
            "password": token.password,
            "certificate_fingerprint": token.fingerprint,
            "driver": {"name": name, "email": f"{name.split()[0].lower()}.{words}@drivers.example"},
        }
        items.append(item)
        demo.tokens[token.label] = token
    # One item carries another CSP's contract: the hub refuses it and keeps the others.
    items.append({**items[0], "value": random_rfid(), "contract_id": _contract(csp2.country, csp2.party_id)})
    answer = csp1.api.post("/credentials/?mode=delta", items)
    counts = answer.body.get("counts") if answer.ok else answer.body
    step.check(
        f"{csp1.ident} uploads {len(items)} credentials (delta)", {"created": 6, "rejected": 1}, counts
    )
    if not answer.ok:
        raise StepFailed(f"upload failed: HTTP {answer.status}")
    for result in answer.body["results"]:
        if result["status"] == "created":
            uploads[result["index"]].credential_id = result["id"]
        else:
            step.check(
                "the foreign contract is refused", "contract_not_yours", result.get("error", {}).get("code")
            )

    # A card the CSP never uploaded: only its real-time endpoint knows it.
    private = Token("rfid_private", "csp1", "RFID", random_rfid(), mine(), "CSP")
    demo.tokens[private.label] = private
    drivers = demo.drivers["csp1"]
    drivers.know("RFID", private.value, CspDecision("ACCEPTED", private.contract_id, "CONTRACT_ACTIVE"))
    drivers.know("RFID", demo.tokens["rfid_allowed"].value, CspDecision("ACCEPTED", reason="CONTRACT_ACTIVE"))

    issues = [
        ("hub_rfid", {"type": "RFID", "value": random_rfid(), "whitelist": "ALLOWED"}),
        ("hub_app", {"type": "APP_USER", "driver": {"name": "Ben Autobahn"}}),
        ("hub_qr", {"type": "QR_STATIC", "generate_pin": True}),
        ("hub_dyn", {"type": "QR_DYNAMIC"}),
        ("hub_pnc", {"type": "PNC", "certificate_fingerprint": _fingerprint()}),
        ("hub_blocked", {"type": "RFID", "value": random_rfid()}),
    ]
    issued = 0
    for label, request in issues:
        answer = csp2.api.post("/credentials/issue", request, idempotent=True)
        body = answer.body if isinstance(answer.body, dict) else {}
        shown = bool(body.get("value")) and (request["type"] != "APP_USER" or bool(body.get("password")))
        if request.get("generate_pin"):
            shown = shown and bool(body.get("pin"))
        step.check_that(
            f"{csp2.ident} has the hub issue a {request['type']} credential",
            answer.status == 201 and shown and body.get("issuer") == "HUB",
            "201, issuer HUB, values shown once",
            f"{answer.status}, issuer {body.get('issuer')}, values shown: {shown}",
        )
        if answer.status != 201:
            continue
        issued += 1
        demo.tokens[label] = Token(
            label, "csp2", request["type"], body["value"], body["contract_id"], "HUB", body["id"],
            pin=body.get("pin"), password=body.get("password"),
            fingerprint=request.get("certificate_fingerprint"),
        )  # fmt: skip
    blocked = demo.tokens.get("hub_blocked")
    if blocked is not None:
        answer = csp2.api.patch(f"/credentials/{blocked.credential_id}", {"status": "BLOCKED"})
        step.check(
            "the CSP blocks a lost hub-issued card (PATCH)",
            (200, "BLOCKED"),
            (answer.status, (answer.body or {}).get("status")),
        )
    listed = csp2.api.get("/credentials/?limit=100")
    hints = [c.get("value_hint", "") for c in (listed.body or {}).get("results", [])] if listed.ok else []
    step.check_that(
        "the hub lists credentials with masked hints only",
        listed.ok and len(hints) == issued and all(h.startswith("…") for h in hints),
        f"{issued} credentials, every value masked",
        f"{len(hints)} listed: {hints[:3]}",
    )
    hub_contract = demo.tokens["hub_rfid"].contract_id if "hub_rfid" in demo.tokens else ""
    step.count(
        f"{csp1.ident} uploaded 6 (RFID x3, QR_STATIC+PIN, APP_USER, PNC; 1 refused); "
        f"{csp2.ident} had the hub issue {issued} (contracts like {hub_contract})"
    )


@dataclass(frozen=True)
class Case:
    """One driver at one charge point, and the decision the hub must give."""

    label: str
    cso: str
    token: str
    status: str
    reason: str
    decided_by: str
    csp: str | None = None
    evse: str = ""  # uid of the EVSE; "" for the CSO's first one
    session: str = ""  # the session that will quote the reference
    presented: dict[str, Any] | None = None
    prefer: bool = True  # Prefer: wait=8, so a routed question is answered with its decision
    routed: bool = False  # the hub asks a CSP's real-time endpoint


# Shorthands of the expected decisions: (status, reason, decided_by).
HUB_ALWAYS = ("ACCEPTED", "WHITELIST_ALWAYS", "HUB")
HUB_ISSUED = ("ACCEPTED", "HUB_ISSUED", "HUB")
BY_CSP = ("ACCEPTED", "CONTRACT_ACTIVE", "CSP")
BLOCKED = ("BLOCKED", "CREDENTIAL_BLOCKED", "HUB")


def _cases() -> list[Case]:
    return [
        Case("RFID card, whitelist ALWAYS", "cso1", "rfid_always", *HUB_ALWAYS, "csp1", "101", "S-A"),
        Case("app user with password", "cso1", "app_user", *HUB_ALWAYS, "csp1", "102"),
        Case("static QR code with PIN", "cso2", "qr_static", *HUB_ALWAYS, "csp1", "101", "S-C"),
        Case("static QR code, wrong PIN", "cso2", "qr_static", "REJECTED", "INVALID_PIN", "HUB",
             presented={"pin": "1111"}),
        Case("Plug & Charge certificate", "cso2", "pnc", *HUB_ALWAYS, "csp1", "103"),
        Case("RFID, whitelist ALLOWED: asked to its CSP (202, then read)", "cso1", "rfid_allowed", *BY_CSP,
             "csp1", "103", "S-B", prefer=False, routed=True),
        Case("RFID only its CSP knows: asked to every CSP", "cso1", "rfid_private", *BY_CSP, "csp1", "202",
             routed=True),
        Case("unknown RFID card: asked to every CSP, nobody accepts", "cso2", "rfid_unknown", "UNKNOWN",
             "NO_CSP_ACCEPTED", "HUB", routed=True),
        Case("blocked RFID card (uploaded BLOCKED)", "cso1", "rfid_blocked", *BLOCKED),
        Case("hub-issued RFID card", "cso1", "hub_rfid", *HUB_ISSUED, "csp2", "201", "S-D"),
        Case("hub-issued app user", "cso2", "hub_app", *HUB_ISSUED, "csp2", "102"),
        Case("hub-issued static QR code with PIN", "cso2", "hub_qr", *HUB_ISSUED, "csp2", "202"),
        Case("dynamic QR code", "cso2", "hub_dyn", *HUB_ISSUED, "csp2", "201", "S-E"),
        Case("the same dynamic QR code again", "cso2", "hub_dyn_again", "REJECTED", "CODE_USED", "HUB"),
        Case("hub-issued Plug & Charge", "cso2", "hub_pnc", *HUB_ISSUED, "csp2", "103", "S-F"),
        Case("hub-issued card, blocked by its CSP", "cso1", "hub_blocked", *BLOCKED),
        Case("unknown app user", "cso1", "app_unknown", "UNKNOWN", "UNKNOWN_CREDENTIAL", "HUB"),
    ]  # fmt: skip


def _evse_id(demo: Demo, cso: str, uid: str) -> str:
    evses = demo.networks[cso].evses(published=True)
    return next((e.evse_id for e in evses if e.uid == uid), evses[0].evse_id)


def _presented(demo: Demo, case: Case, codes: dict[str, str]) -> dict[str, Any]:
    if case.token == "rfid_unknown":
        return {"type": "RFID", "value": random_rfid()}
    if case.token == "app_unknown":
        return {
            "type": "APP_USER",
            "value": f"nobody.{random_text(6).lower()}",
            "password": "not-a-password-1",
        }
    if case.token in ("hub_dyn", "hub_dyn_again"):
        return {"type": "QR_DYNAMIC", "value": codes["hub_dyn"]}
    return demo.tokens[case.token].presented(**(case.presented or {}))


def authorize(demo: Demo, step: Step) -> None:
    csp2 = demo.partner("csp2")
    codes: dict[str, str] = {}
    dynamic = demo.tokens.get("hub_dyn")
    if dynamic is None:
        raise StepFailed("the dynamic QR credential was not issued")
    answer = csp2.api.get(f"/credentials/{dynamic.credential_id}/dynamic-qr")
    step.check_that(
        "the CSP gets a dynamic QR code for its driver's app",
        answer.ok and str((answer.body or {}).get("code", "")).startswith("I3Q1."),
        "200 with an I3Q1. code",
        f"{answer.status} {str(answer.body)[:80]}",
    )
    codes["hub_dyn"] = (answer.body or {}).get("code", "")
    questions_before = {k: len(d.questions) for k, d in demo.drivers.items()}
    decided: dict[str, dict[str, Any]] = {}
    for number, case in enumerate(_cases(), start=1):
        cso = demo.partner(case.cso)
        evse_id = _evse_id(demo, case.cso, case.evse)
        body = {
            "evse_id": evse_id,
            "credential": _presented(demo, case, codes),
            "cso_session_id": f"tx-{number}",
        }
        headers = dict(PREFER_WAIT) if case.prefer else {}
        answer, seconds = cso.api.timed_post("/authorizations/", body, headers)
        result = answer.body if isinstance(answer.body, dict) else {}
        if not case.prefer and answer.status == 202:
            authorization_id = result.get("authorization_id")

            def decided_now(
                authorization_id: Any = authorization_id, cso: Any = cso
            ) -> dict[str, Any] | None:
                read = cso.api.get(f"/authorizations/{authorization_id}")
                return read.body if read.ok and read.body.get("status") != "PENDING" else None

            step.check(
                "a question routed to the CSP is answered 202 PENDING", "PENDING", result.get("status")
            )
            result = wait_for(decided_now, timeout=10.0) or result
        else:
            demo.latency("routed" if case.routed else "hub", seconds)
        got = (result.get("status"), result.get("reason"), result.get("decided_by"))
        want = (case.status, case.reason, case.decided_by)
        if case.csp:
            got += (result.get("csp"),)
            want += (demo.partner(case.csp).provider_id,)
        step.check(f"{case.label} at {cso.ident}", want, got)
        decided[case.label] = result
        if case.session and result.get("status") == "ACCEPTED":
            token = demo.tokens[case.token]
            demo.starts[case.session] = Started(
                label=case.session,
                cso=case.cso,
                csp=case.csp or "",
                evse_id=evse_id,
                contract_id=result["contract_id"],
                reference=result["authorization_reference"],
                token_type=_cdr_token_type(token.type),
                token_uid=token.value if token.type in ("RFID", "APP_USER") else token.contract_id,
            )
    routed = [c for c in _cases() if c.routed]
    asked = {k: len(d.questions) - questions_before[k] for k, d in demo.drivers.items()}
    # The ALLOWED card goes to its own CSP only; unknown cards go to every CSP with an agreement.
    step.check("real-time questions received by the CSPs' endpoints", {"csp1": 3, "csp2": 2}, asked)
    _driver_stop(demo, step, decided)
    _result_delivery(demo, step, decided)
    _burst(demo, step)
    step.count(
        f"{len(_cases())} authorizations ({len(routed)} routed to CSPs in real time) + {BURST} more "
        f"for latency; a driver's stop accepted, a stranger's refused"
    )


def _cdr_token_type(kind: str) -> str:
    return {"RFID": "RFID", "APP_USER": "APP_USER"}.get(kind, "OTHER")


def _driver_stop(demo: Demo, step: Step, decided: dict[str, dict[str, Any]]) -> None:
    start = decided.get("app user with password") or {}
    cso = demo.partner("cso1")
    if not start.get("authorization_id"):
        step.check_that("a start to stop", False, "an accepted start", start)
        return
    same = cso.api.post(
        f"/authorizations/{start['authorization_id']}/stop",
        {"credential": demo.tokens["app_user"].presented()},
    )
    step.check(
        "the driver stops with the same credential",
        ("ACCEPTED", "SAME_CREDENTIAL"),
        ((same.body or {}).get("status"), (same.body or {}).get("reason")),
    )
    other = cso.api.post(
        f"/authorizations/{start['authorization_id']}/stop",
        {"credential": demo.tokens["rfid_always"].presented()},
    )
    step.check(
        "someone else's card cannot stop it",
        ("REJECTED", "OTHER_CONTRACT"),
        ((other.body or {}).get("status"), (other.body or {}).get("reason")),
    )


def _result_delivery(demo: Demo, step: Step, decided: dict[str, dict[str, Any]]) -> None:
    """The routed question answered 202 is delivered to the CSO's endpoint once decided."""
    wanted = (decided.get("RFID, whitelist ALLOWED: asked to its CSP (202, then read)") or {}).get(
        "authorization_id"
    )
    endpoint = demo.partner("cso1").endpoint

    def delivered() -> bool:
        return any(
            (d.body or {}).get("authorization_id") == wanted
            for d in endpoint.deliveries("authorization.result")
        )

    arrived = bool(wanted) and bool(wait_for(delivered, timeout=10.0))
    step.check("the CSO's endpoint receives the routed decision (authorization.result)", True, arrived)


def _burst(demo: Demo, step: Step) -> None:
    cso = demo.partner("cso1")
    evse_id = demo.networks["cso1"].evses(published=True)[0].evse_id
    tokens = [demo.tokens["rfid_always"], demo.tokens["hub_rfid"]]
    accepted = 0
    for index in range(BURST):
        token = tokens[index % 2]
        body = {"evse_id": evse_id, "credential": token.presented(), "cso_session_id": f"burst-{index}"}
        answer, seconds = cso.api.timed_post("/authorizations/", body, {})
        demo.latency("hub", seconds)
        accepted += answer.status == 200 and (answer.body or {}).get("status") == "ACCEPTED"
    step.check(f"{BURST} more authorizations from hub data, all accepted", BURST, accepted)
