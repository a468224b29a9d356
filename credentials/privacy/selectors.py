"""Reads of privacy: erasures as a CSP sees them, and the export document of a contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from partners.models import Partner

from ..decision import rfc3339
from . import registry
from .contracts import Contract, contract_owner_id
from .models import Erasure


def contract_owner(contract: Contract) -> int | None:
    """The CSP that owns the contract; after an erasure (no credentials left), the one that asked."""
    owner = contract_owner_id(contract)
    if owner is None:
        owner = Erasure.objects.filter(pseudonym=contract.pseudonym).values_list("csp_id", flat=True).first()
    return owner


def erasure_get_for_csp(*, csp_id: int, erasure_id: int) -> Erasure | None:
    """One erasure, for the CSP it was made for only (another CSP's is as good as absent)."""
    return Erasure.objects.filter(pk=erasure_id, csp_id=csp_id).first()


def erasures_of(*, csp_id: int) -> QuerySet[Erasure]:
    """A CSP's erasures."""
    return Erasure.objects.filter(csp_id=csp_id)


def erasure_json(erasure: Erasure) -> dict[str, Any]:
    """An erasure as the API and the export show it (no contract ID: only its pseudonym)."""
    return {
        "id": erasure.pk,
        "state": erasure.state,
        "pseudonym": erasure.pseudonym,
        "requested_at": rfc3339(erasure.requested_at),
        "requested_by": erasure.requested_by or None,
        "channel": erasure.channel,
        "waiting_for": erasure.waiting_for or {},
        "completed_at": rfc3339(erasure.completed_at),
        "counts": erasure.counts or {},
    }


def export_document(*, contract: Contract, csp_id: int, now: datetime) -> dict[str, Any]:
    """Every record the hub holds on the contract, section by section (each app contributes its
    own), for the CSP that owns it. Secrets never appear: credentials are shown by masked hints."""
    provider_id = Partner.objects.filter(pk=csp_id).values_list("country_code", "party_id").first()
    document: dict[str, Any] = {
        "contract_id": contract.canonical,
        "csp": f"{provider_id[0]}-{provider_id[1]}" if provider_id else None,
        "generated_at": rfc3339(now),
    }
    for provider in registry.export_providers():
        document[provider.name] = provider.fn(list(contract.spellings), csp_id)
    return document
