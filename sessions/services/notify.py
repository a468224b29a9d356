"""What the hub tells partners about commands, sessions and reservations, through the outbox.

Each function writes a message in the caller's transaction; a partner without an endpoint for the
role gets nothing pushed and reads the same object through the API. docs/sessions.md shows what
each endpoint receives.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from clearinghouse.routing.models import OutboxMessage
from clearinghouse.routing.selectors import EnqueueTarget
from clearinghouse.routing.services import outbox_enqueue

from ..models import ChargingSession, RemoteCommand, Reservation
from ..wire import command_delivery, command_json, reservation_json, session_json

# Paths under the partner's endpoint URL.
CSO_COMMANDS_PATH = "commands"
CSP_COMMAND_RESULTS_PATH = "commands/results"
CSP_SESSIONS_PATH = "sessions"
RESERVATIONS_PATH = "reservations"


def command_event_type(command_type: str) -> str:
    """The event type of a command's delivery to the CSO, e.g. command.start_session."""
    return f"command.{command_type.lower()}"


def command_to_cso(
    command: RemoteCommand,
    *,
    location_id: str = "",
    evse_uid: str = "",
    outbox: EnqueueTarget | None = None,
) -> OutboxMessage | None:
    """The command itself, for the CSO; None when the CSO has no endpoint to receive it. `outbox`:
    the CSO's commands channel, when the caller read it with the command's route."""
    return outbox_enqueue(
        partner_id=command.cso_id,
        role="CSO",
        event_type=command_event_type(command.type),
        path=CSO_COMMANDS_PATH,
        payload=command_delivery(command, location_id=location_id, evse_uid=evse_uid),
        max_attempts=settings.COMMAND_DELIVERY_MAX_ATTEMPTS,
        target=outbox,
    )


def command_to_csp(command: RemoteCommand, event: str) -> None:
    """A change of a command (the CSO's answer, its outcome, a timeout, a failure), for the CSP."""
    event_type = f"command.{event}"
    outbox_enqueue(
        partner_id=command.csp_id,
        role="CSP",
        event_type=event_type,
        path=CSP_COMMAND_RESULTS_PATH,
        payload={"event": event_type, "command": command_json(command)},
        # The CSP's channel, when the command was read with it (selectors.command_with_parties).
        target=getattr(command, "csp_outbox", None),
    )


def session_to_csp(session: ChargingSession, event: str) -> None:
    """A session started, progressed or ended, for the CSP of its contract."""
    event_type = f"session.{event}"
    outbox_enqueue(
        partner_id=session.csp_id,
        role="CSP",
        event_type=event_type,
        path=CSP_SESSIONS_PATH,
        payload={"event": event_type, "session": session_json(session)},
    )


def reservation_to_both(reservation: Reservation, event: str) -> None:
    """A reservation's end the hub decided (its expiry), for the CSO and the CSP alike."""
    event_type = f"reservation.{event}"
    payload: dict[str, Any] = {"event": event_type, "reservation": reservation_json(reservation)}
    for partner_id, role in ((reservation.cso_id, "CSO"), (reservation.csp_id, "CSP")):
        outbox_enqueue(
            partner_id=partner_id, role=role, event_type=event_type, path=RESERVATIONS_PATH, payload=payload
        )
