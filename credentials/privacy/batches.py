"""Working through many rows in bounded transactions (the retention job; the erasure's big tables)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet


def in_batches(queryset: QuerySet[Any], apply: Callable[[list[int]], int], *, batch_size: int) -> int:
    """Walk the rows of `queryset` by ascending primary key, `batch_size` at a time, and call
    `apply(ids)` for each batch in a transaction of its own; returns the sum of what it returned.

    Keyset pagination: each batch starts after the last key of the one before, so a run reads the
    table once, however many rows earlier runs left as they were. `apply` must check its condition
    again in its own statement (the row may have changed since it was listed).
    """
    total = 0
    last: Any = None
    size = max(1, batch_size)
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        ids = list(page.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return total
        with transaction.atomic():
            total += apply(ids)
        if len(ids) < size:
            return total
        last = ids[-1]
