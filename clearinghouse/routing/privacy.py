"""What the outbox keeps of a driver, and how it forgets it: the erasure of a contract rewrites the
messages that name it; retention clears delivered payloads and deletes old dead letters.

The routing sits below the app that runs erasures and retention (credentials), so these functions
take what they need as arguments (the search terms and the scrubbing functions) and credentials
registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from .models import OutboxMessage

_CHUNK = 500


def _names(terms: list[str]) -> Q:
    fields = ("payload", "response_body", "last_error")
    return reduce(or_, (Q(**{f"{field}__icontains": term}) for term in terms for field in fields))


def outbox_scrub(
    *, terms: list[str], scrub_json: Callable[[Any], Any], scrub_text: Callable[[str], str]
) -> int:
    """Rewrite every message whose payload, partner answer or error text names the contract (any of
    `terms`, case-insensitive); returns how many changed. A message still pending goes out rewritten."""
    if not terms:
        return 0
    changed: list[OutboxMessage] = []
    rows = OutboxMessage.objects.filter(_names(terms)).only("pk", "payload", "response_body", "last_error")
    for message in rows.iterator(chunk_size=_CHUNK):
        payload = scrub_json(message.payload)
        answer = scrub_json(message.response_body) if message.response_body is not None else None
        error = scrub_text(message.last_error)
        if (payload, answer, error) != (message.payload, message.response_body, message.last_error):
            message.payload, message.response_body, message.last_error = payload, answer, error
            changed.append(message)
    OutboxMessage.objects.bulk_update(changed, ["payload", "response_body", "last_error"], batch_size=_CHUNK)
    return len(changed)


def _in_batches(queryset: QuerySet[OutboxMessage], apply: Callable[[list[int]], int], batch_size: int) -> int:
    # Keyset pagination, one transaction per batch: a night's work never holds one long transaction.
    total, last, size = 0, 0, max(1, batch_size)
    while True:
        ids = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return total
        with transaction.atomic():
            total += apply(ids)
        if len(ids) < size:
            return total
        last = ids[-1]


def _delivered_before(before: datetime) -> Q:
    return Q(state=OutboxMessage.State.DELIVERED, delivered_at__lt=before) | Q(
        state=OutboxMessage.State.CANCELLED, created_at__lt=before
    )


def outbox_payloads_clear(*, before: datetime, batch_size: int) -> int:
    """Empty the payload, the partner's answer and the error text of messages delivered (or
    cancelled) before `before`; the row stays (its id, event type, times and attempts)."""
    due = OutboxMessage.objects.filter(_delivered_before(before)).exclude(payload={})

    def clear(ids: list[int]) -> int:
        return (
            OutboxMessage.objects.filter(_delivered_before(before), pk__in=ids)
            .exclude(payload={})
            .update(payload={}, response_body=None, last_error="")
        )

    return _in_batches(due, clear, batch_size)


def dead_letters_delete(*, before: datetime, batch_size: int) -> int:
    """Delete dead letters written before `before`: staff had that long to re-drive them."""
    due = OutboxMessage.objects.filter(state=OutboxMessage.State.DEAD, created_at__lt=before)

    def delete(ids: list[int]) -> int:
        deleted, _ = OutboxMessage.objects.filter(
            pk__in=ids, state=OutboxMessage.State.DEAD, created_at__lt=before
        ).delete()
        return deleted

    return _in_batches(due, delete, batch_size)
