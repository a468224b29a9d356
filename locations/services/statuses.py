"""Live EVSE status in bulk: validate each item, then apply the batch with set-based SQL.

A batch costs three statements whatever its size: one SELECT ... FOR UPDATE of the current
status of every EVSE named in it, one UPDATE of the rows that changed or were refreshed, one
INSERT of the status changes. Items are taken in the order given, as if sent one after another.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clearinghouse.errors import InvalidInput
from clearinghouse.lib.identifiers import IdentifierError, parse_evse_id

from ..models import EVSE
from ..ocpi.datetimes import parse_datetime
from ..ocpi.enums import STATUS
from ..status_sql import evse_status_changes_insert, evse_status_set, relaxed_commit, values_in

APPLIED = "applied"
UNCHANGED = "unchanged"
IGNORED_OLDER = "ignored_older"
REJECTED = "rejected"

# The part after "DE*ABC*" of an EVSE ID in canonical form (what parse_evse_id() would return).
_SUFFIX = re.compile(r"E[A-Z0-9][A-Z0-9*]{0,29}")


def _rejected(index: int, evse_id: Any, code: str, message: str) -> dict[str, Any]:
    shown = evse_id if isinstance(evse_id, str) and len(evse_id) <= 64 else None
    return {
        "index": index,
        "evse_id": shown,
        "status": REJECTED,
        "error": {"code": code, "message": message},
    }


def _parse_item(
    index: int, item: Any, *, operator_id: str, own_prefix: str, latest_allowed: datetime
) -> tuple[str, str, datetime] | dict[str, Any]:
    """(canonical EVSE ID, status, timestamp) of a valid item, else its rejection."""
    if not isinstance(item, dict):
        return _rejected(index, None, "invalid_item", "each item must be an object")
    raw_id = item.get("evse_id")
    if (
        isinstance(raw_id, str)
        and raw_id.startswith(own_prefix)
        and _SUFFIX.fullmatch(raw_id, len(own_prefix))
    ):
        evse_id = raw_id  # already canonical and of the caller's operator: the common case, fast
    else:
        try:
            parsed = parse_evse_id(raw_id)
        except IdentifierError as exc:
            return _rejected(index, raw_id, exc.code, exc.message)
        evse_id = str(parsed)
        if parsed.operator_id != operator_id:
            return _rejected(
                index, evse_id, "evse_not_owned", f"the EVSE ID is not of operator {operator_id}"
            )
    status = item.get("status")
    if status not in STATUS:
        return _rejected(index, evse_id, "invalid_status", "status must be an OCPI 2.2.1 EVSE status")
    try:
        stamp = parse_datetime(item.get("timestamp"))
    except ValueError as exc:
        return _rejected(index, evse_id, "invalid_timestamp", f"timestamp {exc}")
    if stamp > latest_allowed:
        return _rejected(index, evse_id, "timestamp_in_future", "timestamp is ahead of the hub's clock")
    return evse_id, status, stamp


def evse_statuses_apply(
    *, cso_id: int, operator_id: str, items: Any, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Apply a CSO's batch of `{evse_id, status, timestamp}` and answer per item.

    Per item: `applied` (the status changed: stored and logged for CSPs), `unchanged` (the same
    status again: its time refreshes the EVSE, nothing is logged or pushed), `ignored_older`
    (older than the stored status), `rejected` (with an error; unknown EVSE IDs too).
    """
    if not isinstance(items, list):
        raise InvalidInput("invalid_body", "the body must be a JSON array of status items")
    limit = settings.EVSE_STATUS_MAX_ITEMS
    if len(items) > limit:
        raise InvalidInput(
            "too_many_items",
            f"at most {limit} status items per request",
            {"count": len(items), "limit": limit},
        )
    now = now or timezone.now()
    latest_allowed = now + timedelta(seconds=settings.EVSE_STATUS_MAX_FUTURE_SECONDS)
    results: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, str, str, datetime]] = []
    for index, item in enumerate(items):
        parsed = _parse_item(
            index, item, operator_id=operator_id, own_prefix=f"{operator_id}*", latest_allowed=latest_allowed
        )
        if isinstance(parsed, dict):
            results[index] = parsed
        else:
            valid.append((index, *parsed))
    if valid:
        with transaction.atomic():
            if settings.EVSE_STATUS_ASYNC_COMMIT:
                relaxed_commit()
            _apply(cso_id=cso_id, valid=valid, results=results, now=now)
    return results  # type: ignore[return-value]


def _apply(
    *,
    cso_id: int,
    valid: list[tuple[int, str, str, datetime]],
    results: list[dict[str, Any] | None],
    now: datetime,
) -> None:
    # Locked in id order: two batches naming the same EVSEs queue up instead of deadlocking.
    current = {
        evse_id: [pk, status, stamp]
        for pk, evse_id, status, stamp in EVSE.objects.select_for_update()
        .filter(cso_id=cso_id, evse_id__in=values_in(list({v[1] for v in valid})))
        .order_by("id")
        .values_list("id", "evse_id", "status", "status_updated_at")
    }
    touched: dict[int, list[Any]] = {}
    changes: list[tuple[int, str, datetime]] = []
    for index, evse_id, status, stamp in valid:
        state = current.get(evse_id)
        if state is None:
            results[index] = _rejected(index, evse_id, "unknown_evse", "no EVSE of yours has this EVSE ID")
            continue
        if stamp < state[2]:
            outcome = IGNORED_OLDER
        elif status == state[1]:
            outcome = UNCHANGED
            if stamp > state[2]:
                state[2] = stamp
                touched[state[0]] = state
        else:
            outcome = APPLIED
            state[1], state[2] = status, stamp
            touched[state[0]] = state
            changes.append((state[0], status, stamp))
        results[index] = {"index": index, "evse_id": evse_id, "status": outcome}
    evse_status_set([(pk, state[1], state[2]) for pk, state in touched.items()])
    evse_status_changes_insert(changes, received_at=now)
