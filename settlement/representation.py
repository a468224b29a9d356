"""How an SDR looks on the wire: in API answers and in the messages the hub delivers.

One builder for both, so a CSP reads the same record whether the hub pushes it or the CSP pulls it.
Money as decimal strings with four decimals, quantities as plain decimal strings, times in UTC with
a `Z`. Plain dictionaries (no serializer machinery): intake answers 500 records per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from settlement.rating import RatingResult

from .models import Sdr, SdrEvent, SdrFinding


def rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else _utc_text(moment)


# An intake answer of 500 SDRs shows 3,000 times, half of them the one moment the batch was
# received: equal moments (the same instant, whatever the zone) are formatted once.
@lru_cache(maxsize=4096)
def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad the year; keep its text for those
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat gives strftime's text in about a third of the time.
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def quantity(value: Decimal | None) -> str | None:
    """A quantity without trailing zeros (15.342000 → 15.342; 2.000000 → 2)."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price(excl: Decimal | None, incl: Decimal | None) -> dict[str, str | None] | None:
    if excl is None:
        return None
    return {"excl_vat": money(excl), "incl_vat": money(incl)}


def finding_out(finding: SdrFinding | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(finding, Mapping):
        return dict(finding)
    return {
        "code": finding.code,
        "severity": finding.severity,
        "message": finding.message,
        "field": finding.field,
    }


def event_out(event: SdrEvent) -> dict[str, Any]:
    return {
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": event.actor,
        "reason_code": event.reason_code or None,
        "message": event.message or None,
        "at": rfc3339(event.created_at),
    }


def sdr_out(
    sdr: Sdr,
    *,
    findings: Iterable[SdrFinding | Mapping[str, Any]],
    cso_label: str,
    csp_label: str | None,
    full: bool = True,
    events: Iterable[SdrEvent] | None = None,
) -> dict[str, Any]:
    """The record: the hub's columns, its findings and, when `full`, the CDR as received and the
    hub's rating lines (and the history, when `events` are given)."""
    out: dict[str, Any] = {
        "id": sdr.pk,
        "sdr_id": sdr.sdr_id,
        "state": sdr.effective_state,
        "cso": cso_label,
        "csp": csp_label,
        "credit": sdr.credit,
        "credit_reference_id": sdr.credit_reference_id or None,
        "credit_of": sdr.credit_of_id,
        "replacement_of": sdr.replacement_of_id,
        "session_id": sdr.session_id or None,
        "contract_id": sdr.contract_id or None,
        "evse_id": sdr.evse_id or None,
        "connector_id": sdr.connector_id or None,
        "authorization_reference": sdr.authorization_reference or None,
        "start_date_time": rfc3339(sdr.start_date_time),
        "end_date_time": rfc3339(sdr.end_date_time),
        "currency": sdr.currency or None,
        "total_cost": price(sdr.total_cost_excl_vat, sdr.total_cost_incl_vat),
        "total_energy": quantity(sdr.total_energy),
        "total_time": quantity(sdr.total_time),
        "total_parking_time": quantity(sdr.total_parking_time),
        "hub_cost": price(sdr.hub_cost_excl_vat, sdr.hub_cost_incl_vat),
        "cost_difference": money(sdr.cost_difference),
        "tariff_source": sdr.tariff_source or None,
        "findings": [finding_out(f) for f in findings],
        "dispute": (
            {
                "reason_code": sdr.dispute_reason_code,
                "message": sdr.dispute_message or None,
                "disputed_at": rfc3339(sdr.disputed_at),
            }
            if sdr.dispute_reason_code
            else None
        ),
        "received_at": rfc3339(sdr.received_at),
        "delivered_at": rfc3339(sdr.delivered_at),
        "accepted_at": rfc3339(sdr.accepted_at),
        "settled_at": rfc3339(sdr.settled_at),
        "updated_at": rfc3339(sdr.updated_at),
    }
    if full:
        out["rating"] = sdr.rating
        out["cdr"] = sdr.cdr
    if events is not None:
        out["events"] = [event_out(e) for e in events]
    return out


def sdr_out_loaded(
    sdr: Sdr, *, full: bool = True, events: Iterable[SdrEvent] | None = None
) -> dict[str, Any]:
    """`sdr_out` for an SDR read with its partners and prefetched findings (see the selectors)."""
    return sdr_out(
        sdr,
        findings=sdr.findings.all(),
        cso_label=sdr.cso.operator_id,
        csp_label=sdr.csp.provider_id if sdr.csp_id else None,
        full=full,
        events=events,
    )


def transition_out(sdr: Sdr, *, cso_label: str, csp_label: str | None) -> dict[str, Any]:
    """What a message about a state change carries: enough to find the SDR and see its new state."""
    return {
        "id": sdr.pk,
        "sdr_id": sdr.sdr_id,
        "cso": cso_label,
        "csp": csp_label,
        "state": sdr.state,
        "credit": sdr.credit,
        "dispute": (
            {"reason_code": sdr.dispute_reason_code, "message": sdr.dispute_message or None}
            if sdr.dispute_reason_code and sdr.state == "DISPUTED"
            else None
        ),
        "accepted_at": rfc3339(sdr.accepted_at),
        "disputed_at": rfc3339(sdr.disputed_at),
        "updated_at": rfc3339(sdr.updated_at),
    }


def rating_out(result: RatingResult) -> dict[str, Any]:
    """The hub's rating, kept with the SDR so both sides can redo the arithmetic."""
    return {
        **result.to_ocpi(),
        "lines": [
            {
                "dimension": line.dimension,
                "tariff_id": line.tariff_id,
                "element_index": line.element_index,
                "volume": quantity(line.volume),
                "billed_volume": quantity(line.billed_volume),
                "unit": line.unit,
                "unit_price": format(line.unit_price, "f"),
                "vat": None if line.vat is None else format(line.vat, "f"),
                "step_rounded": line.step_rounded,
                "excl_vat": money(line.excl_vat),
                "incl_vat": money(line.incl_vat),
            }
            for line in result.lines
        ],
    }
