"""CSP uploads (delta and full), changes, blocking; the driver's personal data that comes with them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.audit import audit_record
from clearinghouse.errors import InvalidInput, NotFoundError
from partners.models import Partner

from ..inputs import CredentialItem, DriverData, InputProblem, parse_upload_item, upload_item_key
from ..keys import lookup_hash
from ..models import Credential, DriverPersonalData

MAX_ITEMS = 1000
MODES = ("delta", "full")
_UPDATE_FIELDS = [
    "contract_id", "status", "whitelist", "valid_from", "valid_until", "visual_number", "group_id",
    "pin_hash", "password_hash", "certificate_fingerprint", "updated_at",
]  # fmt: skip
# Rows per statement: well under SQLite's limit on query parameters.
_BATCH = 500


@dataclass(frozen=True)
class ItemResult:
    """What became of one item of a bulk request (index None: a credential mode=full removed)."""

    index: int | None
    status: str  # created, updated, unchanged, removed or rejected
    id: int | None = None
    error_code: str = ""
    error_message: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            data["id"] = self.id
        if self.error_code:
            data["error"] = {"code": self.error_code, "message": self.error_message}
        return data


def _rejected(index: int, code: str, message: str) -> ItemResult:
    return ItemResult(index=index, status="rejected", error_code=code, error_message=message)


def _secret_hash(secret: str | None, current: str) -> str:
    """The stored hash for a PIN or password as now described: kept when it still matches."""
    if secret is None:
        return ""
    if current and check_password(secret, current):
        return current
    return make_password(secret)


def _new_credential(csp_id: int, digest: str, item: CredentialItem, now: datetime) -> Credential:
    return Credential(
        csp_id=csp_id,
        issuer=Credential.Issuer.CSP,
        type=item.type,
        lookup_hash=digest,
        value_hint=item.hint,
        contract_id=item.contract_id,
        status=item.status,
        whitelist=item.whitelist,
        valid_from=item.valid_from,
        valid_until=item.valid_until,
        visual_number=item.visual_number,
        group_id=item.group_id,
        pin_hash=make_password(item.pin) if item.pin is not None else "",
        password_hash=make_password(item.password) if item.password is not None else "",
        certificate_fingerprint=item.certificate_fingerprint,
        created_at=now,
        updated_at=now,
    )


def _apply(current: Credential, item: CredentialItem, now: datetime) -> bool:
    """Make a stored credential match the uploaded item; True if anything changed."""
    wanted = {
        "contract_id": item.contract_id,
        "status": item.status,
        "whitelist": item.whitelist,
        "valid_from": item.valid_from,
        "valid_until": item.valid_until,
        "visual_number": item.visual_number,
        "group_id": item.group_id,
        "certificate_fingerprint": item.certificate_fingerprint,
        "pin_hash": _secret_hash(item.pin, current.pin_hash),
        "password_hash": _secret_hash(item.password, current.password_hash),
    }
    changed = False
    for name, value in wanted.items():
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed = True
    if changed:
        current.updated_at = now
    return changed


def _create(creates: list[tuple[int, Credential]], results: dict[int, ItemResult]) -> None:
    """Insert new credentials in bulk; when a concurrent upload took a value meanwhile, one by one so
    only the clashing items are rejected."""
    if not creates:
        return
    try:
        with transaction.atomic():
            for start in range(0, len(creates), _BATCH):
                Credential.objects.bulk_create([c for _, c in creates[start : start + _BATCH]])
    except IntegrityError:
        for index, credential in creates:
            credential.pk = None
            try:
                with transaction.atomic():
                    credential.save(force_insert=True)
            except IntegrityError:
                results[index] = _rejected(
                    index, "credential_taken", "this credential is registered at the hub already"
                )
                continue
            results[index] = ItemResult(index=index, status="created", id=credential.pk)
        return
    for index, credential in creates:
        results[index] = ItemResult(index=index, status="created", id=credential.pk)


def driver_data_save(*, csp_id: int, contract_id: str, driver: DriverData, now: datetime) -> bool:
    """Keep the driver's personal data of a contract as sent; True if it changed."""
    record = DriverPersonalData.objects.filter(contract_id=contract_id).first()
    return _driver_data_apply(record, csp_id=csp_id, contract_id=contract_id, driver=driver, now=now)


