"""Writing checked location documents to the tables, for any number of locations at once.

Planning decides per document: created, updated, unchanged (same digest), ignored_older (older
than what is stored), or a conflict (an EVSE ID another location of the CSO keeps). Writing then
takes a few set-based statements per 500 rows, never one per location, EVSE or connector.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from partners.models import Partner

from ..models import EVSE, Connector, ConnectorTariff, Location
from ..ocpi.datetimes import parse_datetime
from ..ocpi.locations import DocumentError, connector_power_w, evse_ids_check, location_clean
from ..status_sql import evse_status_changes_insert

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
IGNORED_OLDER = "ignored_older"
REJECTED = "rejected"
_CHUNK = 2000  # ids per IN (...) list: well under SQLite's limit on parameters


@dataclass
class Item:
    """One location document of a request, on its way to the tables."""

    index: int
    location_id: str
    doc: dict[str, Any]
    evse_ids: list[str]
    last_updated: datetime
    digest: str
    existing_pk: int | None = None
    result: str = ""
    error: dict[str, Any] | None = None
    pk: int | None = None

    @property
    def writes(self) -> bool:
        return self.result in (CREATED, UPDATED)


def digest_of(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def item_prepare(*, index: int, raw: Any, operator_id: str, default_last_updated: str) -> Item:
    """Check one Location document (OCPI shape and the hub's EVSE ID rules); DocumentError if bad."""
    doc = location_clean(raw, default_last_updated=default_last_updated)
    evse_ids, problems = evse_ids_check(doc, operator_id)
    if problems:
        raise DocumentError(problems)
    return Item(
        index=index,
        location_id=doc["id"],
        doc=doc,
        evse_ids=[evse_id for evse_id in evse_ids if evse_id is not None],
        last_updated=parse_datetime(doc["last_updated"]),
        digest=digest_of(doc),
    )


def cso_lock(cso_id: int) -> None:
    """Serialise location writes of one CSO (FOR NO KEY UPDATE: inserts that refer to the partner,
    such as status changes, are not blocked)."""
    rows = Partner.objects.filter(pk=cso_id)
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(no_key=connection.features.has_select_for_no_key_update)
    list(rows.values_list("pk", flat=True))


def chunks(values: Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def plan(*, cso_id: int, items: list[Item], all_existing: bool) -> dict[str, int]:
    """Classify each item against what is stored; returns stored location_id -> pk (of the CSO's
    locations, all of them when `all_existing`, else those the items name)."""
    stored: dict[str, tuple[int, datetime, str]] = {}
    rows: QuerySet[Location] = Location.objects.filter(cso_id=cso_id)
    fields = ("location_id", "pk", "last_updated", "digest")
    if all_existing:
        for location_id, pk, last_updated, digest in rows.values_list(*fields):
            stored[location_id] = (pk, last_updated, digest)
    else:
        for batch in chunks({item.location_id for item in items}):
            for location_id, pk, last_updated, digest in rows.filter(location_id__in=batch).values_list(
                *fields
            ):
                stored[location_id] = (pk, last_updated, digest)
    for item in items:
        if item.result:
            continue
        found = stored.get(item.location_id)
        if found is None:
            item.result = CREATED
            continue
        item.existing_pk = found[0]
        if item.last_updated < found[1]:
            item.result = IGNORED_OLDER
        elif item.digest == found[2]:
            item.result = UNCHANGED
        else:
            item.result = UPDATED
    return {location_id: value[0] for location_id, value in stored.items()}


def conflicts(*, cso_id: int, items: list[Item], released_pks: set[int]) -> dict[int, dict[str, Any]]:
    """EVSE IDs that written items claim but that another item, or a location that stays, holds.

    `released_pks` are stored locations whose EVSEs are rewritten or removed by this request.
    Returns item index -> error.
    """
    found: dict[int, dict[str, Any]] = {}
    claimed: dict[str, int] = {}
    for item in items:
        if not item.writes:
            continue
        for evse_id in item.evse_ids:
            if evse_id in claimed:
                found[item.index] = _conflict(
                    evse_id, f"another location of this request ({claimed[evse_id]})"
                )
            else:
                claimed[evse_id] = item.index
    for batch in chunks(claimed):
        held = EVSE.objects.filter(cso_id=cso_id, evse_id__in=batch).values_list(
            "evse_id", "location_id", "location__location_id"
        )
        for evse_id, location_pk, location_id in held:
            if location_pk not in released_pks:
                found.setdefault(claimed[evse_id], _conflict(evse_id, f"location {location_id}"))
    return found


def _conflict(evse_id: str, where: str) -> dict[str, Any]:
    return {
        "code": "evse_id_in_use",
        "message": f"EVSE ID {evse_id} is already used at {where}",
        "details": {"evse_id": evse_id},
    }


def locations_delete(pks: Iterable[int]) -> int:
    deleted = 0
    for batch in chunks(pks):
        deleted += Location.objects.filter(pk__in=batch).delete()[1].get(Location._meta.label, 0)
    return deleted


def _location_columns(item: Item, now: datetime) -> dict[str, Any]:
    doc = item.doc
    return {
        "country_code": doc["country_code"],
        "party_id": doc["party_id"],
        "publish": doc["publish"],
        "name": doc.get("name", ""),
        "address": doc["address"],
        "city": doc["city"],
        "postal_code": doc.get("postal_code", ""),
        "state": doc.get("state", ""),
        "country": doc["country"],
        "latitude": float(doc["coordinates"]["latitude"]),
        "longitude": float(doc["coordinates"]["longitude"]),
        "parking_type": doc.get("parking_type", ""),
        "time_zone": doc["time_zone"],
        "last_updated": item.last_updated,
        "document": doc,
        "digest": item.digest,
        "updated_at": now,
    }


_LOCATION_FIELDS = [
    "country_code",
    "party_id",
    "publish",
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "latitude",
    "longitude",
    "parking_type",
    "time_zone",
    "last_updated",
    "document",
    "digest",
    "updated_at",
]
_EVSE_FIELDS = ["uid", "evse_id", "position", "status", "status_updated_at", "last_updated"]
_EVSE_FIELDS += ["floor_level", "physical_reference"]


def write(*, cso_id: int, items: list[Item], now: datetime) -> None:
    """Write the created and updated items: location rows, EVSEs (kept by uid, so their status
    history stays), connectors and tariff references, and the status changes the documents make.
    The caller holds cso_lock() and has removed what the request removes."""
    written = [item for item in items if item.writes]
    if not written:
        return
    updates = [item for item in written if item.existing_pk is not None]
    creates = [item for item in written if item.existing_pk is None]
    rows = [Location(pk=item.existing_pk, cso_id=cso_id, **_location_columns(item, now)) for item in updates]
    Location.objects.bulk_update(rows, _LOCATION_FIELDS, batch_size=500)
    new_rows = Location.objects.bulk_create(
        [
            Location(cso_id=cso_id, location_id=item.location_id, **_location_columns(item, now))
            for item in creates
        ],
        batch_size=500,
    )
    for item, row in zip(updates, rows, strict=True):
        item.pk = row.pk
    for item, row in zip(creates, new_rows, strict=True):
        item.pk = row.pk
    changes = _evses_write(cso_id=cso_id, items=written)
    # Last, right before the commit: on PostgreSQL a change is stamped with the database's clock
    # at its insert, and the push lets a change settle a few seconds from that stamp.
    evse_status_changes_insert(changes, received_at=now)


def _evses_write(*, cso_id: int, items: list[Item]) -> list[tuple[int, str, datetime]]:
    """Sync the EVSE rows of the written locations; the status changes the documents make."""
    stored: dict[tuple[int, str], EVSE] = {}
    existing_pks = [item.pk for item in items if item.existing_pk is not None]
    for batch in chunks(existing_pks):
        # Locked in id order, as the bulk status path locks them: the two never deadlock.
        for row in EVSE.objects.select_for_update().filter(location_id__in=batch).order_by("id"):
            stored[(row.location_id, row.uid)] = row
    kept: list[EVSE] = []
    created: list[EVSE] = []
    renamed: list[EVSE] = []
    changes: list[tuple[int, str, datetime]] = []
    wanted: list[tuple[EVSE, dict[str, Any]]] = []
    for item in items:
        assert item.pk is not None
        for position, (evse_doc, evse_id) in enumerate(
            zip(item.doc.get("evses") or [], item.evse_ids, strict=True)
        ):
            evse_updated = parse_datetime(evse_doc["last_updated"])
            row = stored.pop((item.pk, evse_doc["uid"]), None)
            if row is None:
                row = EVSE(
                    location_id=item.pk,
                    cso_id=cso_id,
                    uid=evse_doc["uid"],
                    status=evse_doc["status"],
                    status_updated_at=evse_updated,
                )
                created.append(row)
            else:
                if row.evse_id != evse_id:
                    renamed.append(row)
                _status_from_document(row, evse_doc["status"], evse_updated, changes)
                kept.append(row)
            row.evse_id = evse_id
            row.position = position
            row.last_updated = evse_updated
            row.floor_level = evse_doc.get("floor_level", "")
            row.physical_reference = evse_doc.get("physical_reference", "")
            wanted.append((row, evse_doc))
    # EVSEs the new documents no longer hold go first, then renamed ones step aside, so that no
    # statement sees an EVSE ID twice on its way from one EVSE to another.
    for batch in chunks([row.pk for row in stored.values()]):
        EVSE.objects.filter(pk__in=batch).delete()
    if renamed:
        EVSE.objects.bulk_update(
            [EVSE(pk=row.pk, evse_id=f"#{row.pk}") for row in renamed], ["evse_id"], batch_size=500
        )
    EVSE.objects.bulk_update(kept, _EVSE_FIELDS, batch_size=500)
    EVSE.objects.bulk_create(created, batch_size=500)
    _connectors_write(cso_id=cso_id, wanted=wanted, location_pks=existing_pks)
    return changes


def _status_from_document(
    row: EVSE, status: str, evse_updated: datetime, changes: list[tuple[int, str, datetime]]
) -> None:
    """A document's EVSE status counts as a status update at the EVSE's last_updated: it changes
    the live status only if it is not older than the live one (a newer bulk update wins)."""
    if evse_updated < row.status_updated_at:
        return
    if status != row.status:
        changes.append((row.pk, status, evse_updated))
        row.status = status
    row.status_updated_at = evse_updated


def _connectors_write(
    *, cso_id: int, wanted: list[tuple[EVSE, dict[str, Any]]], location_pks: list[int]
) -> None:
    for batch in chunks(location_pks):
        Connector.objects.filter(evse__location_id__in=batch).delete()
    connectors: list[Connector] = []
    tariff_ids: list[list[str]] = []
    for row, evse_doc in wanted:
        for connector in evse_doc["connectors"]:
            ids = list(dict.fromkeys(connector.get("tariff_ids") or []))
            connectors.append(
                Connector(
                    evse_id=row.pk,
                    connector_id=connector["id"],
                    standard=connector["standard"],
                    format=connector["format"],
                    power_type=connector.get("power_type", ""),
                    max_voltage=connector.get("max_voltage"),
                    max_amperage=connector.get("max_amperage"),
                    max_electric_power=connector.get("max_electric_power"),
                    power_w=connector_power_w(connector),
                    tariff_ids=ids,
                    terms_and_conditions=connector.get("terms_and_conditions", ""),
                )
            )
            tariff_ids.append(ids)
    Connector.objects.bulk_create(connectors, batch_size=500)
    refs = [
        ConnectorTariff(connector_id=connector.pk, cso_id=cso_id, tariff_id=tariff_id)
        for connector, ids in zip(connectors, tariff_ids, strict=True)
        for tariff_id in ids
    ]
    ConnectorTariff.objects.bulk_create(refs, batch_size=500)
