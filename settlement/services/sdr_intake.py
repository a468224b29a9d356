"""SDR intake: check a batch of SDRs from one CSO, rate them, store them, route them to the CSPs.

A batch costs a fixed number of queries whatever its size: the shape is checked in Python, the
reference data for the whole batch is read in a few set-based queries (settlement/lookups.py), the
rules and the rating run in Python (settlement/validation), and the SDRs, their charging periods,
findings and events are written with one INSERT each, with one outbox message per CSP.

De-duplication is the database's: (CSO, SDR id) is unique. Two requests storing the same SDR at the
same moment collide on that index; the one that loses rolls back and runs again, and then finds the
stored SDR (the same content answers 200 with it, another content 409).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.errors import ConflictError, InvalidInput, NotFoundError, RuleViolation
from partners.models import Partner

from .. import lookups, selectors
from ..models import Sdr, SdrState
from ..representation import sdr_out
from ..validation import ParseResult, parse_sdr
from ..validation.schema import ID_MAX
from . import sdr_routing
from .sdr_batch import (
    CONFLICT,
    EXISTING,
    Batch,
    ItemResult,
    answer_duplicates,
    check_batch,
    partition,
)
from .sdr_store import store_batch

ATTEMPTS = 4


@dataclass
class IntakeOutcome:
    """The per-item answers of a batch and the partner labels to show them with."""

    results: list[ItemResult]
    labels: dict[int, tuple[str, str]]

    def record(self, item: ItemResult, *, full: bool) -> dict[str, Any] | None:
        sdr = item.sdr
        if sdr is None:
            return None
        findings = (
            sdr.findings.all()
            if item.result in (EXISTING, CONFLICT)
            else [f.to_json() for f in item.findings]
        )
        return sdr_out(
            sdr,
            findings=findings,
            cso_label=self.labels[sdr.cso_id][0],
            csp_label=self.labels[sdr.csp_id][1] if sdr.csp_id else None,
            full=full,
        )


def _ingest_once(
    cso: Partner,
    items: Sequence[Any],
    parsed: list[ParseResult],
    *,
    event_type: str,
    all_or_nothing: bool,
    links: Mapping[int, dict[str, Any]],
) -> tuple[list[ItemResult], dict[int, tuple[str, str]]]:
    """One pass: read what is stored, check the rest, write it in one transaction."""
    now = timezone.now()
    batch = Batch(cso=cso, items=items, parsed=parsed, results=[None] * len(items))
    keys = {p.sdr_id for p in parsed if p.sdr_id is not None}
    keys.update(p.sdr.credit_reference_id for p in parsed if p.sdr is not None and p.sdr.credit_reference_id)
    stored = selectors.stored_sdrs(cso_id=cso.pk, sdr_ids=keys)
    to_check = partition(batch, stored)
    check_batch(batch, to_check, stored, now)
    answer_duplicates(batch)
    results = [r for r in batch.results if r is not None]
    assert len(results) == len(items)
    if all_or_nothing:
        _refuse_unless_all_ok(results)
    with transaction.atomic():
        labels = store_batch(batch, event_type=event_type, now=now, links=links)
    return results, labels


def _refuse_unless_all_ok(results: list[ItemResult]) -> None:
    conflicts = [r for r in results if r.result == CONFLICT]
    if conflicts:
        raise ConflictError(
            "sdr_conflict",
            "An SDR with this id and another content is already stored.",
            {"items": [{"index": r.index, "sdr_id": r.sdr_id} for r in conflicts]},
        )
    bad = [r for r in results if not r.ok]
    if bad:
        raise RuleViolation(
            "sdr_rejected",
            "The hub's validation rejected the correction; nothing was stored.",
            {
                "items": [
                    {"index": r.index, "sdr_id": r.sdr_id, "findings": [f.to_json() for f in r.findings]}
                    for r in bad
                ]
            },
        )


def _ingest(
    cso_id: int,
    items: Sequence[Any],
    *,
    event_type: str = sdr_routing.CREATED,
    all_or_nothing: bool = False,
    links: Mapping[int, dict[str, Any]] | None = None,
) -> IntakeOutcome:
    cso = Partner.objects.get(pk=cso_id)
    parsed = [parse_sdr(item) for item in items]
    for attempt in range(ATTEMPTS):
        try:
            results, labels = _ingest_once(
                cso, items, parsed, event_type=event_type, all_or_nothing=all_or_nothing, links=links or {}
            )
            break
        except IntegrityError:
            # Another request stored one of these SDRs (or a credit of the same original) first: run
            # again, and its record is found and answered with.
            if attempt == ATTEMPTS - 1:
                raise
    _load_stored(results)
    for result in results:
        if result.sdr is not None and result.sdr.pk is None:
            result.sdr = None  # a rejection already on record: answered, not stored again
    missing = {cso.pk} | {r.sdr.csp_id for r in results if r.sdr is not None and r.sdr.csp_id}
    missing -= labels.keys()
    if missing:
        labels.update(lookups.partner_labels(partner_ids=missing))
    return IntakeOutcome(results=results, labels=labels)


def _load_stored(results: list[ItemResult]) -> None:
    """Replace the placeholders of already stored SDRs (existing, conflict) by the records."""
    wanted = {
        r.sdr.pk for r in results if r.result in (EXISTING, CONFLICT) and r.sdr is not None and r.sdr.pk
    }
    if not wanted:
        return
    rows = {
        s.pk: s
        for s in Sdr.objects.filter(pk__in=wanted).select_related("bucket").prefetch_related("findings")
    }
    for r in results:
        if r.sdr is not None and r.sdr.pk in rows and r.result in (EXISTING, CONFLICT):
            r.sdr = rows[r.sdr.pk]


def sdrs_ingest(*, cso_id: int, items: Sequence[Any]) -> IntakeOutcome:
    """Check, rate, store and route a batch of SDRs (OCPI CDRs) from a CSO; one answer per item.

    Each item is created (201), already stored with the same content (200), rejected by the hub's
    validation (422; stored as REJECTED with its findings when it has a usable id), in conflict
    with a stored SDR of the same id (409), or not an object (400). One bad item never affects
    the others. Raises InvalidInput for a batch above SDR_BULK_MAX_ITEMS.
    """
    if not 1 <= len(items) <= settings.SDR_BULK_MAX_ITEMS:
        raise InvalidInput(
            "invalid_batch_size",
            f"Send 1 to {settings.SDR_BULK_MAX_ITEMS} SDRs per request, not {len(items)}.",
        )
    return _ingest(cso_id, items)


def sdr_correct(
    *,
    cso_id: int,
    sdr_pk: int,
    credit_id: str | None = None,
    replacement: Any = None,
    remark: str | None = None,
) -> IntakeOutcome:
    """Correct a stored SDR: the hub writes the credit (the original with total_cost negated, id
    `credit_id`, by default the original's id + "-C") and stores it with the optional replacement,
    both or neither. The original, if not yet settled, becomes ACCEPTED with its credit (they net
    to zero); the CSP receives one `sdr.corrected` message. A repeat answers with what was stored.
    """
    original = Sdr.objects.filter(pk=sdr_pk, cso_id=cso_id).exclude(state=SdrState.REJECTED).first()
    if original is None:
        raise NotFoundError("sdr_not_found", "No such SDR of yours.")
    if original.credit:
        raise RuleViolation(
            "credit_not_correctable", "A credit cannot be corrected; correct the original SDR."
        )
    credit_id = credit_id if credit_id is not None else f"{original.sdr_id}-C"
    if not isinstance(credit_id, str) or not credit_id.strip() or len(credit_id) > ID_MAX:
        raise InvalidInput(
            "invalid_credit_id", f"credit_id must be a non-empty string of at most {ID_MAX} characters."
        )
    if remark is not None and (not isinstance(remark, str) or len(remark) > 255):
        raise InvalidInput("invalid_remark", "remark must be a string of at most 255 characters.")
    items: list[Any] = [_credit_document(original, credit_id, remark)]
    if replacement is not None:
        if not isinstance(replacement, Mapping):
            raise InvalidInput("invalid_replacement", "replacement must be an OCPI CDR object.")
        if replacement.get("credit") or replacement.get("credit_reference_id"):
            raise InvalidInput("invalid_replacement", "replacement must be an ordinary SDR, not a credit.")
        items.append(replacement)
    _refuse_another_correction(original, credit_id, replacement)
    return _ingest(
        cso_id,
        items,
        event_type=sdr_routing.CORRECTED,
        all_or_nothing=True,
        links={1: {"replacement_of_id": original.pk}},
    )


def _refuse_another_correction(original: Sdr, credit_id: str, replacement: Any) -> None:
    """An SDR is corrected once: after that only the same correction may be sent again (and is
    answered with what was stored)."""
    credit = original.credits.exclude(state=SdrState.REJECTED).only("sdr_id").first()
    if credit is None:
        return
    stored = original.replacements.exclude(state=SdrState.REJECTED).values_list("sdr_id", flat=True).first()
    wanted = replacement.get("id") if replacement is not None else None
    if credit.sdr_id != credit_id or stored != wanted:
        raise ConflictError(
            "already_corrected",
            "This SDR was corrected already; send a credit of its replacement to correct again.",
            {"credit": credit.pk},
        )


def _credit_document(original: Sdr, credit_id: str, remark: str | None) -> dict[str, Any]:
    """The credit of an SDR as OCPI defines it: the same record, total_cost negated."""
    cdr = dict(original.cdr)
    total = dict(cdr.get("total_cost") or {})
    total["excl_vat"] = float(-(original.total_cost_excl_vat or Decimal(0)))
    if original.total_cost_incl_vat is not None:
        total["incl_vat"] = float(-original.total_cost_incl_vat)
    cdr.update(
        id=credit_id,
        credit=True,
        credit_reference_id=original.sdr_id,
        total_cost=total,
        last_updated=timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    if remark is not None:
        cdr["remark"] = remark
    return cdr
