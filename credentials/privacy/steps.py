"""The erasure steps of the credentials app and of the plumbing below it (audit log, idempotency
answers, the admin's change log, the outbox), registered from credentials' AppConfig.ready().

Every step is idempotent: it selects rows by a spelling of the contract ID, which it replaces.
"""

from __future__ import annotations

import json
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.admin.models import LogEntry
from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from clearinghouse.models import AuditEntry, IdempotencyRecord
from clearinghouse.routing.privacy import outbox_scrub

from ..models import AuthorizationRecord, Credential, DriverPersonalData, IssuedContract
from . import registry
from .contracts import credential_hashes, scrubber_for, text_filter
from .identity import search_terms

_CHUNK = 500


# --- the credentials app -------------------------------------------------------------------------


def authorizations_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    """Authorization records of the contract keep their EVSE, times and decision; the contract ID
    becomes the pseudonym, the credential's hint, lookup hash and any pending question are removed.
    Records of the contract's credentials that carry no contract ID (a stop, a card the CSPs were
    asked about) are found by the lookup hash."""
    hashes = credential_hashes(contract_ids)
    by_contract = Q(contract_id__in=contract_ids)
    by_credential = Q(lookup_hash__in=hashes) if hashes else Q(pk__in=[])
    changed = AuthorizationRecord.objects.filter(by_contract).update(
        contract_id=pseudonym, credential_hint="", lookup_hash="", pending_credential="", credential=None
    )
    changed += AuthorizationRecord.objects.filter(by_credential).update(
        credential_hint="", lookup_hash="", pending_credential="", credential=None
    )
    return changed


def personal_data_delete(contract_ids: list[str], pseudonym: str) -> int:
    """The driver's name, e-mail and phone: deleted."""
    deleted, _ = DriverPersonalData.objects.filter(contract_id__in=contract_ids).delete()
    return deleted


def credentials_delete(contract_ids: list[str], pseudonym: str) -> int:
    """The contract's credentials (and the used dynamic QR codes of them): deleted."""
    deleted, _ = Credential.objects.filter(contract_id__in=contract_ids).delete()
    return deleted


def issued_contracts_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    """A contract ID the hub issued stays reserved under its pseudonym (the CSP keeps the record
    that it had one), so it is never issued again."""
    return IssuedContract.objects.filter(contract_id__in=contract_ids).update(contract_id=pseudonym)


# --- the plumbing below ----------------------------------------------------------------------------


def audit_entries_scrub(contract_ids: list[str], pseudonym: str) -> int:
    """Audit entries whose details name the contract keep the entry with the pseudonym in its place."""
    scrubber = scrubber_for(contract_ids, pseudonym)
    changed: list[AuditEntry] = []
    rows = AuditEntry.objects.filter(text_filter("details", search_terms(contract_ids))).only("pk", "details")
    for entry in rows.iterator(chunk_size=_CHUNK):
        details = scrubber.json(entry.details)
        if details != entry.details:
            entry.details = details
            changed.append(entry)
    AuditEntry.objects.bulk_update(changed, ["details"], batch_size=_CHUNK)
    return len(changed)


def idempotency_answers_scrub(contract_ids: list[str], pseudonym: str) -> int:
    """Stored answers of idempotent requests (replayed on a repeat) that name the contract are
    rewritten, so a replay shows the pseudonym."""
    terms = search_terms(contract_ids)
    if connection.vendor == "postgresql":
        sql = "upper(convert_from(response_body, 'UTF8')) LIKE %s"
    else:
        sql = "upper(CAST(response_body AS TEXT)) LIKE %s"
    # The answer is stored as bytes: searched as UTF-8 text (the hub wrote it with json.dumps).
    rows = IdempotencyRecord.objects.filter(response_body__isnull=False)
    annotations = {
        # A constant SQL text; the search term travels as a query parameter.
        f"names_{i}": RawSQL(sql, (f"%{term}%",), output_field=BooleanField())  # noqa: S611
        for i, term in enumerate(terms)
    }
    rows = rows.annotate(**annotations).filter(reduce(or_, (Q(**{name: True}) for name in annotations)))
    scrubber = scrubber_for(contract_ids, pseudonym)
    changed: list[IdempotencyRecord] = []
    for record in rows.only("pk", "response_body").iterator(chunk_size=_CHUNK):
        try:
            body: Any = json.loads(bytes(record.response_body))
        except ValueError:
            continue
        scrubbed = scrubber.json(body)
        if scrubbed != body:
            record.response_body = json.dumps(scrubbed).encode()
            changed.append(record)
    IdempotencyRecord.objects.bulk_update(changed, ["response_body"], batch_size=_CHUNK)
    return len(changed)


def admin_log_scrub(contract_ids: list[str], pseudonym: str) -> int:
    """The admin's change log names objects by their text (a credential's names its contract)."""
    scrubber = scrubber_for(contract_ids, pseudonym)
    terms = search_terms(contract_ids)
    changed: list[LogEntry] = []
    rows = LogEntry.objects.filter(text_filter("object_repr", terms) | text_filter("change_message", terms))
    for entry in rows.only("pk", "object_repr", "change_message").iterator(chunk_size=_CHUNK):
        entry.object_repr = scrubber.text(entry.object_repr)[:200]
        entry.change_message = scrubber.text(entry.change_message)
        changed.append(entry)
    LogEntry.objects.bulk_update(changed, ["object_repr", "change_message"], batch_size=_CHUNK)
    return len(changed)


def outbox_messages_scrub(contract_ids: list[str], pseudonym: str) -> int:
    """Messages to partners (pending or delivered) that name the contract are rewritten."""
    scrubber = scrubber_for(contract_ids, pseudonym)
    return outbox_scrub(terms=search_terms(contract_ids), scrub_json=scrubber.json, scrub_text=scrubber.text)


def register() -> None:
    """Register the steps of this app and of the plumbing (from CredentialsConfig.ready())."""
    registry.erasure_step_register("clearinghouse.audit_entries", audit_entries_scrub)
    registry.erasure_step_register("clearinghouse.idempotency_answers", idempotency_answers_scrub)
    registry.erasure_step_register("admin.log_entries", admin_log_scrub)
    registry.erasure_step_register("routing.outbox_messages", outbox_messages_scrub)
    order = registry.CREDENTIALS_ORDER
    registry.erasure_step_register("credentials.authorizations", authorizations_pseudonymise, order=order)
    registry.erasure_step_register("credentials.personal_data", personal_data_delete, order=order + 10)
    registry.erasure_step_register("credentials.credentials", credentials_delete, order=order + 20)
    registry.erasure_step_register(
        "credentials.issued_contracts", issued_contracts_pseudonymise, order=order + 30
    )
