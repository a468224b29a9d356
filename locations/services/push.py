"""Pushing EVSE status changes to subscribed CSPs in batches, and purging old changes.

A periodic job reads, for each CSP with an active CSP endpoint, the changes after its cursor of
EVSEs of CSOs it has an agreement with (published locations only), and writes ONE outbox message
per batch of up to EVSE_STATUS_PUSH_BATCH_SIZE changes, advancing the cursor in the same
transaction. Under load a CSP therefore gets a few large messages, never one call per change.

Changes become eligible EVSE_STATUS_PUSH_SETTLE_SECONDS after they were recorded: change ids are
handed out before the writing transaction commits, so a fresh high id may be visible while a lower
one is not yet; waiting a little lets such a transaction commit before the cursor passes its id.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Max, Min, Value
from django.db.models.functions import Now
from django.utils import timezone

from clearinghouse.routing.services import outbox_enqueue
from partners.models import Partner, RoamingEndpoint
from partners.selectors import active_agreements

from ..models import EvseStatusChange, StatusPushCursor
from ..selectors.statuses import status_change_render, status_change_rows

logger = logging.getLogger(__name__)

EVENT_TYPE = "evse_status.batch"
PUSH_PATH = "evse-statuses"
MAX_BATCHES_PER_RUN = 20  # per CSP; the rest waits for the next run, so one CSP cannot hog a run


def _settled_upper_bound() -> int:
    """The highest change id the push may pass: below the first change still settling.

    The cutoff is taken from the database's clock, which also stamps the changes.
    """
    settle = timedelta(seconds=settings.EVSE_STATUS_PUSH_SETTLE_SECONDS)
    cutoff = ExpressionWrapper(Now() - Value(settle), output_field=DateTimeField())
    first_recent = EvseStatusChange.objects.filter(received_at__gt=cutoff).aggregate(first=Min("id"))["first"]
    if first_recent is not None:
        return first_recent - 1
    return EvseStatusChange.objects.aggregate(last=Max("id"))["last"] or 0


def _subscribers() -> dict[int, set[int]]:
    """CSP partner id -> ids of the CSOs whose changes it receives."""
    endpoints = RoamingEndpoint.objects.filter(
        role=RoamingEndpoint.Role.CSP,
        protocol="i3",
        active=True,
        partner__status=Partner.Status.ACTIVE,
        partner__is_csp=True,
    ).values_list("partner_id", flat=True)
    subscribers: dict[int, set[int]] = defaultdict(set)
    for csp_id, cso_id in (
        active_agreements().filter(csp_id__in=list(endpoints)).values_list("csp_id", "cso_id")
    ):
        subscribers[csp_id].add(cso_id)
    return subscribers


def evse_status_push_run() -> int:
    """Push pending status changes to every subscribed CSP; returns the messages written."""
    upper = _settled_upper_bound()
    written = 0
    for csp_id, cso_ids in _subscribers().items():
        try:
            written += evse_status_push_to(csp_id=csp_id, cso_ids=cso_ids, upper=upper)
        except Exception:
            # One CSP's trouble (say, a database error on its cursor) must not stop the others.
            logger.exception("status push to CSP %s failed", csp_id)
    return written


@transaction.atomic
def evse_status_push_to(*, csp_id: int, cso_ids: set[int], upper: int) -> int:
    """Write the outbox messages of one CSP's pending changes up to change id `upper`.

    The cursor row is claimed with FOR UPDATE SKIP LOCKED: a second worker running the same job
    skips this CSP instead of sending its changes twice.
    """
    cursor = _cursor_claim(csp_id=csp_id, upper=upper)
    if cursor is None:
        return 0
    batch_size = settings.EVSE_STATUS_PUSH_BATCH_SIZE
    position = cursor.last_change_id
    messages = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        if position >= upper:
            break
        rows = list(
            status_change_rows(cso_ids=cso_ids, published_only=True)
            .filter(id__gt=position, id__lte=upper)
            .order_by("id")[:batch_size]
        )
        if rows:
            outbox_enqueue(
                partner_id=csp_id,
                role="CSP",
                event_type=EVENT_TYPE,
                path=PUSH_PATH,
                payload={"statuses": [status_change_render(row, viewer_id=None, stale=None) for row in rows]},
            )
            messages += 1
        position = rows[-1]["id"] if len(rows) == batch_size else upper
    StatusPushCursor.objects.filter(pk=cursor.pk).update(last_change_id=position, updated_at=timezone.now())
    return messages


def _cursor_claim(*, csp_id: int, upper: int) -> StatusPushCursor | None:
    rows = StatusPushCursor.objects.filter(csp_id=csp_id)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    cursor = rows.first()
    if cursor is not None:
        return cursor
    if StatusPushCursor.objects.filter(csp_id=csp_id).exists():
        return None  # held by another worker
    # A new subscriber starts from now: the current statuses are in GET /locations/.
    StatusPushCursor.objects.get_or_create(csp_id=csp_id, defaults={"last_change_id": upper})
    return None


def status_changes_purge(*, batch: int = 10000) -> int:
    """Delete status changes older than EVSE_STATUS_CHANGE_RETENTION_DAYS, in slices."""
    cutoff = timezone.now() - timedelta(days=settings.EVSE_STATUS_CHANGE_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            EvseStatusChange.objects.filter(received_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += EvseStatusChange.objects.filter(id__in=ids).delete()[0]
