"""Publishing locations: the full load, the delta, and one location at a time (PUT, PATCH)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clearinghouse.audit import audit_record
from clearinghouse.errors import ConflictError, InvalidInput, NotFoundError

from ..models import Location
from ..ocpi.datetimes import format_datetime, parse_datetime
from ..ocpi.locations import DocumentError, patch_clean, patch_merge
from ._persist import (
    IGNORED_OLDER,
    REJECTED,
    Item,
    conflicts,
    cso_lock,
    item_prepare,
    locations_delete,
    plan,
    write,
)


@dataclass(frozen=True)
class LocationWrite:
    """The outcome of writing one location: created, updated, unchanged or ignored_older."""

    result: str
    location: Location


def _raw_id(raw: Any) -> Any:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _check_count(values: list[Any], what: str) -> None:
    limit = settings.LOCATIONS_MAX_ITEMS
    if len(values) > limit:
        raise InvalidInput(
            "too_many_items", f"at most {limit} {what} per request", {"count": len(values), "limit": limit}
        )


def invalid_document(exc: DocumentError, what: str = "location") -> InvalidInput:
    """The 400 answer to a document that breaks the OCPI shape or the hub's rules."""
    return InvalidInput(
        f"invalid_{what}", f"The {what} is not a valid OCPI 2.2.1 object: {exc}", {"errors": exc.problems}
    )


@transaction.atomic
def locations_replace_all(
    *, cso_id: int, operator_id: str, body: Any, now: datetime | None = None
) -> dict[str, Any]:
    """Full load: the CSO's locations become exactly the given array, all at once or not at all.

    Stored locations the array does not name are removed; a location older than the stored one
    is kept as stored (`ignored_older`). Any invalid item refuses the whole request, listing them.
    """
    if not isinstance(body, list):
        raise InvalidInput("invalid_body", "The body must be a JSON array of OCPI Location objects.")
    _check_count(body, "locations")
    now = now or timezone.now()
    items: list[Item] = []
    bad: list[dict[str, Any]] = []
    removed: list[int] = []
    seen: set[str] = set()
    for index, raw in enumerate(body):
        try:
            item = item_prepare(
                index=index, raw=raw, operator_id=operator_id, default_last_updated=format_datetime(now)
            )
        except DocumentError as exc:
            bad.append(
                {"index": index, "id": _raw_id(raw), "code": "invalid_location", "errors": exc.problems}
            )
            continue
        if item.location_id in seen:
            bad.append(
                {"index": index, "id": item.location_id, "code": "duplicate_location_id", "errors": []}
            )
        seen.add(item.location_id)
        items.append(item)
    if not bad:
        cso_lock(cso_id)
        stored = plan(cso_id=cso_id, items=items, all_existing=True)
        removed = [pk for location_id, pk in stored.items() if location_id not in seen]
        released = set(removed) | {item.existing_pk for item in items if item.writes and item.existing_pk}
        for index, error in conflicts(cso_id=cso_id, items=items, released_pks=released).items():
            bad.append(
                {"index": index, "id": body[index].get("id"), "code": error["code"], "errors": [error]}
            )
    if bad:
        bad.sort(key=lambda entry: entry["index"])
        raise InvalidInput(
            "invalid_locations",
            f"{len(bad)} of {len(body)} locations cannot be accepted; nothing was changed.",
            {"items": bad},
        )
    removed_count = locations_delete(removed)
    write(cso_id=cso_id, items=items, now=now)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "ignored_older": 0}
    for item in items:
        counts[item.result] += 1
    counts["removed"] = removed_count
    audit_record(action="locations.replace_all", partner_id=cso_id, details=counts)
    return {
        "result": "replaced",
        "counts": counts,
        "items": [{"index": item.index, "id": item.location_id, "result": item.result} for item in items],
    }


def _delta_body(body: Any) -> tuple[list[Any], list[Any]]:
    if isinstance(body, list):
        return body, []
    if isinstance(body, dict) and set(body) <= {"upsert", "remove"} and body:
        upsert, remove = body.get("upsert", []), body.get("remove", [])
        if isinstance(upsert, list) and isinstance(remove, list):
            return upsert, remove
    raise InvalidInput(
        "invalid_body",
        'The body must be a JSON array of Locations, or {"upsert": [Locations], "remove": [location ids]}.',
    )


