"""The one read behind a command to an EVSE (sessions/command_route.py) answers as the selectors
whose rules it repeats, and POST /commands/ stays a handful of statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clearinghouse.lib.identifiers import parse_evse_id
from clearinghouse.routing import selectors as routing_selectors
from clearinghouse.routing.models import DeliveryChannel
from credentials import selectors as credential_selectors
from credentials.models import IssuedContract
from locations import selectors as location_selectors
from partners import selectors as partner_selectors
from partners import services as partner_services
from partners.models import Partner, RoamingAgreement
from sessions.command_route import EvseRoute, evse_route
from tests.charging_sessions.conftest import EVSE_ID, OTHER_EVSE_ID, World, contract_id, upload_credential
from tests.support import onboard

pytestmark = pytest.mark.django_db


def route_of(
    world: World, *, evse_id: str = EVSE_ID, connector_id: str = "1", contract: str = ""
) -> EvseRoute:
    parsed = parse_evse_id(evse_id)
    return evse_route(
        csp_id=world.csp.partner.pk,
        operator_country=parsed.country,
        operator_party=parsed.party_id,
        evse_id=str(parsed),
        connector_id=connector_id,
        contract_id=contract or world.contract_id,
        at=timezone.now(),
    )


def selectors_say(
    world: World, *, evse_id: str = EVSE_ID, connector_id: str = "1", contract: str = ""
) -> dict:
    """The same facts, one selector at a time."""
    parsed = parse_evse_id(evse_id)
    cso = partner_selectors.partner_by_operator_id(country_code=parsed.country, party_id=parsed.party_id)
    evse = location_selectors.evse_get_for_cso(cso_id=cso.pk, evse_id=evse_id) if cso else None
    agreement = (
        partner_selectors.agreement_active_between(cso_id=cso.pk, csp_id=world.csp.partner.pk)
        if cso
        else None
    )
    endpoint = partner_selectors.endpoint_for(partner_id=cso.pk, role="CSO") if cso else None
    outbox = routing_selectors.enqueue_target(partner_id=cso.pk, role="CSO") if cso else None
    owner = credential_selectors.credential_owner(contract_id=contract or world.contract_id)
    return {
        "cso": cso.pk if cso else None,
        "owner": owner.csp_id if owner else None,
        "location_id": evse.location_id if evse else None,
        "evse_uid": evse.uid if evse else None,
        "has_connector": bool(evse and evse.connector(connector_id)),
        "mode": agreement.mode if agreement else None,
        "url": endpoint.url if endpoint else None,
        "outbox": outbox,
    }


def route_says(route: EvseRoute) -> dict:
    return {
        "cso": route.cso.pk if route.cso else None,
        "owner": route.contract_owner_id,
        "location_id": route.location_id,
        "evse_uid": route.evse_uid,
        "has_connector": route.has_connector,
        "mode": route.agreement_mode,
        "url": route.cso_endpoint_url,
        "outbox": route.cso_outbox,
    }


def _suspend(model: Any, **lookup: Any) -> Callable[[World], None]:
    return lambda world: model.objects.filter(**lookup).update(status="SUSPENDED")


CHANGES: dict[str, Callable[[World], Any]] = {
    "as published": lambda world: None,
    "agreement suspended": _suspend(RoamingAgreement),
    "agreement ended": lambda world: RoamingAgreement.objects.update(valid_until=timezone.now()),
    "agreement not yet valid": lambda world: RoamingAgreement.objects.update(
        valid_from=timezone.now() + timedelta(days=1)
    ),
    "mixed mode": lambda world: RoamingAgreement.objects.update(mode=RoamingAgreement.Mode.MIXED),
    "CSO suspended": lambda world: Partner.objects.filter(pk=world.cso.partner.pk).update(status="SUSPENDED"),
    "CSP suspended": lambda world: Partner.objects.filter(pk=world.csp.partner.pk).update(status="SUSPENDED"),
    "no endpoint": lambda world: partner_services.endpoints_replace(partner=world.cso.partner, endpoints=[]),
    "a channel exists": lambda world: DeliveryChannel.objects.create(partner=world.cso.partner, role="CSO"),
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize(
    ("evse_id", "connector_id"),
    [(EVSE_ID, "1"), (EVSE_ID, "9"), (OTHER_EVSE_ID, "1"), ("DE*ACH*E999", "1"), ("FR*ZZZ*E1", "1")],
)
def test_the_route_agrees_with_the_selectors(world, change, evse_id, connector_id):
    CHANGES[change](world)
    route = route_of(world, evse_id=evse_id, connector_id=connector_id)
    assert route_says(route) == selectors_say(world, evse_id=evse_id, connector_id=connector_id)
    assert (route.csp.pk, route.csp.provider_id) == (world.csp.partner.pk, "NL-BMO")
    if route.cso is not None:
        assert route.cso.operator_id == "DE*ACH"


def test_the_contracts_owner_as_the_credentials_app_knows_it(world):
    other = onboard(name="Other CSP", country="FR", party="OTH", roles=["CSP"])
    theirs = contract_id(provider="FR-OTH")
    upload_credential(other, theirs, uid="04A1B2C3D4E5F7")
    # Issued by the hub for the other CSP, no credential yet.
    issued = IssuedContract.objects.create(contract_id=contract_id("C88888888"), csp=other.partner)
    unknown = contract_id("C99999999")
    for contract in (world.contract_id, theirs, issued.contract_id, unknown):
        assert (
            route_of(world, contract=contract).contract_owner_id
            == selectors_say(world, contract=contract)["owner"]
        )
    assert route_of(world, contract=unknown).contract_owner_id is None


def test_a_command_to_an_evse_costs_a_handful_of_statements(world, django_assert_max_num_queries):
    body = {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
    assert world.csp.client.post("/commands/", body).status_code == 201  # logs in, caches the principal
    with django_assert_max_num_queries(7) as captured:
        response = world.csp.client.post("/commands/", body)
    assert response.status_code == 201, response.content
    # The route (with the outbox's target), the authorization, the delivery, the command (inside
    # the savepoint the test's transaction stands for), and the audit entry.
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    assert statements.count("SELECT") == 1 and statements.count("INSERT") == 4


def test_a_command_is_read_with_its_parties(world, django_assert_num_queries):
    from sessions.selectors import command_with_parties
    from tests.charging_sessions.test_command_services import reserve

    command = reserve(world)
    with django_assert_num_queries(1):
        loaded = command_with_parties(uid=command.uid)
        assert (loaded.pk, loaded.csp.provider_id, loaded.cso.operator_id) == (command.pk, "NL-BMO", "DE*ACH")
        assert (loaded.uid, loaded.created_at, loaded.deadline_at) == (
            command.uid,
            command.created_at,
            command.deadline_at,
        )
    assert loaded.reservation == command.reservation  # read when asked for
    # The CSP's channel for the notice of the command's next move, as the outbox would read it.
    assert loaded.csp_outbox == routing_selectors.enqueue_target(partner_id=world.csp.partner.pk, role="CSP")
    assert command_with_parties(uid=command.uid, cso_id=world.cso.partner.pk) is not None
    assert command_with_parties(uid=command.uid, cso_id=world.csp.partner.pk) is None
    assert command_with_parties(uid=uuid.uuid4()) is None
