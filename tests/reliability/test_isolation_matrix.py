"""The isolation matrix: for every I3 endpoint that names an object in its path, another partner's
credentials get 404 or 403 on the first partner's object, with every method the view allows, in the
error format, and nothing changes (a write in B's own id space may create B's own object, nothing else).

The endpoints come from the URL configuration, not from a list kept by hand: a new parameterised
endpoint without a factory in FACTORIES fails `test_every_parameterised_endpoint_has_a_factory`, so
each new endpoint joins the matrix the day it appears.

The world: partner A is a CSO (DE*ACH) and a CSP (NL-BMO) with an agreement between them, plus a
CSO (DE*AHB) whose HUB_ISSUED agreement lets the CSP have credentials issued; every object is made
through the API by its owner. Partner B (FR*GRO / FR-GRO) holds both roles, so no role check stops
it before the object lookup, and has no agreement with anyone in A's world.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from partners.models import Partner
from partners.services import agreement_create
from settlement.services.settlement_run import settlement_period_run
from tests.settlement.sdr_support import (
    AGREED_FROM,
    cdr_doc,
    contract_of,
    location_doc,
    publish,
    tariff_doc,
)
from tests.support import Onboarded, onboard

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

PREFIX = "api/i3/v1/"
METHODS = ("get", "post", "put", "patch", "delete")
UID = "04A1B2C3D4E5F6"
# What B may be answered: not found (the hub does not reveal the object exists) or forbidden.
REFUSED = {403, 404}


# --- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    cso: Onboarded
    csp: Onboarded
    stranger: Onboarded
    contract: str
    made: dict[str, Any] = field(default_factory=dict)

    def cdr(self, sdr_id: str) -> dict[str, Any]:
        return cdr_doc(self.cso.partner.operator_id, self.contract, sdr_id=sdr_id)


def created(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), response.content[:500]
    return response.json()


def build_world() -> World:
    # Endpoints that are never called: the test's transactions never commit, so nothing is sent.
    cso = onboard(
        name="Alpha Charge", country="DE", party="ACH", roles=["CSO"], endpoint="https://cso.example/i3"
    )
    csp = onboard(
        name="Beta Mobility", country="NL", party="BMO", roles=["CSP"], endpoint="https://csp.example/i3"
    )
    issuing = onboard(name="Alpha Hub Cards", country="DE", party="AHB", roles=["CSO"])
    stranger = onboard(name="Gamma Roaming", country="FR", party="GRO", roles=["CSO", "CSP"])
    agreement_create(cso=cso.partner, csp=csp.partner, valid_from=AGREED_FROM)
    agreement_create(
        cso=issuing.partner, csp=csp.partner, valid_from=AGREED_FROM, authorization_subtype="HUB_ISSUED"
    )
    operator = cso.partner.operator_id
    publish(cso, tariff_doc(operator), location_doc(operator))
    world = World(cso=cso, csp=csp, stranger=stranger, contract=contract_of("NL", "BMO"))

    upload = [
        {"type": "RFID", "value": UID, "contract_id": world.contract, "whitelist": "ALWAYS"},
        {"type": "RFID", "value": "04A1B2C3D4E5F7", "contract_id": contract_of("NL", "BMO", "C00000002")},
    ]
    results = created(csp.client.post("/credentials/?mode=delta", upload))["results"]
    world.made["credential"] = results[0]["id"]
    world.made["qr_credential"] = created(csp.client.post("/credentials/issue", {"type": "QR_DYNAMIC"}))["id"]
    world.made["erasure"] = created(
        csp.client.post("/privacy/erasures", {"contract_id": contract_of("NL", "BMO", "C00000002")})
    )["id"]

    decision = created(
        cso.client.post(
            "/authorizations/", {"evse_id": f"{operator}*E100", "credential": {"type": "RFID", "value": UID}}
        ),
        200,
    )
    assert decision["status"] == "ACCEPTED", decision
    world.made["authorization"] = decision["authorization_id"]

    world.made["command"] = created(
        csp.client.post(
            "/commands/",
            {
                "type": "START_SESSION",
                "evse_id": f"{operator}*E100",
                "connector_id": "1",
                "contract_id": world.contract,
            },
        ),
        201,
    )["id"]
    world.made["session"] = created(
        cso.client.post(
            "/sessions/",
            {
                "id": "S-1",
                "evse_id": f"{operator}*E100",
                "connector_id": "1",
                "contract_id": world.contract,
                "auth_method": "WHITELIST",
                "start_date_time": "2025-03-04T10:00:00Z",
                "currency": "EUR",
                "last_updated": "2025-03-04T10:00:00Z",
            },
        ),
        201,
    )["id"]

    world.made["sdr"] = created(cso.client.post("/sdrs/", world.cdr("SDR-1")), 201)["id"]
    settled = created(cso.client.post("/sdrs/", world.cdr("SDR-2")), 201)["id"]
    created(csp.client.post(f"/sdrs/{settled}/accept"), 200)
    [outcome] = settlement_period_run(period_key="2025-03", currency="EUR", requested_by="isolation matrix")
    assert outcome.state == "DONE", outcome
    statements = created(cso.client.get("/statements/"), 200)["results"]
    world.made["statement"] = statements[0]["id"]
    return world


# --- the factories: one per parameterised URL name ------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A's object as a URL: the path's arguments, who owns it (and reads it back), and what B sends."""

    kwargs: dict[str, Any]
    owner: Onboarded
    bodies: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    # Writes addressed in the caller's own id space: PUT /tariffs/T1 is "my T1", and two CSOs may
    # both have a T1 (docs/locations.md, "Who owns what"). B's PUT of A's very document may create
    # B's own T1 (or be refused, as a location whose EVSE IDs are A's is); either way nothing of A's
    # or anyone else's changes. These run after B's other calls, which must not find B's copy.
    namespaced: frozenset[str] = frozenset()


