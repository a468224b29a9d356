"""Who is reading, and what the status time-to-live hides from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from partners.selectors import active_agreements

from ..models import EvseStatus


@dataclass(frozen=True)
class Viewer:
    """The partner reading: its own data in full (as CSO), its agreement partners' as CSP."""

    partner_id: int
    is_cso: bool
    is_csp: bool

    @classmethod
    def of(cls, principal: Any) -> Viewer:
        return cls(partner_id=principal.partner_id, is_cso=principal.is_cso, is_csp=principal.is_csp)


def partner_csos(viewer: Viewer, at: datetime | None = None) -> QuerySet[Any]:
    """Ids of the CSOs the viewer has an agreement in force with, as CSP (a subquery)."""
    return active_agreements(at=at).filter(csp_id=viewer.partner_id).values("cso_id")


def stale_before(now: datetime) -> datetime | None:
    """Statuses last reported before this moment are shown to CSPs as UNKNOWN (None: TTL off)."""
    ttl = settings.EVSE_STATUS_TTL_SECONDS
    return now - timedelta(seconds=ttl) if ttl > 0 else None


def status_shown(status: str, updated_at: datetime, *, own: bool, stale: datetime | None) -> str:
    """The status a reader sees: a CSP sees UNKNOWN for a status older than the TTL.

    REMOVED is final rather than live, so it never goes stale.
    """
    if own or stale is None or updated_at >= stale or status == EvseStatus.REMOVED:
        return status
    return EvseStatus.UNKNOWN
