"""Reservations: their moves (driven by commands and sessions) and their expiry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..machine import RESERVATION_OPEN, ReservationState
from ..models import Reservation
from . import notify


def reservation_move(
    reservation: Reservation, sources: Iterable[str], target: str, *, now: datetime | None = None
) -> bool:
    """Move a reservation if it is still in one of `sources` (a conditional UPDATE); the in-memory
    object follows. False when it had moved on already."""
    now = now or timezone.now()
    updated = Reservation.objects.filter(pk=reservation.pk, state__in=list(sources)).update(
        state=target, updated_at=now
    )
    if updated:
        reservation.state = target
        reservation.updated_at = now
    return bool(updated)


def reservation_use(*, cso_id: int, authorization_reference: str, now: datetime) -> bool:
    """A session started with an open reservation's authorization: the reservation is used up."""
    return bool(
        Reservation.objects.filter(
            cso_id=cso_id, authorization_reference=authorization_reference, state__in=list(RESERVATION_OPEN)
        ).update(state=ReservationState.USED, updated_at=now)
    )


@transaction.atomic
def reservation_expire(*, reservation_id: int, now: datetime | None = None) -> bool:
    """Expire one open reservation past its expiry and tell both sides; False when it moved meanwhile."""
    now = now or timezone.now()
    reservation = (
        Reservation.objects.select_related("csp", "cso")
        .filter(pk=reservation_id, expiry_date__lt=now)
        .first()
    )
    if reservation is None or not reservation_move(
        reservation, RESERVATION_OPEN, ReservationState.EXPIRED, now=now
    ):
        return False
    notify.reservation_to_both(reservation, "expired")
    return True


def reservations_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """The periodic job: expire the open reservations whose expiry passed (index reservation_open_expiry)."""
    now = now or timezone.now()
    due = list(
        Reservation.objects.filter(state__in=list(RESERVATION_OPEN), expiry_date__lt=now)
        .order_by("expiry_date")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(reservation_expire(reservation_id=pk, now=now) for pk in due)
