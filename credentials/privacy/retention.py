"""Retention steps of the credentials app and of the plumbing below it, registered from
credentials' AppConfig.ready(); run nightly by services.retention_run().

Each step works through what is past its period (a setting per data class; 0 keeps forever) in
batches, one transaction each.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db.models import Q

from clearinghouse.lib.identifiers import IdentifierError
from clearinghouse.models import AuditEntry, IdempotencyRecord
from clearinghouse.routing.privacy import dead_letters_delete, outbox_payloads_clear

from ..decision import Status
from ..models import AuthorizationRecord
from . import registry
from .batches import in_batches
from .contracts import pseudonym_of
from .identity import is_pseudonym
from .models import DataExport, RetentionRun


def cutoff(now: datetime, days: int) -> datetime | None:
    """The moment before which data of a class with a `days` period is due; None: kept forever."""
    return now - timedelta(days=days) if days > 0 else None


def pseudonym_or_blank(contract_id: str) -> str:
    """What a contract ID column holds once anonymised: its pseudonym ("" for no or a bad ID)."""
    if not contract_id or is_pseudonym(contract_id):
        return contract_id
    try:
        return pseudonym_of(contract_id)
    except IdentifierError:
        return ""


# Not anonymised yet: the partial index authorization_retention_due covers exactly these.
_NOT_ANONYMISED = ~Q(lookup_hash="") | ~Q(credential_hint="")


def authorizations_anonymise_due(now: datetime, batch_size: int) -> int:
    """Authorization records older than PRIVACY_AUTHORIZATION_RETENTION_DAYS: the contract ID becomes
    its pseudonym; the credential's hint, lookup hash and link are removed. The decision, the EVSE
    and the times stay (sessions and SDRs quote the record's reference)."""
    before = cutoff(now, settings.PRIVACY_AUTHORIZATION_RETENTION_DAYS)
    if before is None:
        return 0
    due = AuthorizationRecord.objects.filter(_NOT_ANONYMISED, created_at__lt=before).exclude(
        status=Status.PENDING
    )

    def anonymise(ids: list[int]) -> int:
        rows = list(due.filter(pk__in=ids).only("pk", "contract_id"))
        for record in rows:
            record.contract_id = pseudonym_or_blank(record.contract_id)
            record.lookup_hash = record.credential_hint = record.pending_credential = ""
            record.credential_id = None
        AuthorizationRecord.objects.bulk_update(
            rows, ["contract_id", "lookup_hash", "credential_hint", "pending_credential", "credential"]
        )
        return len(rows)

    return in_batches(due, anonymise, batch_size=batch_size)


def _delete_due(queryset, batch_size: int) -> int:  # type: ignore[no-untyped-def]
    def delete(ids: list[int]) -> int:
        deleted, _ = queryset.filter(pk__in=ids).delete()
        return deleted

    return in_batches(queryset, delete, batch_size=batch_size)


def audit_log_delete_due(now: datetime, batch_size: int) -> int:
    """Audit entries, the admin's change log, export records and retention runs older than
    PRIVACY_AUDIT_LOG_RETENTION_DAYS: deleted. Erasure records stay: they prove the erasure."""
    before = cutoff(now, settings.PRIVACY_AUDIT_LOG_RETENTION_DAYS)
    if before is None:
        return 0
    deleted = _delete_due(AuditEntry.objects.filter(created_at__lt=before), batch_size)
    deleted += _delete_due(LogEntry.objects.filter(action_time__lt=before), batch_size)
    deleted += _delete_due(DataExport.objects.filter(created_at__lt=before), batch_size)
    deleted += _delete_due(
        RetentionRun.objects.filter(started_at__lt=before).exclude(state=RetentionRun.State.RUNNING),
        batch_size,
    )
    return deleted


def idempotency_answers_delete_due(now: datetime, batch_size: int) -> int:
    """Stored answers of idempotent requests older than I3_IDEMPOTENCY_TTL_HOURS: deleted (a repeat
    after that long is a new request)."""
    hours = settings.I3_IDEMPOTENCY_TTL_HOURS
    if hours <= 0:
        return 0
    before = now - timedelta(hours=hours)
    return _delete_due(IdempotencyRecord.objects.filter(created_at__lt=before), batch_size)


def delivery_payloads_clear_due(now: datetime, batch_size: int) -> int:
    """Payloads of messages delivered more than PRIVACY_DELIVERY_PAYLOAD_RETENTION_DAYS ago are
    emptied; dead letters older than PRIVACY_DEAD_LETTER_RETENTION_DAYS are deleted."""
    done = 0
    before = cutoff(now, settings.PRIVACY_DELIVERY_PAYLOAD_RETENTION_DAYS)
    if before is not None:
        done += outbox_payloads_clear(before=before, batch_size=batch_size)
    dead_before = cutoff(now, settings.PRIVACY_DEAD_LETTER_RETENTION_DAYS)
    if dead_before is not None:
        done += dead_letters_delete(before=dead_before, batch_size=batch_size)
    return done


def register() -> None:
    """Register the retention steps of this app and of the plumbing (from CredentialsConfig.ready())."""
    registry.retention_step_register("credentials.authorizations", authorizations_anonymise_due)
    registry.retention_step_register("routing.delivery_payloads", delivery_payloads_clear_due)
    registry.retention_step_register("clearinghouse.idempotency_answers", idempotency_answers_delete_due)
    # Last: the audit log of the night's own work is kept.
    registry.retention_step_register("clearinghouse.audit_log", audit_log_delete_due, order=1000)
