"""Messages about SDRs to the partners' endpoints, through the outbox, a few per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings

from clearinghouse.routing.services import outbox_enqueue

PATH = "sdrs"
CREATED = "sdr.created"
CORRECTED = "sdr.corrected"
ACCEPTED = "sdr.accepted"
DISPUTED = "sdr.disputed"


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sdrs_send(
    *, partner_id: int, role: str, event_type: str, records: Sequence[dict[str, Any]], **extra: Any
) -> bool:
    """Write messages carrying `records` (`{"sdrs": [...], **extra}`) to one partner, at most
    SDR_DELIVERY_BATCH_SIZE records each, in the caller's transaction; False when the partner has
    no endpoint to push to (it pulls with GET /sdrs/ instead)."""
    sent = True
    for chunk in _chunks(records, max(1, settings.SDR_DELIVERY_BATCH_SIZE)):
        message = outbox_enqueue(
            partner_id=partner_id,
            role=role,
            event_type=event_type,
            path=PATH,
            payload={"sdrs": list(chunk), **extra},
        )
        sent = sent and message is not None
        extra = {}  # said once, in the first message
    return sent


def sdrs_send_grouped(*, by_partner: dict[tuple[int, str], list[dict[str, Any]]], event_type: str) -> None:
    """`sdrs_send` for records grouped by (partner, role)."""
    for (partner_id, role), records in sorted(by_partner.items()):
        sdrs_send(partner_id=partner_id, role=role, event_type=event_type, records=records)


def group() -> defaultdict[tuple[int, str], list[dict[str, Any]]]:
    return defaultdict(list)
