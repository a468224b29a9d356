"""Writing a checked batch: the SDRs with their periods, findings and events, the credited
originals, and the messages to the CSPs, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from clearinghouse.db import bulk_insert, bulk_insert_values

from .. import lookups, selectors
from ..models import Sdr, SdrChargingPeriod, SdrEvent, SdrFinding, SdrState
from ..representation import sdr_out, transition_out
from . import sdr_routing
from .sdr_batch import CREDITABLE_STATES, Batch, event_rows, period_rows
from .settlement_buckets import sdrs_place


def store_batch(
    batch: Batch, *, event_type: str, now: datetime, links: Mapping[int, dict[str, Any]]
) -> dict[int, tuple[str, str]]:
    """Insert the new SDRs with their periods, findings and events; accept the originals of
    credits; write the messages to the CSPs. Runs in the caller's transaction; returns the labels
    of the partners involved."""
    cso = batch.cso
    known_rejections = selectors.rejected_keys(
        cso_id=cso.pk, sdr_ids={n.row.sdr_id for n in batch.new if n.row.state == SdrState.REJECTED}
    )
    to_insert = [
        n
        for n in batch.new
        if n.row.state != SdrState.REJECTED or (n.row.sdr_id, n.row.content_hash) not in known_rejections
    ]
    for new in to_insert:
        for name, value in links.get(new.index, {}).items():
            setattr(new.row, name, value)
    live = [n for n in to_insert if n.row.state != SdrState.REJECTED]
    push = lookups.csps_with_endpoint(csp_ids={n.row.csp_id for n in live if not n.row.credit})
    for new in live:
        if not new.row.credit and new.row.csp_id not in push:
            # Nowhere to push: the SDR is delivered by being there to pull, and its dispute window runs.
            new.row.state = SdrState.DELIVERED
            new.row.delivered_at = now
            new.extra_events.append((SdrState.VALIDATED, SdrState.DELIVERED, "PULL"))
        elif new.row.credit:
            new.extra_events.append((SdrState.VALIDATED, SdrState.ACCEPTED, "CREDIT"))
    # COPY on PostgreSQL (clearinghouse.db.bulk_insert): the widest writes of the intake. Each CDR
    # is stored as the JSON text its content hash was computed from: encoded once, not twice; the
    # rating by orjson (see _rating_text).
    bulk_insert(
        [n.row for n in to_insert],
        documents={
            "cdr": [n.parse.document for n in to_insert],
            "rating": [_rating_text(n.row.rating) for n in to_insert],
        },
    )
    bulk_insert_values(SdrChargingPeriod, [p for n in live for p in period_rows(n)])
    bulk_insert_values(
        SdrFinding,
        [
            {
                "sdr_id": n.row.pk,
                "code": f.code,
                "severity": f.severity,
                "message": f.message[:500],
                "field": f.field[:120],
            }
            for n in to_insert
            for f in n.findings
        ],
    )
    bulk_insert_values(SdrEvent, [e for n in to_insert for e in event_rows(n, now)])
    credited = accept_credited([n.row for n in live if n.row.credit], now)
    # Credits are accepted on arrival, their originals with them: both join their buckets.
    sdrs_place(pks=[n.row.pk for n in live if n.row.credit] + [o.pk for o in credited])
    labels = lookups.partner_labels(partner_ids={cso.pk} | {n.row.csp_id for n in to_insert if n.row.csp_id})
    by_csp = sdr_routing.group()
    for new in live:
        if new.row.credit or new.row.state == SdrState.VALIDATED:
            row = new.row
            record = sdr_out(
                row,
                findings=[f.to_json() for f in new.findings],
                cso_label=labels[cso.pk][0],
                csp_label=labels[row.csp_id][1],
            )
            by_csp[(row.csp_id, "CSP")].append(record)
    for (csp_id, role), records in sorted(by_csp.items()):
        extra = {}
        mine = [o for o in credited if o.csp_id == csp_id]
        if mine:
            cso_label, csp_label = labels[cso.pk][0], labels[csp_id][1]
            extra["credited"] = [transition_out(o, cso_label=cso_label, csp_label=csp_label) for o in mine]
        if not sdr_routing.sdrs_send(
            partner_id=csp_id, role=role, event_type=event_type, records=records, **extra
        ):
            deliver_unpushed(pks=[r["id"] for r in records if r["state"] == SdrState.VALIDATED], now=now)
    return labels


def _rating_text(rating: dict[str, Any] | None) -> str | None:
    """The rating's JSON text for its jsonb column, by orjson: the same value the field's encoder
    would give (rating_out holds strings, integers, booleans and None only; jsonb keeps no key order
    nor spacing), at a fraction of the cost. None (the field's own encoding) for anything else."""
    if rating is None:
        return None
    try:
        return orjson.dumps(rating).decode()
    except TypeError:
        return None


def accept_credited(credits: list[Sdr], now: datetime) -> list[Sdr]:
    """The originals of newly stored credits that were not settled or accepted yet become ACCEPTED:
    an original and its credit settle together and net to zero."""
    if not credits:
        return []
    reason = {c.credit_of_id: c.sdr_id for c in credits}
    originals = list(
        Sdr.objects.select_for_update(of=("self",))
        .filter(pk__in=reason, state__in=CREDITABLE_STATES)
        .only("pk", "sdr_id", "state", "cso_id", "csp_id", "credit", "dispute_reason_code", "dispute_message")
    )
    if not originals:
        return []
    Sdr.objects.filter(pk__in=[o.pk for o in originals], state__in=CREDITABLE_STATES).update(
        state=SdrState.ACCEPTED, accepted_at=now, updated_at=now
    )
    SdrEvent.objects.bulk_create(
        SdrEvent(
            sdr_id=o.pk,
            from_state=o.state,
            to_state=SdrState.ACCEPTED,
            actor="CSO",
            partner_id=o.cso_id,
            reason_code="CREDITED",
            message=f"credited by SDR {reason[o.pk]}"[:500],
            created_at=now,
        )
        for o in originals
    )
    for original in originals:
        original.state, original.accepted_at, original.updated_at = SdrState.ACCEPTED, now, now
    return originals


def deliver_unpushed(*, pks: list[int], now: datetime) -> None:
    """SDRs whose CSP turned out to have nowhere to push to count as delivered (they are pulled)."""
    if not pks:
        return
    Sdr.objects.filter(pk__in=pks, state=SdrState.VALIDATED).update(
        state=SdrState.DELIVERED, delivered_at=now, updated_at=now
    )
    SdrEvent.objects.bulk_create(
        SdrEvent(
            sdr_id=pk,
            from_state=SdrState.VALIDATED,
            to_state=SdrState.DELIVERED,
            actor="HUB",
            reason_code="PULL",
            created_at=now,
        )
        for pk in pks
    )