def _driver_data_apply(
    record: DriverPersonalData | None, *, csp_id: int, contract_id: str, driver: DriverData, now: datetime
) -> bool:
    if record is None:
        DriverPersonalData.objects.create(
            contract_id=contract_id, csp_id=csp_id, name=driver.name, email=driver.email, phone=driver.phone,
            updated_at=now,
        )  # fmt: skip
        return True
    if (record.name, record.email, record.phone) == (driver.name, driver.email, driver.phone):
        return False
    DriverPersonalData.objects.filter(pk=record.pk).update(
        name=driver.name, email=driver.email, phone=driver.phone, updated_at=now
    )
    return True


def _save_driver_data(
    csp_id: int,
    accepted: dict[str, tuple[int, CredentialItem]],
    results: dict[int, ItemResult],
    now: datetime,
) -> None:
    items = [(i, item) for i, item in accepted.values() if item.driver and results[i].status != "rejected"]
    if not items:
        return
    stored = {
        record.contract_id: record
        for record in DriverPersonalData.objects.filter(
            contract_id__in={item.contract_id for _, item in items}
        )
    }
    done: set[str] = set()
    for index, item in items:
        assert item.driver is not None
        if item.contract_id in done:
            continue  # several credentials of one contract: its first item's data counts
        done.add(item.contract_id)
        record = stored.get(item.contract_id)
        changed = _driver_data_apply(
            record, csp_id=csp_id, contract_id=item.contract_id, driver=item.driver, now=now
        )
        if changed and results[index].status == "unchanged":
            results[index] = ItemResult(index=index, status="updated", id=results[index].id)


def _remove_absent(csp_id: int, keep: set[str]) -> list[ItemResult]:
    """mode=full: remove this CSP's own uploads that the request does not name, and the personal
    data of contracts left without any credential."""
    stale = list(
        Credential.objects.filter(csp_id=csp_id, issuer=Credential.Issuer.CSP)
        .exclude(lookup_hash__in=keep)
        .values_list("pk", "contract_id")
    )
    if not stale:
        return []
    ids = [pk for pk, _ in stale]
    for start in range(0, len(ids), _BATCH):
        Credential.objects.filter(pk__in=ids[start : start + _BATCH]).delete()
    contracts = {contract for _, contract in stale}
    still_used = set(
        Credential.objects.filter(contract_id__in=contracts).values_list("contract_id", flat=True)
    )
    DriverPersonalData.objects.filter(csp_id=csp_id, contract_id__in=contracts - still_used).delete()
    return [ItemResult(index=None, status="removed", id=pk) for pk in sorted(ids)]