@transaction.atomic
def locations_apply_delta(
    *, cso_id: int, operator_id: str, body: Any, now: datetime | None = None
) -> dict[str, Any]:
    """Delta: upsert the given locations and remove the named ones, answering per item.

    One bad item never loses the others: it is answered `rejected` with its error.
    """
    upserts, removes = _delta_body(body)
    _check_count(upserts + removes, "items")
    now = now or timezone.now()
    upsert_out: list[dict[str, Any]] = []
    remove_out: list[dict[str, Any]] = []
    items: list[Item] = []
    by_index: dict[int, Item] = {}
    remove_ids = {value for value in removes if isinstance(value, str)}
    named: set[str] = set()  # ids of well-formed upserts: one listed in remove too is refused in both
    seen: set[str] = set()
    for index, raw in enumerate(upserts):
        entry: dict[str, Any] = {"index": index, "id": _raw_id(raw)}
        upsert_out.append(entry)
        try:
            item = item_prepare(
                index=index, raw=raw, operator_id=operator_id, default_last_updated=format_datetime(now)
            )
        except DocumentError as exc:
            invalid = invalid_document(exc)
            entry.update(
                result=REJECTED,
                error={"code": invalid.code, "message": invalid.message, "details": invalid.details},
            )
            continue
        named.add(item.location_id)
        if item.location_id in seen or item.location_id in remove_ids:
            entry.update(
                result=REJECTED,
                error={
                    "code": "duplicate_location_id",
                    "message": "this location id is named more than once in the request",
                    "details": {},
                },
            )
            continue
        seen.add(item.location_id)
        items.append(item)
        by_index[index] = item
    cso_lock(cso_id)
    plan(cso_id=cso_id, items=items, all_existing=False)
    stored_removes = dict(
        Location.objects.filter(cso_id=cso_id, location_id__in=remove_ids - named).values_list(
            "location_id", "pk"
        )
    )
    for index, value in enumerate(removes):
        if not isinstance(value, str):
            remove_out.append({"index": index, "id": None, "result": REJECTED, "error": _not_an_id()})
        elif value in named:
            remove_out.append({"index": index, "id": value, "result": REJECTED, "error": _listed_twice()})
        else:
            remove_out.append(
                {"index": index, "id": value, "result": "removed" if value in stored_removes else "not_found"}
            )
    removed_pks = set(stored_removes.values())
    while True:
        released = removed_pks | {item.existing_pk for item in items if item.writes and item.existing_pk}
        found = conflicts(cso_id=cso_id, items=items, released_pks=released)
        if not found:
            break
        # A refused item keeps its stored EVSEs, which may in turn refuse another: go again.
        for index, error in found.items():
            by_index[index].result, by_index[index].error = REJECTED, error
    locations_delete(removed_pks)
    write(cso_id=cso_id, items=items, now=now)
    for item in items:
        upsert_out[item.index].update(result=item.result, **({"error": item.error} if item.error else {}))
    audit_record(
        action="locations.apply_delta",
        partner_id=cso_id,
        details={"upserts": len(upserts), "removes": len(removes), "removed": len(removed_pks)},
    )
    return {"upsert": upsert_out, "remove": remove_out}


def _not_an_id() -> dict[str, Any]:
    return {"code": "invalid_location_id", "message": "a location id must be a string", "details": {}}


def _listed_twice() -> dict[str, Any]:
    return {"code": "duplicate_location_id", "message": "listed in both upsert and remove", "details": {}}


def document_write(*, cso_id: int, operator_id: str, doc: dict[str, Any], now: datetime) -> LocationWrite:
    """Write one whole location document; the caller holds cso_lock()."""
    try:
        item = item_prepare(
            index=0, raw=doc, operator_id=operator_id, default_last_updated=format_datetime(now)
        )
    except DocumentError as exc:
        raise invalid_document(exc) from None
    plan(cso_id=cso_id, items=[item], all_existing=False)
    released = {item.existing_pk} if item.writes and item.existing_pk else set()
    found = conflicts(cso_id=cso_id, items=[item], released_pks=released)
    if found:
        error = found[item.index]
        raise ConflictError(error["code"], error["message"], error["details"])
    write(cso_id=cso_id, items=[item], now=now)
    return LocationWrite(
        result=item.result, location=Location.objects.get(cso_id=cso_id, location_id=item.location_id)
    )


def id_from_url(body: Any, key: str, value: str, what: str) -> dict[str, Any]:
    """The body with the id of the URL; a different id in the body is refused."""
    if not isinstance(body, dict):
        raise InvalidInput("invalid_body", f"The body must be a JSON object (an OCPI {what}).")
    given = body.get(key)
    if given is not None and str(given) != value:
        raise InvalidInput("id_mismatch", f"The {what}'s {key} differs from the one in the URL.")
    return {**body, key: value} if given is None else body


@transaction.atomic
def location_put(
    *, cso_id: int, operator_id: str, location_id: str, body: Any, now: datetime | None = None
) -> LocationWrite:
    """PUT one location: create it, or replace it unless the stored one is newer."""
    doc = id_from_url(body, "id", location_id, "Location")
    cso_lock(cso_id)
    return document_write(cso_id=cso_id, operator_id=operator_id, doc=doc, now=now or timezone.now())


@transaction.atomic
def location_patch(
    *, cso_id: int, operator_id: str, location_id: str, body: Any, now: datetime | None = None
) -> LocationWrite:
    """PATCH one location (OCPI): the given fields replace the stored ones; last_updated is
    required, and a patch older than the stored location is ignored."""
    id_from_url(body, "id", location_id, "Location")
    try:
        patch = patch_clean("location", body)
    except DocumentError as exc:
        raise invalid_document(exc) from None
    cso_lock(cso_id)
    row = location_for_write(cso_id=cso_id, location_id=location_id)
    if parse_datetime(patch["last_updated"]) < row.last_updated:
        return LocationWrite(result=IGNORED_OLDER, location=row)
    merged = patch_merge(row.document, patch)
    return document_write(cso_id=cso_id, operator_id=operator_id, doc=merged, now=now or timezone.now())


def location_for_write(*, cso_id: int, location_id: str) -> Location:
    row = Location.objects.filter(cso_id=cso_id, location_id=location_id).first()
    if row is None:
        raise NotFoundError("location_not_found", "You have no location with this id.")
    return row
