"""PUT and PATCH of one EVSE or one connector inside a stored location (OCPI sub-object paths).

The changed object is merged into the location's document, which is then checked and written as
a whole. A sub-object older than the stored one is ignored. Its last_updated carries up: the EVSE
and the location are at least as recent as what changed inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clearinghouse.errors import NotFoundError

from ..models import Location
from ..ocpi.datetimes import format_datetime, parse_datetime
from ..ocpi.locations import DocumentError, connector_clean, evse_clean, latest, patch_clean, patch_merge
from ._persist import CREATED, IGNORED_OLDER, cso_lock
from .locations import document_write, id_from_url, invalid_document, location_for_write


@dataclass(frozen=True)
class PartWrite:
    """The outcome of writing an EVSE or a connector, and the location that holds it."""

    result: str
    location: Location


def _find(objects: list[dict[str, Any]], key: str, value: str) -> int | None:
    for index, obj in enumerate(objects):
        if obj.get(key) == value:
            return index
    return None


def _evse_at(doc: dict[str, Any], evse_uid: str) -> tuple[list[dict[str, Any]], int]:
    evses = list(doc.get("evses") or [])
    index = _find(evses, "uid", evse_uid)
    if index is None:
        raise NotFoundError("evse_not_found", "The location has no EVSE with this uid.")
    return evses, index


def _with_evse(doc: dict[str, Any], evses: list[dict[str, Any]], changed: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "evses": evses, "last_updated": latest(doc["last_updated"], changed["last_updated"])}


def _clean_patch(kind: str, body: Any) -> dict[str, Any]:
    try:
        return patch_clean(kind, body)
    except DocumentError as exc:
        raise invalid_document(exc, kind) from None


@transaction.atomic
def evse_put(
    *, cso_id: int, operator_id: str, location_id: str, evse_uid: str, body: Any, now: datetime | None = None
) -> PartWrite:
    """PUT one EVSE: add it to the location, or replace it unless the stored one is newer."""
    now = now or timezone.now()
    raw = id_from_url(body, "uid", evse_uid, "EVSE")
    try:
        evse = evse_clean(raw, default_last_updated=format_datetime(now))
    except DocumentError as exc:
        raise invalid_document(exc, "evse") from None
    cso_lock(cso_id)
    row = location_for_write(cso_id=cso_id, location_id=location_id)
    evses = list(row.document.get("evses") or [])
    index = _find(evses, "uid", evse_uid)
    if index is None:
        evses.append(evse)
    elif parse_datetime(evse["last_updated"]) < parse_datetime(evses[index]["last_updated"]):
        return PartWrite(result=IGNORED_OLDER, location=row)
    else:
        evses[index] = evse
    written = document_write(
        cso_id=cso_id, operator_id=operator_id, doc=_with_evse(row.document, evses, evse), now=now
    )
    return PartWrite(result=CREATED if index is None else written.result, location=written.location)


@transaction.atomic
def evse_patch(
    *, cso_id: int, operator_id: str, location_id: str, evse_uid: str, body: Any, now: datetime | None = None
) -> PartWrite:
    """PATCH one EVSE (OCPI): given fields replace the stored ones; last_updated is required."""
    id_from_url(body, "uid", evse_uid, "EVSE")
    patch = _clean_patch("evse", body)
    cso_lock(cso_id)
    row = location_for_write(cso_id=cso_id, location_id=location_id)
    evses, index = _evse_at(row.document, evse_uid)
    if parse_datetime(patch["last_updated"]) < parse_datetime(evses[index]["last_updated"]):
        return PartWrite(result=IGNORED_OLDER, location=row)
    evses[index] = patch_merge(evses[index], patch)
    written = document_write(
        cso_id=cso_id,
        operator_id=operator_id,
        doc=_with_evse(row.document, evses, evses[index]),
        now=now or timezone.now(),
    )
    return PartWrite(result=written.result, location=written.location)


def _connector_write(
    *,
    cso_id: int,
    operator_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    change: Any,
    now: datetime,
    must_exist: bool,
) -> PartWrite:
    row = location_for_write(cso_id=cso_id, location_id=location_id)
    evses, evse_index = _evse_at(row.document, evse_uid)
    evse = dict(evses[evse_index])
    connectors = list(evse.get("connectors") or [])
    index = _find(connectors, "id", connector_id)
    if index is None and must_exist:
        raise NotFoundError("connector_not_found", "The EVSE has no connector with this id.")
    new = change(None if index is None else connectors[index])
    if index is None:
        connectors.append(new)
    elif parse_datetime(new["last_updated"]) < parse_datetime(connectors[index]["last_updated"]):
        return PartWrite(result=IGNORED_OLDER, location=row)
    else:
        connectors[index] = new
    evse["connectors"] = connectors
    evse["last_updated"] = latest(evse["last_updated"], new["last_updated"])
    evses[evse_index] = evse
    written = document_write(
        cso_id=cso_id, operator_id=operator_id, doc=_with_evse(row.document, evses, evse), now=now
    )
    return PartWrite(result=CREATED if index is None else written.result, location=written.location)


@transaction.atomic
def connector_put(
    *,
    cso_id: int,
    operator_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    body: Any,
    now: datetime | None = None,
) -> PartWrite:
    """PUT one connector: add it to the EVSE, or replace it unless the stored one is newer."""
    now = now or timezone.now()
    raw = id_from_url(body, "id", connector_id, "Connector")
    try:
        connector = connector_clean(raw, default_last_updated=format_datetime(now))
    except DocumentError as exc:
        raise invalid_document(exc, "connector") from None
    cso_lock(cso_id)
    return _connector_write(
        cso_id=cso_id,
        operator_id=operator_id,
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        change=lambda stored: connector,
        now=now,
        must_exist=False,
    )


@transaction.atomic
def connector_patch(
    *,
    cso_id: int,
    operator_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    body: Any,
    now: datetime | None = None,
) -> PartWrite:
    """PATCH one connector (OCPI): given fields replace the stored ones; last_updated is required."""
    id_from_url(body, "id", connector_id, "Connector")
    patch = _clean_patch("connector", body)
    cso_lock(cso_id)
    return _connector_write(
        cso_id=cso_id,
        operator_id=operator_id,
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        change=lambda stored: patch_merge(stored or {}, patch),
        now=now or timezone.now(),
        must_exist=True,
    )
