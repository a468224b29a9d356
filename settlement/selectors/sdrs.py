"""Reads of SDRs: what a partner may see, what intake compares with, what the settlement run settles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from clearinghouse.db import statement_cursor

from ..models import Sdr, SdrEvent, SdrState
from ..validation.context import StoredSdr

REJECTED = SdrState.REJECTED


_STORED_COLUMNS = (
    "pk",
    "sdr_id",
    "state",
    "credit",
    "credited",
    "content_hash",
    "csp_id",
    "contract_id",
    "evse_id",
    "currency",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "hub_cost_excl_vat",
    "hub_cost_incl_vat",
)

# On PostgreSQL, one probe of sdr_unique_cso_sdr_id per id, whatever the statistics say. Written as
# `cso_id = x AND sdr_id = ANY(ids)`, the planner may instead read every SDR of the CSO through
# sdr_cso_updated and filter them: it does when the table has no statistics yet (a new database,
# autovacuum off or behind), where cso_id = x looks as selective as 500 ids, and the read then grows
# with the CSO's SDRs (30 ms at 40,000, against 2 ms for the probes). LIMIT 1 keeps the lateral
# subquery a per-id index probe (the index is unique: there is at most one row to find).
_STORED_SQL = """
SELECT s.id, s.sdr_id, s.state, s.credit,
       EXISTS (
           SELECT 1 FROM settlement_sdr c
           WHERE c.credit_of_id = s.id AND c.credit AND NOT c.state = 'REJECTED'
       ),
       s.content_hash, s.csp_id, s.contract_id, s.evse_id, s.currency,
       s.total_cost_excl_vat, s.total_cost_incl_vat, s.hub_cost_excl_vat, s.hub_cost_incl_vat
