"""Checking a batch of SDRs: what is stored already, the verdict on each new one, and its rows.

Everything is read for the whole batch at once (settlement/lookups.py) and checked in Python
(settlement/validation); nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings

from clearinghouse.db import InstanceBuilder
from partners.models import Partner

from .. import lookups
from ..models import Sdr, SdrState
from ..representation import rating_out
from ..validation import Context, Finding, ParseResult, Tolerances, Verdict, check_sdr
from ..validation.schema import ParsedSdr

MONEY = Decimal("0.0001")
QUANTITY = Decimal("0.000001")

CREATED = "created"
EXISTING = "existing"
REJECTED = "rejected"
CONFLICT = "conflict"
INVALID = "invalid"
STATUS = {CREATED: 201, EXISTING: 200, REJECTED: 422, CONFLICT: 409, INVALID: 400}

# From a credit's arrival on, the credited SDR and its credit settle together (they net to zero),
# so an unsettled original counts as accepted: a dispute it was under is answered by the credit.
CREDITABLE_STATES = (SdrState.VALIDATED, SdrState.DELIVERED, SdrState.DISPUTED)

# Sdr(**values) at a third of the cost: a batch builds up to 500.
_new_sdr = InstanceBuilder(Sdr)


@dataclass
class ItemResult:
    """The answer for one item of a batch: created (201), existing (200), rejected (422), conflict
    (409) or invalid (400), with the stored SDR when there is one and the findings."""

    index: int
    sdr_id: str | None
    result: str
    sdr: Sdr | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> int:
        return STATUS[self.result]

    @property
    def ok(self) -> bool:
        return self.result in (CREATED, EXISTING)


def tolerances() -> Tolerances:
    return Tolerances(
        total_time_seconds=settings.SDR_TOTAL_TIME_TOLERANCE_SECONDS,
        cost=Decimal(str(settings.SDR_COST_TOLERANCE)),
        energy_capacity=Decimal(str(settings.SDR_ENERGY_CAPACITY_TOLERANCE)),
    )


def _q(value: Decimal | None, quantum: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(quantum, rounding=ROUND_HALF_UP)


def batch_context(cso: Partner, sdrs: list[ParsedSdr], stored: Mapping[str, Any]) -> Context:
    """Everything the rules consult for the batch, read in a fixed number of queries."""
    checked = [s for s in sdrs if not s.credit]
    owners = lookups.contract_owners(contract_ids={s.contract_id for s in checked})
    agreements = lookups.agreements_between(cso_id=cso.pk, csp_ids=set(owners.values()))
    evses = lookups.evses_for_cso(cso_id=cso.pk, evse_ids={s.evse_id for s in checked})
    tariff_ids = {a.pinned_tariff_id for found in agreements.values() for a in found}
    tariff_ids.update(t for evse in evses.values() for c in evse.connectors.values() for t in c.tariff_ids)
    tariff_ids.update(p.tariff_id for s in checked for p in s.periods)
    return Context(
        cso_country_code=cso.country_code,
        cso_party_id=cso.party_id,
        evses=evses,
        owners=owners,
        agreements=agreements,
        authorizations=lookups.authorizations_by_reference(
            cso_id=cso.pk, references={s.authorization_reference for s in checked}
        ),
        sessions=lookups.sessions_of_cso(cso_id=cso.pk, session_ids={s.session_id for s in checked}),
        tariffs=lookups.tariffs_of_cso(cso_id=cso.pk, tariff_ids=tariff_ids),
        stored=stored,
        tolerances=tolerances(),
    )


@dataclass
class NewSdr:
    """An SDR to insert: its item, the verdict (None when its shape was wrong) and its row."""

    index: int
    parse: ParseResult
    verdict: Verdict | None
    row: Sdr
    extra_events: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, reason)

    @property
    def findings(self) -> list[Finding]:
        return self.verdict.findings if self.verdict is not None else list(self.parse.findings)


def shape_rejected_row(cso: Partner, parse: ParseResult, item: Mapping[str, Any], now: datetime) -> Sdr:
    """The REJECTED row of an item whose shape is wrong: its id, content and nothing read from it."""
    return _new_sdr(
        {
            "cso_id": cso.pk,
            "sdr_id": parse.sdr_id,
            "content_hash": parse.content_hash,
            "state": SdrState.REJECTED,
            "credit": item.get("credit") is True,
            "cdr": item,
            "received_at": now,
            "updated_at": now,
        }
    )


def sdr_row(cso: Partner, parse: ParseResult, verdict: Verdict, now: datetime) -> Sdr:
    """The SDR row of a checked item; a REJECTED one when any finding is an error."""
    sdr = verdict.sdr
    hub = verdict.hub_cost
    rejected = verdict.rejected
    state = SdrState.REJECTED if rejected else (SdrState.ACCEPTED if sdr.credit else SdrState.VALIDATED)
    return _new_sdr(
        {
            "cso_id": cso.pk,
            "csp_id": verdict.csp_id,
            "sdr_id": sdr.sdr_id,
            "content_hash": parse.content_hash,
            "state": state,
            "credit": sdr.credit,
            "credit_reference_id": sdr.credit_reference_id,
            "credit_of_id": verdict.original.pk if verdict.original is not None and not rejected else None,
            "session_id": sdr.session_id,
            "contract_id": sdr.contract_id,
            "evse_id": sdr.evse_id,
            "connector_id": sdr.connector_id,
            "authorization_reference": sdr.authorization_reference,
            "auth_method": sdr.auth_method,
            "start_date_time": sdr.start,
            "end_date_time": sdr.end,
            "currency": sdr.currency,
            "total_cost_excl_vat": _q(sdr.total_cost.excl_vat, MONEY),
            "total_cost_incl_vat": _q(sdr.total_cost.incl_vat, MONEY),
            "total_energy": _q(sdr.total_energy, QUANTITY),
            "total_time": _q(sdr.total_time, QUANTITY),
            "total_parking_time": _q(sdr.total_parking_time, QUANTITY),
            "hub_cost_excl_vat": _q(hub.excl_vat, MONEY) if hub else None,
            "hub_cost_incl_vat": _q(hub.incl_vat, MONEY) if hub else None,
            "cost_difference": _q(verdict.cost_difference, MONEY),
            "tariff_source": verdict.tariff_source,
            "has_warnings": any(not f.is_error for f in verdict.findings),
            "cdr": sdr.raw,
            "rating": rating_out(verdict.rating) if verdict.rating is not None else None,
            "received_at": now,
            "accepted_at": now if sdr.credit and not rejected else None,
            "updated_at": now,
        }
    )


def period_rows(new: NewSdr) -> list[dict[str, Any]]:
    """The values of the SDR's charging period rows (SdrChargingPeriod)."""
    sdr = new.verdict.sdr if new.verdict is not None else None
    if sdr is None:
        return []
    raw_periods = sdr.raw["charging_periods"]
    rows = []
    for position, period in enumerate(sdr.periods):
        end = sdr.periods[position + 1].start if position + 1 < len(sdr.periods) else sdr.end
        rows.append(
            {
                "sdr_id": new.row.pk,
                "index": period.index,
                "start_date_time": period.start,
                "end_date_time": max(end, period.start),
                "tariff_id": period.tariff_id,
                "energy": _q(period.volume("ENERGY"), QUANTITY),
                "charging_time": _q(period.volume("TIME"), QUANTITY),
                "parking_time": _q(period.volume("PARKING_TIME"), QUANTITY),
                "reservation_time": _q(period.volume("RESERVATION_TIME"), QUANTITY),
                "dimensions": raw_periods[period.index]["dimensions"],
            }
        )
    return rows


