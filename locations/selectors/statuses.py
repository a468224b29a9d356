"""Reading EVSE status changes: the feed of GET /evse-statuses/ and the rows the push sends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from ..models import EvseStatusChange
from ..ocpi.datetimes import format_datetime
from .common import Viewer, partner_csos, stale_before, status_shown

CHANGE_FIELDS = (
    "id",
    "status",
    "timestamp",
    "received_at",
    "evse__evse_id",
    "evse__uid",
    "evse__cso_id",
    "evse__cso__country_code",
    "evse__cso__party_id",
    "evse__status_updated_at",
    "evse__location__location_id",
)


def status_change_rows(
    *, cso_ids: Iterable[int] | QuerySet[Any] | None, published_only: bool
) -> QuerySet[Any]:
    """Status changes (as value rows) of the given CSOs' EVSEs."""
    rows = EvseStatusChange.objects.all()
    if cso_ids is not None:
        rows = rows.filter(evse__cso_id__in=cso_ids)
    if published_only:
        rows = rows.filter(evse__location__publish=True)
    return rows.values(*CHANGE_FIELDS)


def status_changes_visible(
    *, viewer: Viewer, since: datetime | None = None, operator: tuple[str, str] | None = None
) -> QuerySet[Any]:
    """The feed: own changes (as CSO) and those of published EVSEs of agreement partners."""
    q = Q(pk__in=[])
    if viewer.is_cso:
        q |= Q(evse__cso_id=viewer.partner_id)
    if viewer.is_csp:
        q |= Q(evse__cso_id__in=partner_csos(viewer), evse__location__publish=True)
    rows = EvseStatusChange.objects.filter(q)
    if since is not None:
        rows = rows.filter(received_at__gt=since)
    if operator is not None:
        rows = rows.filter(evse__cso__country_code=operator[0], evse__cso__party_id=operator[1])
    return rows.values(*CHANGE_FIELDS)


def status_change_render(
    row: dict[str, Any], *, viewer_id: int | None, stale: datetime | None
) -> dict[str, Any]:
    """One change as served. With the TTL on, a CSP sees UNKNOWN for a change of an EVSE whose
    status has not been refreshed since the TTL began (what it last heard is no longer known)."""
    own = viewer_id is not None and row["evse__cso_id"] == viewer_id
    return {
        "id": row["id"],
        "evse_id": row["evse__evse_id"],
        "evse_uid": row["evse__uid"],
        "location_id": row["evse__location__location_id"],
        "operator_id": f"{row['evse__cso__country_code']}*{row['evse__cso__party_id']}",
        "status": status_shown(row["status"], row["evse__status_updated_at"], own=own, stale=stale),
        "timestamp": format_datetime(row["timestamp"]),
        "received_at": format_datetime(row["received_at"]),
    }


def status_changes_render(
    rows: Iterable[dict[str, Any]], *, viewer: Viewer, now: datetime
) -> list[dict[str, Any]]:
    stale = stale_before(now)
    return [status_change_render(row, viewer_id=viewer.partner_id, stale=stale) for row in rows]
