"""The export sections of the credentials app: the driver's personal data, credentials (hints only,
never a secret), hub-issued contract IDs, authorization records, and the privacy history."""

from __future__ import annotations

from typing import Any

from clearinghouse.lib.identifiers import mask

from ..decision import rfc3339
from ..models import AuthorizationRecord, Credential, DriverPersonalData, IssuedContract
from . import registry
from .contracts import pseudonym_of
from .models import DataExport, Erasure
from .selectors import erasure_json


def personal_data_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = DriverPersonalData.objects.filter(contract_id__in=contract_ids, csp_id=csp_id).order_by("pk")
    return [
        {
            "name": row.name or None,
            "email": row.email or None,
            "phone": row.phone or None,
            "updated_at": rfc3339(row.updated_at),
        }
        for row in rows
    ]


def credentials_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = Credential.objects.filter(contract_id__in=contract_ids, csp_id=csp_id).order_by("pk")
    return [
        {
            "id": c.pk,
            "type": c.type,
            "issuer": c.issuer,
            "value_hint": c.value_hint,
            "contract_id": c.contract_id,
            "status": c.status,
            "whitelist": c.whitelist,
            "valid_from": rfc3339(c.valid_from),
            "valid_until": rfc3339(c.valid_until),
            "visual_number": c.visual_number or None,
            "group_id": c.group_id or None,
            "has_pin": bool(c.pin_hash),
            "has_password": bool(c.password_hash),
            "certificate_hint": mask(c.certificate_fingerprint) if c.certificate_fingerprint else None,
            "created_at": rfc3339(c.created_at),
            "updated_at": rfc3339(c.updated_at),
        }
        for c in rows
    ]


def issued_contracts_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = IssuedContract.objects.filter(contract_id__in=contract_ids, csp_id=csp_id).order_by("pk")
    return [{"contract_id": row.contract_id, "issued_at": rfc3339(row.created_at)} for row in rows]


def authorizations_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = (
        AuthorizationRecord.objects.filter(contract_id__in=contract_ids, csp_id=csp_id)
        .select_related("cso")
        .order_by("pk")
    )
    return [
        {
            "id": r.pk,
            "kind": r.kind,
            "created_at": rfc3339(r.created_at),
            "decided_at": rfc3339(r.decided_at),
            "cso": r.cso.operator_id,
            "evse_id": r.evse_id,
            "credential_type": r.credential_type,
            "credential_hint": r.credential_hint or None,
            "contract_id": r.contract_id,
            "status": r.status,
            "reason": r.reason or None,
            "decided_by": r.decided_by or None,
            "authorization_reference": r.authorization_reference,
            "valid_until": rfc3339(r.valid_until),
        }
        for r in rows
    ]


def erasures_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    pseudonym = pseudonym_of(contract_ids[0])
    return [
        erasure_json(e) for e in Erasure.objects.filter(pseudonym=pseudonym, csp_id=csp_id).order_by("pk")
    ]


def exports_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    """Earlier exports of the contract (when, by whom, how many records), not their content."""
    pseudonym = pseudonym_of(contract_ids[0])
    rows = DataExport.objects.filter(pseudonym=pseudonym, csp_id=csp_id).order_by("pk")
    return [
        {
            "id": e.pk,
            "created_at": rfc3339(e.created_at),
            "requested_by": e.requested_by or None,
            "counts": e.counts,
        }
        for e in rows
    ]


def register() -> None:
    """Register the sections of this app (from CredentialsConfig.ready())."""
    registry.export_provider_register("personal_data", personal_data_export, order=10)
    registry.export_provider_register("credentials", credentials_export, order=20)
    registry.export_provider_register("issued_contracts", issued_contracts_export, order=30)
    registry.export_provider_register("authorizations", authorizations_export, order=40)
    registry.export_provider_register("erasures", erasures_export, order=900)
    registry.export_provider_register("exports", exports_export, order=910)