Factory = Callable[[World], Target]
FACTORIES: dict[str, Factory] = {}


def factory(*names: str) -> Callable[[Factory], Factory]:
    def register(fn: Factory) -> Factory:
        for name in names:
            FACTORIES[name] = fn
        return fn

    return register


@factory("credential-detail", "credential-dynamic-qr")
def _credential(world: World) -> Target:
    # The QR-capable credential serves both: its detail and its dynamic code.
    return Target({"pk": world.made["qr_credential"]}, world.csp, {"PATCH": {"status": "BLOCKED"}})


@factory("authorization-detail", "authorization-stop")
def _authorization(world: World) -> Target:
    return Target(
        {"pk": world.made["authorization"]},
        world.cso,
        {"POST": {"credential": {"type": "RFID", "value": UID}}},
    )


@factory("privacy-erasure")
def _erasure(world: World) -> Target:
    return Target({"pk": world.made["erasure"]}, world.csp)


def _location_bodies(world: World) -> dict[str, Any]:
    doc = location_doc(world.cso.partner.operator_id)
    return {"PUT": doc, "PATCH": {"name": "Taken over", "last_updated": "2026-01-01T00:00:00Z"}}


@factory("location-detail")
def _location(world: World) -> Target:
    return Target({"location_id": "LOC1"}, world.cso, _location_bodies(world), namespaced=frozenset({"PUT"}))


@factory("evse-detail")
def _evse(world: World) -> Target:
    bodies = _location_bodies(world)
    bodies["PUT"] = location_doc(world.cso.partner.operator_id)["evses"][0]
    return Target({"location_id": "LOC1", "evse_uid": "LOC1-1"}, world.cso, bodies)


@factory("connector-detail")
def _connector(world: World) -> Target:
    bodies = _location_bodies(world)
    bodies["PUT"] = location_doc(world.cso.partner.operator_id)["evses"][0]["connectors"][0]
    return Target({"location_id": "LOC1", "evse_uid": "LOC1-1", "connector_id": "1"}, world.cso, bodies)


@factory("tariff-detail")
def _tariff(world: World) -> Target:
    doc = tariff_doc(world.cso.partner.operator_id)
    return Target({"tariff_id": "T1"}, world.cso, {"PUT": doc}, namespaced=frozenset({"PUT"}))


