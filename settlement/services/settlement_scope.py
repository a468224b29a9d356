"""Which SDRs a settlement run settles.

A run (cadence C, period P, currency X) settles the ACCEPTED SDRs in X of the partner pairs that
settle with cadence C whose session ended in P, and the late ones: those that ended in earlier
periods that are final already (settlement.periods.first_open_period). So its window of session
ends is [end of the nearest earlier period that is not final, end of P).

A pair settles with the more frequent of its two partners' cadences (a partner without a fee plan
settles monthly): a partner that asked to be paid weekly is paid weekly by every counterparty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q

from ..models import FeePlan, Sdr, SdrState, SettlementRun
from ..periods import Cadence, Period, first_open_period, period_containing

RANK = {Cadence.DAILY: 0, Cadence.WEEKLY: 1, Cadence.MONTHLY: 2}


@dataclass(frozen=True)
class PairFilter:
    """The pairs of one cadence: neither partner settles more often, and (below monthly, which is
    everyone's default) at least one of them settles at exactly this cadence."""

    excluded: tuple[int, ...]  # partners that settle more often than this cadence
    required: tuple[int, ...] | None  # one of the pair must be among them (None: no condition)

    def q(self) -> Q:
        cond = Q()
        if self.excluded:
            cond &= ~Q(cso_id__in=self.excluded) & ~Q(csp_id__in=self.excluded)
        if self.required is not None:
            cond &= Q(cso_id__in=self.required) | Q(csp_id__in=self.required)
        return cond

    def sql(self, alias: str) -> tuple[list[str], list[object]]:
        parts: list[str] = []
        params: list[object] = []
        if self.excluded:
            marks = ", ".join(["%s"] * len(self.excluded))
            parts += [f"{alias}.cso_id NOT IN ({marks})", f"{alias}.csp_id NOT IN ({marks})"]
            params += [*self.excluded, *self.excluded]
        if self.required is not None:
            if not self.required:
                return ["1 = 0"], []
            marks = ", ".join(["%s"] * len(self.required))
            parts.append(f"({alias}.cso_id IN ({marks}) OR {alias}.csp_id IN ({marks}))")
            params += [*self.required, *self.required]
        return parts, params


def partner_cadences() -> dict[int, Cadence]:
    """The partners that settle more often than monthly (everyone else settles monthly)."""
    return {
        partner_id: Cadence(cadence)
        for partner_id, cadence in FeePlan.objects.exclude(cadence=Cadence.MONTHLY).values_list(
            "partner_id", "cadence"
        )
    }


def pair_filter(cadence: Cadence, cadences: dict[int, Cadence] | None = None) -> PairFilter:
    cadences = partner_cadences() if cadences is None else cadences
    rank = RANK[cadence]
    excluded = tuple(sorted(p for p, c in cadences.items() if RANK[c] < rank))
    if cadence is Cadence.MONTHLY:
        return PairFilter(excluded, None)
    return PairFilter(excluded, tuple(sorted(p for p, c in cadences.items() if c is cadence)))


def pair_cadence(cso_id: int, csp_id: int, cadences: dict[int, Cadence]) -> Cadence:
    return min(
        (cadences.get(cso_id, Cadence.MONTHLY), cadences.get(csp_id, Cadence.MONTHLY)), key=RANK.__getitem__
    )


def closed_period_keys(*, cadence: str, currency: str) -> set[str]:
    """Keys of the final periods of a cadence and currency: runs with a final statement."""
    return set(
        SettlementRun.objects.filter(cadence=cadence, currency=currency, closed_at__isnull=False).values_list(
            "period_key", flat=True
        )
    )


def window_start(period: Period, closed: set[str]) -> datetime:
    """The end of the nearest period before `period` that is not final: SDRs that ended from then
    on and are still unsettled belong to `period` (their own periods are final)."""
    earlier = period.previous()
    while earlier.key in closed:
        earlier = earlier.previous()
    return earlier.end


def target_period(moment: datetime, cadence: Cadence, closed: set[str]) -> Period:
    """The period an SDR that ended at `moment` settles in."""
    return first_open_period(moment, cadence, is_final=lambda period: period.key in closed)


@dataclass(frozen=True)
class Scope:
    """The SDRs one run settles (state ACCEPTED) or shows as held back (state DISPUTED)."""

    currency: str
    start: datetime  # session end, inclusive
    end: datetime  # session end, exclusive
    pairs: PairFilter

    def q(self, state: str = SdrState.ACCEPTED) -> Q:
        return (
            Q(state=state, currency=self.currency, end_date_time__gte=self.start, end_date_time__lt=self.end)
            & self.pairs.q()
        )

    def settleable(self) -> Iterable[Sdr]:
        return Sdr.objects.filter(self.q())

    def sql(self, alias: str) -> tuple[str, list[object]]:
        """The WHERE conditions of settleable SDRs (table alias `alias`) for raw SQL."""
        ops = connection.ops
        parts = [
            f"{alias}.state = %s",
            f"{alias}.currency = %s",
            f"{alias}.end_date_time >= %s",
            f"{alias}.end_date_time < %s",
        ]
        params: list[object] = [
            SdrState.ACCEPTED,
            self.currency,
            ops.adapt_datetimefield_value(self.start),
            ops.adapt_datetimefield_value(self.end),
        ]
        pair_parts, pair_params = self.pairs.sql(alias)
        return " AND ".join(parts + pair_parts), params + pair_params


def scope_of(run: SettlementRun) -> Scope:
    """The scope of a run, as of now (closed periods and cadences are read fresh)."""
    period = period_containing(run.period_start, run.cadence)
    closed = closed_period_keys(cadence=run.cadence, currency=run.currency)
    return Scope(
        currency=run.currency,
        start=window_start(period, closed),
        end=period.end,
        pairs=pair_filter(Cadence(run.cadence)),
    )
