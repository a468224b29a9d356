"""Reads of commands, sessions and reservations: for this app's API, its jobs, and settlement.

Settlement cross-checks an SDR against the session it bills with session_get_for() (one) or
session_facts_for() (a bulk of SDRs in one query); docs/sessions.md lists the facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from clearinghouse.db import instance_from_row, statement_cursor
from clearinghouse.errors import ConflictError, NotFoundError
from clearinghouse.routing.selectors import enqueue_target_columns, enqueue_target_of, enqueue_target_params
from partners.models import Partner

from .command_route import PARTNER_FIELDS, partner_columns, partner_from_row
from .machine import COMMAND_OPEN
from .models import ChargingSession, RemoteCommand


def commands_overdue(*, before: datetime, limit: int = 500) -> list[int]:
    """Commands still waiting whose deadline passed (partial index command_open_deadline)."""
    return list(
        RemoteCommand.objects.filter(state__in=list(COMMAND_OPEN), deadline_at__lt=before)
        .order_by("deadline_at")
        .values_list("pk", flat=True)[:limit]
    )


def command_get_visible(*, partner_id: int, command_uid: uuid.UUID | str) -> RemoteCommand | None:
    """A command, for the CSP that sent it or the CSO it targets; anyone else gets None."""
    try:
        uid = uuid.UUID(str(command_uid))
    except ValueError:
        return None
    return (
        RemoteCommand.objects.select_related("csp", "cso", "reservation")
        .filter(Q(csp_id=partner_id) | Q(cso_id=partner_id), uid=uid)
        .first()
    )


_COMMAND = (
    "SELECT c.*, {csp_columns}, {cso_columns}, {csp_outbox} FROM {command} c "
    "JOIN {partner} csp ON csp.id = c.csp_id JOIN {partner} cso ON cso.id = c.cso_id "
    "WHERE c.uid = %s"
)


@lru_cache(maxsize=2)
def _command_sql(source: str = "") -> str:
    return _COMMAND.format(
        csp_columns=partner_columns("csp", prefix="x_csp_"),
        cso_columns=partner_columns("cso", prefix="x_cso_"),
        command=source or RemoteCommand._meta.db_table,
        partner=Partner._meta.db_table,
        # Every change of a command is told to its CSP: the notice needs no read of its own.
        csp_outbox=enqueue_target_columns(partner_id="csp.id", prefix="x_csp_"),
    )


def command_with_parties_query(
    *, uid: uuid.UUID, cso_id: int | None = None, source: str = ""
) -> tuple[str, list[Any]]:
    """The SQL and parameters of command_with_parties' read; `source` names a relation of the
    statement around it to read the command from instead of its table (the rows an UPDATE returns,
    services.outcomes). command_from_row makes the command of its row."""
    uid_value = RemoteCommand._meta.get_field("uid").get_db_prep_value(uid, connection)
    sql, params = _command_sql(source), [*enqueue_target_params("CSP"), uid_value]
    if cso_id is not None:
        sql, params = f"{sql} AND c.cso_id = %s", [*params, cso_id]
    return sql, params


def command_from_row(cursor: Any, row: Sequence[Any]) -> RemoteCommand:
    """The command of a row of command_with_parties_query, with its parties and its CSP's channel."""
    command = instance_from_row(RemoteCommand, cursor, row, using=connection.alias)
    assert isinstance(command, RemoteCommand)
    command.csp = partner_from_row([getattr(command, f"x_csp_{name}") for name in PARTNER_FIELDS])
    command.cso = partner_from_row([getattr(command, f"x_cso_{name}") for name in PARTNER_FIELDS])
    # The CSP's channel, for the notice of the change the caller is about to make (notify.py).
    command.csp_outbox = enqueue_target_of(
        status=command.csp.status if command.csp else None,
        has_endpoint=command.x_csp_outbox_endpoint,
        channel_id=command.x_csp_outbox_channel,
    )
    return command