@factory("command-detail", "command-result")
def _command(world: World) -> Target:
    return Target({"command_id": world.made["command"]}, world.csp, {"POST": {"result": "ACCEPTED"}})


@factory("charging-session-detail")
def _session(world: World) -> Target:
    return Target(
        {"session_id": world.made["session"]},
        world.cso,
        {"PATCH": {"kwh": 5, "last_updated": "2025-03-04T10:30:00Z"}},
        query="?operator=DE*ACH",
    )


@factory("sdr-detail", "sdr-accept", "sdr-dispute", "sdr-corrections")
def _sdr(world: World) -> Target:
    bodies = {"POST": {"reason_code": "OTHER", "message": "not ours"}}
    return Target({"pk": world.made["sdr"]}, world.csp, bodies)


@factory("statement-detail", "statement-report-csv", "statement-report-xlsx", "statement-report-pdf")
def _statement(world: World) -> Target:
    return Target({"pk": world.made["statement"]}, world.cso)


# Bodies that differ per URL name where one factory serves several endpoints.
BODY_OVERRIDES: dict[tuple[str, str], Any] = {
    ("sdr-accept", "POST"): None,
    ("sdr-corrections", "POST"): {"credit_id": "SDR-1-CREDIT", "remark": "credit"},
}


# --- the URL conf ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    route: str
    methods: tuple[str, ...]

    def path(self, kwargs: dict[str, Any], query: str = "") -> str:
        return reverse(self.name, kwargs=kwargs) + query


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            found.append((prefix + str(pattern.pattern), pattern))
    return found


def i3_endpoints(*, parameterised: bool) -> list[Endpoint]:
    """Every I3 route whose path names an object (or, `parameterised=False`, names none), with the
    methods its view implements."""
    endpoints = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith(PREFIX) or bool(pattern.pattern.converters) != parameterised:
            continue
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        assert view is not None, f"{route}: not a class-based view, so its methods cannot be listed"
        methods = tuple(
            m.upper()
            for m in METHODS
            if m in getattr(view, "http_method_names", METHODS) and hasattr(view, m)
        )
        assert pattern.name, f"{route} has no URL name to key its factory"
        endpoints.append(Endpoint(pattern.name, route, methods))
    return endpoints


def parameterised_endpoints() -> list[Endpoint]:
    return i3_endpoints(parameterised=True)


# --- nothing changed ------------------------------------------------------------------------------

# Bookkeeping that a refused request may write without changing anyone's objects: the audit trail,
# replay protection and idempotency keys, Django's own tables.
IGNORED = {"clearinghouse.AuditEntry", "clearinghouse.UsedNonce", "clearinghouse.IdempotencyRecord"}
APPS = ("clearinghouse", "partners", "routing", "credentials", "locations", "charging_sessions", "settlement")


def fingerprint(*, except_of: Partner | None = None) -> dict[str, str]:
    """A digest of every row of every table of the hub's own apps (leaving out the rows that belong
    to `except_of`, when given: those its writes in its own id space may create)."""
    digests = {}
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.app_label not in APPS or label in IGNORED:
            continue
        rows_of = model.objects.order_by("pk")
        if except_of is not None:
            owners = [
                f.name for f in model._meta.get_fields() if f.many_to_one and f.related_model is Partner
            ]
            for owner in owners:
                rows_of = rows_of.exclude(**{owner: except_of})
        rows = list(rows_of.values())
        digests[label] = hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()
    return digests


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(label for label in before if before[label] != after[label])


# --- reads without an object in the path -----------------------------------------------------------

# Reads that name an object in their query string: B asks for A's object there.
QUERY_ADDRESSED: dict[str, Callable[[World], str]] = {
    "privacy-export": lambda world: f"?contract_id={world.contract}",
}
# Reads about the caller itself or the API, not about anyone's objects.
NOT_ABOUT_OBJECTS = {"ping", "partner-me", "schema", "api-docs"}


# --- the tests ------------------------------------------------------------------------------------