def credentials_upload(*, csp_id: int, provider_id: str, items: Any, mode: str = "delta") -> list[ItemResult]:
    """Take a CSP's credentials in bulk: `delta` creates and updates the items given, `full` also
    removes the CSP's uploaded credentials the request does not name, in one transaction.

    Each item is judged on its own: a bad one is rejected with its error and the others are kept.
    A credential named by an item that is rejected is never removed. Uploads of one CSP are
    serialised (its partner row is locked), so two full uploads cannot interleave.
    """
    if mode not in MODES:
        raise InvalidInput("invalid_mode", "mode must be delta or full")
    if not isinstance(items, list):
        raise InvalidInput("invalid_body", "the body must be a JSON array of credentials")
    if len(items) > MAX_ITEMS:
        raise InvalidInput("too_many_items", f"at most {MAX_ITEMS} credentials per request")
    results: dict[int, ItemResult] = {}
    accepted: dict[str, tuple[int, CredentialItem]] = {}
    protected: set[str] = set()
    for index, data in enumerate(items):
        try:
            item = parse_upload_item(data, provider_id=provider_id)
        except InputProblem as problem:
            results[index] = _rejected(index, problem.code, problem.message)
            key = upload_item_key(data, provider_id=provider_id)
            if key is not None:
                protected.add(lookup_hash(*key))
            continue
        digest = lookup_hash(item.type, item.lookup_value)
        if digest in accepted:
            first = accepted[digest][0]
            results[index] = _rejected(index, "duplicate_item", f"item {first} names the same credential")
            continue
        accepted[digest] = (index, item)

    removed: list[ItemResult] = []
    with transaction.atomic():
        list(Partner.objects.select_for_update().filter(pk=csp_id).values_list("pk", flat=True))
        now = timezone.now()
        digests = list(accepted)
        existing: dict[str, Credential] = {}
        for start in range(0, len(digests), _BATCH):
            for credential in Credential.objects.filter(lookup_hash__in=digests[start : start + _BATCH]):
                existing[credential.lookup_hash] = credential
        creates: list[tuple[int, Credential]] = []
        updates: list[Credential] = []
        for digest, (index, item) in accepted.items():
            current = existing.get(digest)
            if current is None:
                creates.append((index, _new_credential(csp_id, digest, item, now)))
            elif current.csp_id != csp_id or current.issuer != Credential.Issuer.CSP:
                results[index] = _rejected(
                    index, "credential_taken", "this credential is registered at the hub already"
                )
            elif _apply(current, item, now):
                updates.append(current)
                results[index] = ItemResult(index=index, status="updated", id=current.pk)
            else:
                results[index] = ItemResult(index=index, status="unchanged", id=current.pk)
        _create(creates, results)
        if updates:
            Credential.objects.bulk_update(updates, _UPDATE_FIELDS, batch_size=_BATCH)
        _save_driver_data(csp_id, accepted, results, now)
        if mode == "full":
            removed = _remove_absent(csp_id, set(accepted) | protected)
        counts: dict[str, int] = {}
        for result in [*results.values(), *removed]:
            counts[result.status] = counts.get(result.status, 0) + 1
        audit_record(
            action="credentials.upload",
            object_type="credentials.Credential",
            partner_id=csp_id,
            details={"mode": mode, "items": len(items), **counts},
        )
    return [results[index] for index in sorted(results)] + removed


@transaction.atomic
def credential_update(*, csp_id: int, credential_id: int, changes: dict[str, Any]) -> Credential:
    """Change a CSP's own credential: block or unblock (status), validity, whitelist, labels."""
    credential = Credential.objects.select_for_update().filter(pk=credential_id, csp_id=csp_id).first()
    if credential is None:
        raise NotFoundError("not_found", "No such credential.")
    valid_from = changes.get("valid_from", credential.valid_from)
    valid_until = changes.get("valid_until", credential.valid_until)
    if valid_from and valid_until and valid_until <= valid_from:
        raise InvalidInput("invalid_validity", "valid_until must be after valid_from")
    changed = {name: value for name, value in changes.items() if getattr(credential, name) != value}
    if not changed:
        return credential
    changed["updated_at"] = timezone.now()
    Credential.objects.filter(pk=credential.pk).update(**changed)
    for name, value in changed.items():
        setattr(credential, name, value)
    audit_record(
        action="credential.update", obj=credential, partner_id=csp_id, details={"fields": sorted(changed)}
    )
    return credential


def _set_status(credential_ids: Iterable[int], source: str, target: str, action: str) -> int:
    ids = list(credential_ids)
    with transaction.atomic():
        # Conditional on the current status: blocking twice, or unblocking what is not blocked,
        # changes nothing.
        count = Credential.objects.filter(pk__in=ids, status=source).update(
            status=target, updated_at=timezone.now()
        )
        audit_record(
            action=action, object_type="credentials.Credential", details={"ids": ids[:100], "count": count}
        )
    return count


def credentials_block(*, credential_ids: Iterable[int]) -> int:
    """Block valid credentials (staff action); returns how many changed."""
    return _set_status(credential_ids, Credential.State.VALID, Credential.State.BLOCKED, "credential.block")


def credentials_unblock(*, credential_ids: Iterable[int]) -> int:
    """Unblock blocked credentials (staff action); returns how many changed."""
    return _set_status(credential_ids, Credential.State.BLOCKED, Credential.State.VALID, "credential.unblock")