def event_rows(new: NewSdr, now: datetime) -> list[dict[str, Any]]:
    """The values of the SDR's first events (SdrEvent)."""
    row = new.row
    first = SdrState.REJECTED if row.state == SdrState.REJECTED else SdrState.VALIDATED
    events = [
        {
            "sdr_id": row.pk,
            "from_state": SdrState.RECEIVED,
            "to_state": first,
            "actor": "HUB",
            "created_at": now,
        }
    ]
    events.extend(
        {
            "sdr_id": row.pk,
            "from_state": old,
            "to_state": to,
            "actor": "HUB",
            "reason_code": reason,
            "created_at": now,
        }
        for old, to, reason in new.extra_events
    )
    return events


@dataclass
class Batch:
    """One pass over a batch: the answers so far and the rows to write."""

    cso: Partner
    items: Sequence[Any]
    parsed: list[ParseResult]
    results: list[ItemResult | None]
    new: list[NewSdr] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


def partition(batch: Batch, stored: Mapping[str, Any]) -> list[int]:
    """Answer what needs no checking (not an object; already stored) and return the rest."""
    to_check = []
    first: set[str] = set()
    for index, parse in enumerate(batch.parsed):
        sdr_id = parse.sdr_id
        if not isinstance(batch.items[index], Mapping):
            batch.results[index] = ItemResult(index, None, INVALID, findings=list(parse.findings))
        elif sdr_id is not None and sdr_id in stored:
            known = stored[sdr_id]
            result = EXISTING if known.content_hash == parse.content_hash else CONFLICT
            batch.results[index] = ItemResult(index, sdr_id, result, sdr=Sdr(pk=known.pk))
        elif sdr_id is not None and sdr_id in first:
            batch.duplicates.append(index)
        else:
            if sdr_id is not None:
                first.add(sdr_id)
            to_check.append(index)
    return to_check


