"""Publishing tariffs: PUT (create or replace, optionally targeted at named CSPs) and DELETE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clearinghouse.errors import InvalidInput, NotFoundError
from clearinghouse.lib.identifiers import IdentifierError, parse_provider_id
from partners.models import Partner

from ..models import Tariff, TariffTarget
from ..ocpi.datetimes import format_datetime, parse_datetime
from ..ocpi.locations import DocumentError
from ..ocpi.tariffs import tariff_clean
from ._persist import CREATED, IGNORED_OLDER, UNCHANGED, UPDATED, cso_lock
from .locations import id_from_url

TARGETS_FIELD = "target_provider_ids"  # the hub's extension of the OCPI Tariff


@dataclass(frozen=True)
class TariffWrite:
    """The outcome of a tariff PUT: created, updated, unchanged or ignored_older."""

    result: str
    tariff: Tariff


def _target_csp_ids(raw: Any) -> list[int]:
    """Partner ids of the CSPs a tariff is meant for, from provider IDs such as "NL-BMO"."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(value, str) for value in raw):
        raise InvalidInput(
            "invalid_targets", f"{TARGETS_FIELD} must be a list of provider IDs such as NL-BMO."
        )
    wanted: dict[tuple[str, str], str] = {}
    for value in raw:
        try:
            wanted[parse_provider_id(value)] = value
        except IdentifierError as exc:
            raise InvalidInput("invalid_targets", f"{TARGETS_FIELD}: {exc.message}") from None
    found: dict[tuple[str, str], int] = {}
    for country, party in wanted:
        pk = (
            Partner.objects.filter(country_code=country, party_id=party, is_csp=True)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is not None:
            found[(country, party)] = pk
    unknown = [wanted[key] for key in wanted if key not in found]
    if unknown:
        raise InvalidInput(
            "unknown_provider",
            f"{TARGETS_FIELD} names providers that are not CSPs of the hub.",
            {"unknown": unknown},
        )
    return sorted(set(found.values()))


def _columns(doc: dict[str, Any], *, is_public: bool, now: datetime) -> dict[str, Any]:
    start, end = doc.get("start_date_time"), doc.get("end_date_time")
    return {
        "country_code": doc["country_code"],
        "party_id": doc["party_id"],
        "currency": doc["currency"],
        "type": doc.get("type", ""),
        "is_public": is_public,
        "start_date_time": parse_datetime(start) if start else None,
        "end_date_time": parse_datetime(end) if end else None,
        "last_updated": parse_datetime(doc["last_updated"]),
        "document": doc,
        "updated_at": now,
    }


@transaction.atomic
def tariff_put(*, cso_id: int, tariff_id: str, body: Any, now: datetime | None = None) -> TariffWrite:
    """Create or replace one of the CSO's tariffs; a tariff older than the stored one is ignored.

    `target_provider_ids` (optional, hub extension) limits the tariff to the named CSPs; without
    it the tariff is public to every CSP that has an agreement with the CSO.
    """
    now = now or timezone.now()
    raw = id_from_url(body, "id", tariff_id, "Tariff")
    csp_ids = _target_csp_ids(raw.get(TARGETS_FIELD))
    try:
        doc = tariff_clean(
            {key: value for key, value in raw.items() if key != TARGETS_FIELD},
            default_last_updated=format_datetime(now),
        )
    except DocumentError as exc:
        raise InvalidInput(
            "invalid_tariff", f"The tariff is not a valid OCPI 2.2.1 Tariff: {exc}", {"errors": exc.problems}
        ) from None
    cso_lock(cso_id)
    row = Tariff.objects.filter(cso_id=cso_id, tariff_id=tariff_id).first()
    columns = _columns(doc, is_public=not csp_ids, now=now)
    if row is None:
        row = Tariff.objects.create(cso_id=cso_id, tariff_id=tariff_id, **columns)
        result = CREATED
    elif columns["last_updated"] < row.last_updated:
        return TariffWrite(result=IGNORED_OLDER, tariff=row)
    elif row.document == doc and sorted(row.targets.values_list("csp_id", flat=True)) == csp_ids:
        return TariffWrite(result=UNCHANGED, tariff=row)
    else:
        for name, value in columns.items():
            setattr(row, name, value)
        row.save(update_fields=list(columns))
        row.targets.all().delete()
        result = UPDATED
    TariffTarget.objects.bulk_create([TariffTarget(tariff=row, csp_id=csp_id) for csp_id in csp_ids])
    return TariffWrite(result=result, tariff=row)


@transaction.atomic
def tariff_delete(*, cso_id: int, tariff_id: str) -> None:
    """Delete one of the CSO's tariffs; connectors that name it show a dangling reference again."""
    deleted, _ = Tariff.objects.filter(cso_id=cso_id, tariff_id=tariff_id).delete()
    if not deleted:
        raise NotFoundError("tariff_not_found", "You have no tariff with this id.")