def test_every_parameterised_endpoint_has_a_factory():
    endpoints = parameterised_endpoints()
    assert len(endpoints) >= 15, [e.route for e in endpoints]  # the walk finds the API
    missing = sorted(f"{e.name} ({e.route})" for e in endpoints if e.name not in FACTORIES)
    assert not missing, (
        "parameterised endpoints without an isolation factory; add one to FACTORIES in "
        f"tests/reliability/test_isolation_matrix.py: {missing}"
    )
    stale = sorted(set(FACTORIES) - {e.name for e in endpoints})
    assert not stale, f"factories of endpoints that no longer exist: {stale}"


def _body(endpoint: Endpoint, method: str, target: Target) -> Any:
    if (endpoint.name, method) in BODY_OVERRIDES:
        return BODY_OVERRIDES[(endpoint.name, method)]
    return target.bodies.get(method)


@pytest.fixture(autouse=True)
def _hub(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # statement reports
    settings.I3_THROTTLE_RATES = {"default": "100000/s", "authorization": "100000/s", "bulk": "100000/s"}


def test_another_partner_gets_404_or_403_on_every_object_and_changes_nothing():
    world = build_world()
    stranger = world.stranger.client
    stranger.login()
    rows: list[str] = []
    failures: list[str] = []

    for endpoint in parameterised_endpoints():
        target = FACTORIES[endpoint.name](world)
        path = endpoint.path(target.kwargs, target.query)
        if "GET" in endpoint.methods:
            # The target is real: its owner reads it.
            owner = target.owner.client.get(path)
            if owner.status_code != 200:
                failures.append(f"{endpoint.name}: the owner's GET {path} answered {owner.status_code}")
        for method in sorted(endpoint.methods, key=lambda m: m in target.namespaced):
            namespaced = method in target.namespaced
            except_of = world.stranger.partner if namespaced else None
            before = fingerprint(except_of=except_of)
            response = stranger.request(method, path, _body(endpoint, method, target))
            after = fingerprint(except_of=except_of)
            code = "-"
            if response.status_code >= 400 or not namespaced:
                try:
                    body = json.loads(response.content)
                    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
                    code = body["error"]["code"]
                except (ValueError, TypeError, AssertionError):
                    failures.append(f"{method} {path}: not in the error format: {response.content[:200]!r}")
            if response.status_code >= 500 or not (namespaced or response.status_code in REFUSED):
                failures.append(f"{method} {path}: B was answered {response.status_code} {code}")
            touched = changed(before, after)
            if touched:
                failures.append(f"{method} {path}: B's request changed {touched}")
            note = " (B's own id space)" if namespaced else ""
            rows.append(f"{endpoint.name:28} {method:6} {response.status_code} {code}{note}")

    print("\n".join(["isolation matrix (endpoint, method, B's answer):", *rows]))
    assert not failures, "\n".join(failures)
    assert len(rows) >= 30, rows


def test_another_partner_lists_nothing_of_the_first():
    """Every other read: a list shows B none of A's objects (B has none and no agreement), and a read
    that names A's object in its query string is refused like a path would be. A new read must be
    one of these or be named in NOT_ABOUT_OBJECTS."""
    world = build_world()
    stranger = world.stranger.client
    failures: list[str] = []
    reads = [e for e in i3_endpoints(parameterised=False) if "GET" in e.methods]
    assert len(reads) >= 10, reads
    for endpoint in reads:
        if endpoint.name in NOT_ABOUT_OBJECTS:
            continue
        path = endpoint.path({})
        if endpoint.name in QUERY_ADDRESSED:
            response = stranger.get(path + QUERY_ADDRESSED[endpoint.name](world))
            if response.status_code not in REFUSED:
                failures.append(f"GET {path}: B was answered {response.status_code} for A's object")
            continue
        response = stranger.get(path)
        body = response.json() if response.status_code == 200 else None
        if not isinstance(body, dict) or "results" not in body:
            failures.append(f"GET {path}: {response.status_code}, not a list; classify it in this module")
        elif body["results"]:
            failures.append(f"GET {path}: B sees {body['results'][:3]}")
    assert not failures, "\n".join(failures)