def check_batch(batch: Batch, to_check: list[int], stored: Mapping[str, Any], now: datetime) -> None:
    """Run the rules over the items to check and build their rows (rejected ones included)."""
    cso = batch.cso
    good = [batch.parsed[i].sdr for i in to_check if batch.parsed[i].sdr is not None]
    ctx = batch_context(cso, good, stored) if good else None  # type: ignore[arg-type]
    for index in to_check:
        parse = batch.parsed[index]
        verdict = check_sdr(parse.sdr, ctx) if parse.sdr is not None and ctx is not None else None
        findings = verdict.findings if verdict is not None else list(parse.findings)
        rejected = verdict is None or verdict.rejected
        if parse.sdr_id is None:
            # Without a usable id there is nothing to store the record under.
            batch.results[index] = ItemResult(index, None, REJECTED, findings=findings)
            continue
        if verdict is None:
            row = shape_rejected_row(cso, parse, batch.items[index], now)
        else:
            row = sdr_row(cso, parse, verdict, now)
        batch.new.append(NewSdr(index, parse, verdict, row))
        batch.results[index] = ItemResult(
            index, parse.sdr_id, REJECTED if rejected else CREATED, sdr=row, findings=findings
        )


def answer_duplicates(batch: Batch) -> None:
    """An id given twice in one batch: the second answers like the first when identical, else 409."""
    first_of: dict[str, int] = {}
    for index, parse in enumerate(batch.parsed):
        if parse.sdr_id is not None and index not in batch.duplicates:
            first_of.setdefault(parse.sdr_id, index)
    for index in batch.duplicates:
        parse = batch.parsed[index]
        first = batch.results[first_of[parse.sdr_id]]  # type: ignore[index]
        assert first is not None
        same = batch.parsed[first.index].content_hash == parse.content_hash
        if not same:
            batch.results[index] = ItemResult(index, parse.sdr_id, CONFLICT, sdr=first.sdr)
        else:
            result = EXISTING if first.result == CREATED else first.result
            batch.results[index] = ItemResult(
                index, parse.sdr_id, result, sdr=first.sdr, findings=first.findings
            )
