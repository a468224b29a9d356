"""What settlement does when the outbound routing reports on its messages (registered at start-up)."""

from __future__ import annotations

from typing import Any

from .services import sdr_routing, sdrs_mark_delivered


def on_sdrs_delivered(message: Any, answer: Any) -> None:
    """The CSP's endpoint took a message of new SDRs: they are DELIVERED and their dispute window runs."""
    pks = [record["id"] for record in (message.payload or {}).get("sdrs", []) if isinstance(record, dict)]
    sdrs_mark_delivered(sdr_pks=pks, at=message.delivered_at)


def register() -> None:
    from clearinghouse.routing.services import delivery_hooks_register

    for event_type in (sdr_routing.CREATED, sdr_routing.CORRECTED):
        delivery_hooks_register(event_type, on_delivered=on_sdrs_delivered)
