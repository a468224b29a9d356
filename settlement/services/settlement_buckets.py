"""Settlement buckets: where an SDR goes when it becomes ACCEPTED, so that a run settles it without
writing to it.

An accepted SDR (accepted by its CSP, by the hub once the dispute window passed, or a credit and
its original) joins the open bucket of its (CSO, CSP, currency) in the settlement period its session
end falls in, for the pair's cadence as the fee plans say at that moment; when that period is final
already, the next period that is not (a late SDR). When a fee plan's cadence changes, the open
buckets of its pairs are emptied and their SDRs placed again before anything is settled
(buckets_follow_cadences), so a pair settles at the cadence in force when its run executes. A run
of (cadence, period, currency) closes the open buckets of that period and sums their SDRs with one
GROUP BY (settlement_steps.py).

Locks (PostgreSQL; SQLite lets one writer in at a time): each (cadence, currency, period) has a
transaction-level advisory lock. Placing SDRs into a period takes it shared; closing the period's
buckets (the run) and making the period final (statement_finalise) take it exclusively. So no SDR
joins a bucket while the bucket is being closed, and no SDR is placed into a period that has become
final: finalising moves the period's still-open buckets to the next open period. Triggers (migration
0004) also refuse, whatever code runs, an SDR joining a closed bucket or leaving one, and take a
share lock on the bucket row to do so.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from ..models import Sdr, SdrState, SettlementBucket, SettlementRun
from ..periods import Cadence, Period, period_containing
from .settlement_scope import pair_cadence, partner_cadences

LOCK_CLASS = 0x5E7713  # the first key of the settlement period locks (pg_advisory_xact_lock(int, int))


def place_batch() -> int:
    """SDRs placed per statement (and per transaction, when a run places SDRs without a bucket)."""
    return max(1, settings.SETTLEMENT_RUN_BATCH_SIZE)


def _lock_key(cadence: str, currency: str, period_key: str) -> int:
    value = zlib.crc32(f"{cadence}:{currency}:{period_key}".encode())
    return value - (1 << 32) if value >= (1 << 31) else value


def period_lock(cadence: str, currency: str, period_key: str, *, exclusive: bool) -> None:
    """The period's advisory lock, until the end of the caller's transaction (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [LOCK_CLASS, _lock_key(cadence, currency, period_key)])


def _is_final(period: Period, currency: str) -> bool:
    return SettlementRun.objects.filter(
        cadence=period.cadence, period_key=period.key, currency=currency, closed_at__isnull=False
    ).exists()


def open_period(period: Period, currency: str) -> Period:
    """`period` or the first later one of its cadence that is not final, with its lock held shared
    (so it cannot become final before the caller commits)."""
    for _ in range(1000):
        period_lock(period.cadence, currency, period.key, exclusive=False)
        if not _is_final(period, currency):
            return period
        period = period.next()
    raise RuntimeError("no open settlement period within 1000 periods")


def _open_bucket(period: Period, currency: str, cso_id: int, csp_id: int) -> int:
    found = (
        SettlementBucket.objects.filter(
            cadence=period.cadence,
            currency=currency,
            period_key=period.key,
            cso_id=cso_id,
            csp_id=csp_id,
            line__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if found is not None:
        return found
    return SettlementBucket.objects.create(
        cso_id=cso_id,
        csp_id=csp_id,
        currency=currency,
        cadence=period.cadence,
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
    ).pk


def sdrs_place(*, pks: Iterable[int]) -> int:
    """Put accepted SDRs that have no bucket yet into the open buckets of their pairs and periods,
    in the caller's transaction; how many were placed. Others are left alone."""
    wanted = list(pks)
    if not wanted:
        return 0
    rows = Sdr.objects.filter(pk__in=wanted, state=SdrState.ACCEPTED, bucket__isnull=True).values_list(
        "pk", "cso_id", "csp_id", "currency", "end_date_time"
    )
    cadences = partner_cadences()
    groups: dict[tuple[Period, str, int, int], list[int]] = defaultdict(list)
    for pk, cso_id, csp_id, currency, end in rows:
        cadence = pair_cadence(cso_id, csp_id, cadences)
        groups[(period_containing(end, cadence), currency, cso_id, csp_id)].append(pk)
    targets: dict[tuple[Period, str], Period] = {}
    placed = 0
    # In period order, so two placements never wait on each other's locks in opposite orders.
    for (period, currency, cso_id, csp_id), group in sorted(
        groups.items(), key=lambda item: (item[0][0].start, item[0][0].cadence, *item[0][1:])
    ):
        target = targets.get((period, currency))
        if target is None:
            target = targets[(period, currency)] = open_period(period, currency)
        bucket_id = _open_bucket(target, currency, cso_id, csp_id)
        placed += Sdr.objects.filter(pk__in=group, bucket__isnull=True).update(bucket_id=bucket_id)
    return placed


def buckets_move_on(*, cadence: str, currency: str, period_key: str) -> int:
    """The period has just become final (its exclusive lock held): its buckets still open, with the
    SDRs accepted since its run last executed, move to the next open period; how many moved."""
    still_open = SettlementBucket.objects.filter(
        cadence=cadence, currency=currency, period_key=period_key, line__isnull=True
    )
    if not still_open.exists():
        return 0
    period = period_containing(still_open.values_list("period_start", flat=True).first(), Cadence(cadence))
    target = open_period(period.next(), currency)
    return still_open.update(period_key=target.key, period_start=target.start, period_end=target.end)


def buckets_follow_cadences(*, currency: str | None = None, before: Callable[[], None] | None = None) -> int:
    """Open buckets whose pair settles at another cadence now (a fee plan changed since their SDRs
    were accepted) give their SDRs back, to be placed again at the pair's cadence; one transaction
    per bucket, `before` called first in each. How many SDRs moved. Closed buckets never move."""
    cadences = partner_cadences()
    waiting = SettlementBucket.objects.filter(line__isnull=True)
    if currency is not None:
        waiting = waiting.filter(currency=currency)
    moved = 0
    for bucket in waiting.only("pk", "cso_id", "csp_id", "cadence", "currency", "period_key").order_by("pk"):
        if pair_cadence(bucket.cso_id, bucket.csp_id, cadences) == bucket.cadence:
            continue
        with transaction.atomic():
            if before is not None:
                before()
            period_lock(bucket.cadence, bucket.currency, bucket.period_key, exclusive=False)
            if not SettlementBucket.objects.filter(pk=bucket.pk, line__isnull=True).exists():
                continue  # closed meanwhile: its SDRs are settled where they are
            members = Sdr.objects.filter(bucket_id=bucket.pk)
            pks = list(members.values_list("pk", flat=True))
            members.update(bucket=None)
            SettlementBucket.objects.filter(pk=bucket.pk).delete()
            size = place_batch()
            for start in range(0, len(pks), size):
                moved += sdrs_place(pks=pks[start : start + size])
    return moved


def unplaced(*, currency: str | None = None, ended_before: datetime | None = None) -> QuerySet[Sdr]:
    """Accepted SDRs without a bucket (index sdr_unbucketed): stored as ACCEPTED by other means or
    before buckets existed."""
    qs = Sdr.objects.filter(state=SdrState.ACCEPTED, bucket__isnull=True)
    if currency is not None:
        qs = qs.filter(currency=currency)
    if ended_before is not None:
        qs = qs.filter(end_date_time__lt=ended_before)
    return qs
