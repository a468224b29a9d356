"""The one read behind a command to an EVSE (START_SESSION, RESERVE_NOW, UNLOCK_CONNECTOR).

Everything the checks of command_submit need, in one query instead of seven: the CSP, the owner of
the contract, the CSO named by the EVSE ID, the EVSE and whether it has the connector, the
agreement in force between the two, and the CSO's endpoint. Each part repeats, in SQL, the rule of
the selector that owns it (named beside it below; tests/charging_sessions/test_command_route.py
holds them side by side): a CSP's command is the hub's busiest write path, and one round trip with
no query building is most of what it costs. Portable SQL: PostgreSQL and SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db import connection

from clearinghouse.db import statement_cursor
from clearinghouse.routing.selectors import (
    EnqueueTarget,
    enqueue_target_columns,
    enqueue_target_of,
    enqueue_target_params,
)
from credentials.models import Credential, IssuedContract
from locations.models import EVSE, Connector, Location
from partners.models import Partner, RoamingAgreement, RoamingEndpoint

# The partners' fields the command path reads (operator and provider IDs, roles, status); the
# others stay deferred, as with .only().
PARTNER_FIELDS = ("id", "country_code", "party_id", "is_cso", "is_csp", "status")

_ROUTE = (
    "SELECT {csp_columns}, {cso_columns}, "
    # credentials.selectors.credential_owner: its credentials' CSP, else the CSP it was issued for.
    "COALESCE("
    "(SELECT cr.csp_id FROM {credential} cr WHERE cr.contract_id = %s ORDER BY cr.id DESC LIMIT 1), "
    "(SELECT ic.csp_id FROM {issued} ic WHERE ic.contract_id = %s)), "
    # locations.selectors.evse_get_for_cso: the CSO's EVSE by its canonical EVSE ID.
    "l.location_id, e.uid, "
    "EXISTS (SELECT 1 FROM {connector} c WHERE c.evse_id = e.id AND c.connector_id = %s), "
    # partners.selectors.agreement_active_between: in force now, both partners active.
    "(SELECT a.mode FROM {agreement} a WHERE a.cso_id = cso.id AND a.csp_id = csp.id "
    "AND a.status = %s AND a.valid_from <= %s AND (a.valid_until IS NULL OR a.valid_until > %s) "
    "AND cso.status = %s AND csp.status = %s ORDER BY a.valid_from DESC LIMIT 1), "
    # partners.selectors.endpoint_for: the CSO's active i3 endpoint.
    "(SELECT ep.url FROM {endpoint} ep WHERE ep.partner_id = cso.id AND ep.role = %s "
    "AND ep.protocol = 'i3' AND ep.active = %s ORDER BY ep.id LIMIT 1), "
    # clearinghouse.routing: where the command's delivery is written (outbox_enqueue's target).
    "{cso_outbox} "
    "FROM {partner} csp "
    # partners.selectors.partner_by_operator_id (country and party ID are unique together).
    "LEFT JOIN {partner} cso ON cso.country_code = %s AND cso.party_id = %s AND cso.is_cso = %s "
    "LEFT JOIN {evse} e ON e.cso_id = cso.id AND e.evse_id = %s "
    "LEFT JOIN {location} l ON l.id = e.location_id "
    "WHERE csp.id = %s"
)


def partner_columns(alias: str, *, prefix: str = "") -> str:
    """The SQL select list of PARTNER_FIELDS of the partner table under `alias`, each named
    `prefix` + field name when a prefix is given."""
    names = (
        f"{alias}.{Partner._meta.get_field(name).column}" + (f" AS {prefix}{name}" if prefix else "")
        for name in PARTNER_FIELDS
    )
    return ", ".join(names)


def partner_from_row(values: tuple | list) -> Partner | None:
    """A partner from the values of PARTNER_FIELDS (None when its id is NULL: no such partner),
    its other fields deferred."""
    if values[0] is None:
        return None
    pk, country_code, party_id, is_cso, is_csp, status = values
    # SQLite answers booleans as 0 and 1.
    fields = [pk, country_code, party_id, bool(is_cso), bool(is_csp), status]
    return Partner.from_db(connection.alias, list(PARTNER_FIELDS), fields)


@lru_cache(maxsize=1)
def _route_sql() -> str:
    return _ROUTE.format(
        csp_columns=partner_columns("csp"),
        cso_columns=partner_columns("cso"),
        credential=Credential._meta.db_table,
        issued=IssuedContract._meta.db_table,
        connector=Connector._meta.db_table,
        agreement=RoamingAgreement._meta.db_table,
        endpoint=RoamingEndpoint._meta.db_table,
        partner=Partner._meta.db_table,
        evse=EVSE._meta.db_table,
        location=Location._meta.db_table,
        cso_outbox=enqueue_target_columns(partner_id="cso.id"),
    )


@dataclass(frozen=True)
class EvseRoute:
    """What a command to an EVSE needs to know before it is written.

    `cso` is None when no CSO has the EVSE ID's operator ID; `location_id` and `evse_uid` are None
    when the CSO published no such EVSE; `agreement_mode` is None without an agreement in force;
    `cso_endpoint_url` is None when the CSO has no active endpoint for commands; `cso_outbox` is
    the CSO's commands channel for outbox_enqueue (None without a CSO).
    """

    csp: Partner
    cso: Partner | None
    contract_owner_id: int | None
    location_id: str | None
    evse_uid: str | None
    has_connector: bool
    agreement_mode: str | None
    cso_endpoint_url: str | None
    cso_outbox: EnqueueTarget | None


def evse_route(
    *,
    csp_id: int,
    operator_country: str,
    operator_party: str,
    evse_id: str,
    connector_id: str,
    contract_id: str,
    at: datetime,
) -> EvseRoute:
    """One query: the route of a command from a CSP to an EVSE (canonical EVSE ID) at a moment.

    Raises Partner.DoesNotExist for an unknown CSP, as loading it would.
    """
    moment = connection.ops.adapt_datetimefield_value(at)
    active = Partner.Status.ACTIVE
    params = [
        contract_id,
        contract_id,
        connector_id,
        RoamingAgreement.Status.ACTIVE,
        moment,
        moment,
        active,
        active,
        RoamingEndpoint.Role.CSO,
        True,
        *enqueue_target_params(RoamingEndpoint.Role.CSO),
        operator_country,
        operator_party,
        True,
        evse_id,
        csp_id,
    ]
    with statement_cursor(connection) as cursor:
        cursor.execute(_route_sql(), params)
        row = cursor.fetchone()
    if row is None:
        raise Partner.DoesNotExist(f"no partner with id {csp_id}")
    width = len(PARTNER_FIELDS)
    csp = partner_from_row(row[:width])
    assert csp is not None
    owner, location_id, evse_uid, has_connector, mode, url, has_endpoint, channel_id = row[2 * width :]
    cso = partner_from_row(row[width : 2 * width])
    return EvseRoute(
        csp=csp,
        cso=cso,
        contract_owner_id=owner,
        location_id=location_id,
        evse_uid=evse_uid,
        has_connector=bool(has_connector),
        agreement_mode=mode,
        cso_endpoint_url=url,
        cso_outbox=None
        if cso is None
        else enqueue_target_of(status=cso.status, has_endpoint=has_endpoint, channel_id=channel_id),
    )