def command_with_parties(*, uid: uuid.UUID, cso_id: int | None = None) -> RemoteCommand | None:
    """A command by its uid (only the CSO's own when `cso_id` is given), with its CSP and CSO loaded
    (their IDs, roles and status; command_json and the notices need no more); its reservation, if
    it has one, loads when read. Written out in SQL: the deliveries' answers and the CSOs' outcomes
    read commands this way, and the ORM's building of a three-table query cost more than running it.
    """
    sql, params = command_with_parties_query(uid=uid, cso_id=cso_id)
    with statement_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return None if row is None else command_from_row(cursor, row)


def _visible(*, partner_id: int, as_cso: bool, as_csp: bool) -> Q:
    q = Q(pk__in=[])
    if as_cso:
        q |= Q(cso_id=partner_id)
    if as_csp:
        q |= Q(csp_id=partner_id)
    return q


def sessions_visible_to(
    *,
    partner_id: int,
    as_cso: bool,
    as_csp: bool,
    since: datetime | None = None,
    status: str | None = None,
) -> QuerySet[ChargingSession]:
    """Sessions a partner may read: its own as CSO, those of its contracts as CSP; optionally
    changed after `since` (the hub's time) or in one status. Ordered by the API's pagination."""
    qs = ChargingSession.objects.select_related("cso", "csp").filter(
        _visible(partner_id=partner_id, as_cso=as_cso, as_csp=as_csp)
    )
    if since is not None:
        qs = qs.filter(updated_at__gt=since)
    if status:
        qs = qs.filter(status=status)
    return qs


def session_get_visible(
    *,
    partner_id: int,
    as_cso: bool,
    as_csp: bool,
    session_id: str,
    operator: tuple[str, str] | None = None,
) -> ChargingSession:
    """One session the partner may read, by the CSO's id. Ids are unique per CSO only: when
    sessions of several CSOs match, `operator` (country, party) says which one is meant."""
    rows = sessions_visible_to(partner_id=partner_id, as_cso=as_cso, as_csp=as_csp).filter(
        session_id=session_id
    )
    if operator is not None:
        rows = rows.filter(cso__country_code=operator[0], cso__party_id=operator[1])
    found = list(rows[:10])
    if not found:
        raise NotFoundError("session_not_found", "No session with this id is visible to you.")
    if len(found) > 1:
        own = [s for s in found if s.cso_id == partner_id]
        if len(own) == 1:
            return own[0]
        raise ConflictError(
            "ambiguous_session_id",
            "Sessions of several operators have this id; add ?operator= to choose.",
            {"operators": sorted(s.cso.operator_id for s in found)},
        )
    return found[0]


def session_get_for(*, cso_id: int, session_id: str) -> ChargingSession | None:
    """The CSO's session with this id (its own id), with cso and csp loaded; None if unknown."""
    return (
        ChargingSession.objects.select_related("cso", "csp")
        .filter(cso_id=cso_id, session_id=session_id)
        .first()
    )


@dataclass(frozen=True)
class SessionFacts:
    """What an SDR of the session must agree with."""

    session_id: str
    cso_id: int
    csp_id: int
    agreement_id: int | None
    status: str
    contract_id: str
    evse_id: str
    connector_id: str
    authorization_reference: str
    auth_method: str
    start_date_time: datetime
    end_date_time: datetime | None
    kwh: Decimal
    currency: str
    total_cost_excl_vat: Decimal | None
    time_zone: str


_FACT_FIELDS = (
    "session_id",
    "cso_id",
    "csp_id",
    "agreement_id",
    "status",
    "contract_id",
    "evse_id",
    "connector_id",
    "authorization_reference",
    "auth_method",
    "start_date_time",
    "end_date_time",
    "kwh",
    "currency",
    "total_cost_excl_vat",
    "time_zone",
)


def session_facts_for(*, cso_id: int, session_ids: Iterable[str]) -> dict[str, SessionFacts]:
    """The facts of a CSO's sessions by their ids, in one query (unknown ids are absent)."""
    ids = list(dict.fromkeys(session_ids))
    if not ids:
        return {}
    rows = ChargingSession.objects.filter(cso_id=cso_id, session_id__in=ids).values_list(*_FACT_FIELDS)
    return {row[0]: SessionFacts(*row) for row in rows}
