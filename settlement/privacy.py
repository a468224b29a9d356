"""What SDRs do for privacy, registered with the credentials app's privacy registry from
SettlementConfig.ready().

- Erasure of a contract: its SDRs keep every amount, quantity and time (they are financial records)
  but the contract ID becomes the pseudonym, in the column and in the stored CDR, whose token value
  (`cdr_token.uid`, an RFID card's UID) is replaced as well; texts (dispute messages, events,
  findings) that name the contract are rewritten.
- Export: the contract's SDRs as the CSP reads them in the API, with their history.
  The stored reports of final statements that list its SDRs are rendered again with the pseudonym.
- Retention: PRIVACY_SDR_PERSONAL_RETENTION_DAYS after the session end, accepted and settled SDRs
  are pseudonymised the same way (and, when reports show contract IDs unmasked, their statements'
  reports rendered again) and rejected ones deleted; after PRIVACY_ACCOUNTING_RETENTION_YEARS SDRs
  are deleted, unless a statement still refers to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.deletion import PROTECT, RESTRICT

from clearinghouse.lib.identifiers import IdentifierError, mask
from credentials.privacy import registry
from credentials.privacy.batches import in_batches
from credentials.privacy.contracts import pseudonym_of, scrubber_for, text_filter
from credentials.privacy.identity import PSEUDONYM_PREFIX, contract_spellings, search_terms
from credentials.privacy.retention import cutoff
from credentials.privacy.scrub import Scrubber

from .models import Sdr, SdrEvent, SdrFinding, SdrState
from .representation import sdr_out_loaded
from .services.settlement_reports import statement_reports_redact

_CHUNK = 500
_SDR_TEXTS = ["contract_id", "cdr", "rating", "dispute_message"]


def _scrub_sdrs(rows: list[Sdr], scrubber: Scrubber) -> None:
    for sdr in rows:
        sdr.contract_id = scrubber.pseudonym
        sdr.cdr = scrubber.json(sdr.cdr)
        sdr.rating = scrubber.json(sdr.rating) if sdr.rating is not None else None
        sdr.dispute_message = scrubber.text(sdr.dispute_message)[:500]


def _scrub_texts(model: Any, sdr_ids: list[int], terms: list[str], scrubber: Scrubber) -> None:
    rows = list(model.objects.filter(text_filter("message", terms), sdr_id__in=sdr_ids).only("pk", "message"))
    for row in rows:
        row.message = scrubber.text(row.message)[:500]
    model.objects.bulk_update(rows, ["message"], batch_size=_CHUNK)


# --- erasure ----------------------------------------------------------------------------------------


def sdrs_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    """The contract's SDRs (rejected ones too) with the pseudonym in place of the contract."""
    scrubber = scrubber_for(contract_ids, pseudonym)
    terms = search_terms(contract_ids)
    ids = list(Sdr.objects.filter(contract_id__in=contract_ids).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = list(Sdr.objects.filter(pk__in=chunk).only("pk", *_SDR_TEXTS))
        _scrub_sdrs(rows, scrubber)
        Sdr.objects.bulk_update(rows, _SDR_TEXTS, batch_size=_CHUNK)
        _scrub_texts(SdrEvent, chunk, terms, scrubber)
        _scrub_texts(SdrFinding, chunk, terms, scrubber)
    return len(ids)


def statement_reports_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    """Stored reports of final statements that list the contract's SDRs, rendered again with the
    pseudonym in place of the contract ID (the amounts stay as they were); how many statements."""
    return statement_reports_redact(contract_ids=list(contract_ids), pseudonym_of=lambda _contract: pseudonym)


# --- export -----------------------------------------------------------------------------------------


def _token_masked(record: dict[str, Any]) -> dict[str, Any]:
    """The export shows a credential by its masked hint only, also the token value in a CDR."""
    token = (record.get("cdr") or {}).get("cdr_token")
    if isinstance(token, dict) and isinstance(token.get("uid"), str) and token["uid"]:
        record["cdr"] = {**record["cdr"], "cdr_token": {**token, "uid": mask(token["uid"])}}
    return record


def sdrs_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    """The contract's SDRs (a rejected one may name no CSP), each with its CDR and history."""
    rows = (
        Sdr.objects.filter(Q(csp_id=csp_id) | Q(csp__isnull=True), contract_id__in=contract_ids)
        .select_related("cso", "csp", "bucket")
        .prefetch_related("findings", "events")
        .order_by("pk")
    )
    return [_token_masked(sdr_out_loaded(sdr, full=True, events=sdr.events.all())) for sdr in rows]


# --- retention --------------------------------------------------------------------------------------

_KEPT_STATES = [SdrState.ACCEPTED, SdrState.SETTLED]


def _retention_scrubber(contract_id: str) -> Scrubber | None:
    try:
        return Scrubber(spellings=contract_spellings(contract_id), pseudonym=pseudonym_of(contract_id))
    except IdentifierError:
        return None


def sdrs_personal_references_due(now: datetime, batch_size: int) -> int:
    """SDRs whose session ended more than PRIVACY_SDR_PERSONAL_RETENTION_DAYS ago: accepted and
    settled ones are pseudonymised (their amounts stay for the accounting period), rejected ones
    (never billed) are deleted."""
    before = cutoff(now, settings.PRIVACY_SDR_PERSONAL_RETENTION_DAYS)
    if before is None:
        return 0
    due = Sdr.objects.filter(state__in=_KEPT_STATES, end_date_time__lt=before).exclude(
        Q(contract_id="") | Q(contract_id__startswith=PSEUDONYM_PREFIX)
    )

    contracts: set[str] = set()

    def pseudonymise(ids: list[int]) -> int:
        rows = list(due.filter(pk__in=ids).only("pk", *_SDR_TEXTS))
        scrubbers: dict[str, Scrubber | None] = {}
        changed: list[Sdr] = []
        for sdr in rows:
            if sdr.contract_id not in scrubbers:
                scrubbers[sdr.contract_id] = _retention_scrubber(sdr.contract_id)
            scrubber = scrubbers[sdr.contract_id]
            if scrubber is not None:
                contracts.add(sdr.contract_id)
                _scrub_sdrs([sdr], scrubber)
                changed.append(sdr)
        Sdr.objects.bulk_update(changed, _SDR_TEXTS)
        return len(changed)

    done = in_batches(due, pseudonymise, batch_size=batch_size)
    _reports_rerender(sorted(contracts), batch_size)
    rejected = Sdr.objects.filter(state=SdrState.REJECTED, received_at__lt=before)
    return done + _delete_unreferenced(rejected, batch_size)


def _reports_rerender(contracts: list[str], batch_size: int) -> None:
    """Stored statement reports show contract IDs masked by default (a hint of four characters):
    then nothing is left to replace. Unmasked, they are rendered again with the pseudonyms."""
    if settings.SETTLEMENT_REPORTS_MASK_CONTRACT_IDS:
        return
    for start in range(0, len(contracts), max(1, batch_size)):
        statement_reports_redact(
            contract_ids=contracts[start : start + batch_size], pseudonym_of=pseudonym_of
        )


def _years_before(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _unreferenced(queryset: QuerySet[Sdr]) -> QuerySet[Sdr]:
    """The SDRs nothing protects from deletion: no statement and no other SDR (a credit, a
    replacement) refers to them."""
    for relation in Sdr._meta.related_objects:
        if relation.on_delete in (PROTECT, RESTRICT):
            referrers = relation.related_model._default_manager.filter(
                **{relation.field.name: OuterRef("pk")}
            )
            queryset = queryset.exclude(Exists(referrers))
    return queryset


def _delete_unreferenced(queryset: QuerySet[Sdr], batch_size: int) -> int:
    """Delete in passes: a credit goes in one pass, the original it referred to in the next."""
    total = 0
    while True:
        candidates = _unreferenced(queryset)

        def delete(ids: list[int], candidates: QuerySet[Sdr] = candidates) -> int:
            deleted = candidates.filter(pk__in=ids)
            count = deleted.count()
            deleted.delete()
            return count

        done = in_batches(candidates, delete, batch_size=batch_size)
        total += done
        if not done:
            return total


def sdrs_past_accounting_delete(now: datetime, batch_size: int) -> int:
    """SDRs whose session ended (or, rejected, that arrived) more than
    PRIVACY_ACCOUNTING_RETENTION_YEARS ago are deleted with their periods, findings and events,
    unless a statement still refers to them."""
    years = settings.PRIVACY_ACCOUNTING_RETENTION_YEARS
    if years <= 0:
        return 0
    before = _years_before(now, years)
    old = Sdr.objects.filter(
        Q(end_date_time__lt=before) | Q(end_date_time__isnull=True, received_at__lt=before)
    )
    return _delete_unreferenced(old, batch_size)


def register() -> None:
    """Register with the credentials app's privacy registry (from SettlementConfig.ready())."""
    registry.erasure_step_register("settlement.sdrs", sdrs_pseudonymise)
    registry.erasure_step_register("settlement.statement_reports", statement_reports_pseudonymise)
    registry.export_provider_register("sdrs", sdrs_export, order=200)
    registry.retention_step_register("settlement.sdr_personal_references", sdrs_personal_references_due)
    registry.retention_step_register("settlement.sdrs_past_accounting", sdrs_past_accounting_delete)