FROM unnest(%s::varchar[]) AS wanted(sdr_id)
CROSS JOIN LATERAL (
    SELECT * FROM settlement_sdr s
    WHERE s.cso_id = %s AND s.sdr_id = wanted.sdr_id AND NOT s.state = 'REJECTED'
    LIMIT 1
) s
"""


def stored_sdrs(*, cso_id: int, sdr_ids: Iterable[str]) -> dict[str, StoredSdr]:
    """The CSO's stored SDRs (rejected ones aside) among `sdr_ids`, each with whether it was
    credited: what a repeated SDR and a credit are checked against. One query."""
    wanted = set(sdr_ids)
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        # Server-side binding: 500 ids travel as one array parameter, not quoted into the text,
        # and the connection plans the statement once.
        with statement_cursor(connection) as cursor:
            cursor.execute(_STORED_SQL, [sorted(wanted), cso_id])
            rows = cursor.fetchall()
        return {row[1]: StoredSdr(*row) for row in rows}
    credited = Sdr.objects.filter(credit_of=OuterRef("pk"), credit=True).exclude(state=REJECTED)
    rows = (
        Sdr.objects.filter(cso_id=cso_id, sdr_id__any_of=wanted)
        .exclude(state=REJECTED)
        .annotate(credited=Exists(credited))
        .values_list(*_STORED_COLUMNS)
    )
    return {row[1]: StoredSdr(*row) for row in rows}


def rejected_keys(*, cso_id: int, sdr_ids: Iterable[str]) -> set[tuple[str, str]]:
    """(SDR id, content hash) of the CSO's rejected SDRs among `sdr_ids`: a rejected record sent
    again is not stored twice. One query."""
    wanted = set(sdr_ids)
    if not wanted:
        return set()
    return set(
        Sdr.objects.filter(cso_id=cso_id, sdr_id__any_of=wanted, state=REJECTED).values_list(
            "sdr_id", "content_hash"
        )
    )


def _with_partners(qs: QuerySet[Sdr]) -> QuerySet[Sdr]:
    return qs.select_related("cso", "csp", "bucket").prefetch_related("findings")


def state_q(state: str) -> Q:
    """SDRs in a state as the API shows it: SETTLED is ACCEPTED in a closed settlement bucket, so
    ACCEPTED means accepted and not settled yet (Sdr.effective_state)."""
    if state == SdrState.SETTLED:
        return Q(state=SdrState.SETTLED) | Q(state=SdrState.ACCEPTED, bucket__line__isnull=False)
    if state == SdrState.ACCEPTED:
        return Q(state=SdrState.ACCEPTED) & (Q(bucket__isnull=True) | Q(bucket__line__isnull=True))
    return Q(state=state)


def sdrs_visible(
    *,
    partner_id: int,
    is_cso: bool,
    is_csp: bool,
    role: str | None = None,
    since: datetime | None = None,
    state: str | None = None,
) -> QuerySet[Sdr]:
    """SDRs a partner may see: as CSO all it sent (rejected ones too), as CSP those it pays (never a
    rejected one). `role` narrows to one side; `since` keeps those changed after a moment."""
    as_cso = Q(cso_id=partner_id) if is_cso and role in (None, "CSO") else Q(pk__in=[])
    as_csp = Q(csp_id=partner_id) & ~Q(state=REJECTED) if is_csp and role in (None, "CSP") else Q(pk__in=[])
    qs = Sdr.objects.filter(as_cso | as_csp)
    if since is not None:
        qs = qs.filter(updated_at__gt=since)
    if state:
        qs = qs.filter(state_q(state))
    return _with_partners(qs)


def sdr_get_visible(*, partner_id: int, is_cso: bool, is_csp: bool, pk: int) -> Sdr | None:
    """One SDR if the partner may see it (another partner's SDR is as good as absent)."""
    return sdrs_visible(partner_id=partner_id, is_cso=is_cso, is_csp=is_csp).filter(pk=pk).first()


def sdr_events(*, sdr: Sdr) -> list[SdrEvent]:
    return list(SdrEvent.objects.filter(sdr=sdr).order_by("id"))


# --- For the settlement run ---------------------------------------------------------------------------

SETTLEMENT_COLUMNS = (
    "id",
    "cso_id",
    "csp_id",
    "currency",
    "end_date_time",
    "accepted_at",
    "bucket_id",
    "credit",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "total_energy",
)


def sdrs_settleable(
    *,
    currency: str | None = None,
    ended_before: datetime | None = None,
    cso_id: int | None = None,
    csp_id: int | None = None,
) -> QuerySet[Sdr]:
    """Accepted SDRs not yet settled (credits included, with negative amounts): not in a bucket, or
    in one no run has closed yet; reduced to the columns a settlement groups by and sums.

    Group in SQL, e.g. `.values("cso_id", "csp_id", "currency").annotate(n=Count("id"),
    excl=Sum("total_cost_excl_vat"), ...)`; `ended_before` selects a period by the session end
    (late arrivals are the run's to place in the next open period, by `accepted_at`).
    """
    qs = Sdr.objects.filter(state_q(SdrState.ACCEPTED))
    if currency:
        qs = qs.filter(currency=currency)
    if ended_before is not None:
        qs = qs.filter(end_date_time__lt=ended_before)
    if cso_id is not None:
        qs = qs.filter(cso_id=cso_id)
    if csp_id is not None:
        qs = qs.filter(csp_id=csp_id)
    return qs.only(*SETTLEMENT_COLUMNS)


def sdrs_disputed(*, currency: str | None = None, ended_before: datetime | None = None) -> QuerySet[Sdr]:
    """Disputed SDRs: the amounts a statement holds back until the CSO corrects or the CSP accepts."""
    qs = Sdr.objects.filter(state=SdrState.DISPUTED)
    if currency:
        qs = qs.filter(currency=currency)
    if ended_before is not None:
        qs = qs.filter(end_date_time__lt=ended_before)
    return qs.only(*SETTLEMENT_COLUMNS)
