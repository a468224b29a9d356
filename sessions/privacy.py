"""What sessions, remote commands and reservations do for privacy, registered with the credentials
app's privacy registry from ChargingSessionsConfig.ready().

- Erasure of a contract: its contract ID becomes the pseudonym in sessions, commands and
  reservations (energy, times and amounts stay); a session's masked token hint is removed. An
  erasure waits while the contract has a session, a remote command or a reservation still open.
- Export: the contract's sessions, commands and reservations, as the CSP reads them in the API.
- Retention: PRIVACY_SESSION_RETENTION_DAYS after their last change, finished sessions, commands
  and reservations keep the pseudonym in place of the contract ID.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q

from credentials.privacy import registry
from credentials.privacy.batches import in_batches
from credentials.privacy.contracts import scrubber_for
from credentials.privacy.identity import PSEUDONYM_PREFIX
from credentials.privacy.retention import cutoff, pseudonym_or_blank

from .machine import COMMAND_OPEN, RESERVATION_OPEN, SESSION_FINAL
from .models import ChargingSession, RemoteCommand, Reservation
from .wire import command_json, reservation_json, session_json

_OPEN_COMMANDS = sorted(s.value for s in COMMAND_OPEN)
_OPEN_RESERVATIONS = sorted(s.value for s in RESERVATION_OPEN)
_FINAL_SESSIONS = sorted(s.value for s in SESSION_FINAL)
_CHUNK = 500


# --- erasure ----------------------------------------------------------------------------------------


def sessions_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    """The contract's sessions keep everything but the contract ID and the token hint."""
    return ChargingSession.objects.filter(contract_id__in=contract_ids).update(
        contract_id=pseudonym, token_hint=""
    )


def commands_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    """The contract's commands: the contract ID becomes the pseudonym, also in the CSO's texts."""
    scrubber = scrubber_for(contract_ids, pseudonym)
    rows = list(
        RemoteCommand.objects.filter(contract_id__in=contract_ids).only(
            "pk", "contract_id", "message", "failure_reason"
        )
    )
    for command in rows:
        command.contract_id = pseudonym
        command.message = scrubber.text(command.message)[:255]
        command.failure_reason = scrubber.text(command.failure_reason)[:500]
    RemoteCommand.objects.bulk_update(rows, ["contract_id", "message", "failure_reason"], batch_size=_CHUNK)
    return len(rows)


def reservations_pseudonymise(contract_ids: list[str], pseudonym: str) -> int:
    return Reservation.objects.filter(contract_id__in=contract_ids).update(contract_id=pseudonym)


def open_sessions(contract_ids: list[str]) -> int:
    """Sessions of the contract not yet COMPLETED or INVALID: the erasure waits for their end."""
    return (
        ChargingSession.objects.filter(contract_id__in=contract_ids)
        .exclude(status__in=_FINAL_SESSIONS)
        .count()
    )


def open_commands(contract_ids: list[str]) -> int:
    """A remote start or reservation on its way would start a session under the old contract ID."""
    return RemoteCommand.objects.filter(contract_id__in=contract_ids, state__in=_OPEN_COMMANDS).count()


def open_reservations(contract_ids: list[str]) -> int:
    return Reservation.objects.filter(contract_id__in=contract_ids, state__in=_OPEN_RESERVATIONS).count()


# --- export -----------------------------------------------------------------------------------------


def sessions_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = (
        ChargingSession.objects.filter(contract_id__in=contract_ids, csp_id=csp_id)
        .select_related("cso", "csp")
        .order_by("pk")
    )
    return [session_json(session) for session in rows]


def commands_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = (
        RemoteCommand.objects.filter(contract_id__in=contract_ids, csp_id=csp_id)
        .select_related("cso", "csp", "reservation")
        .order_by("pk")
    )
    return [command_json(command) for command in rows]


def reservations_export(contract_ids: list[str], csp_id: int) -> list[dict[str, Any]]:
    rows = (
        Reservation.objects.filter(contract_id__in=contract_ids, csp_id=csp_id)
        .select_related("cso", "csp")
        .order_by("pk")
    )
    return [reservation_json(reservation) for reservation in rows]


# --- retention --------------------------------------------------------------------------------------

_NOT_PSEUDONYMISED = ~Q(contract_id="") & ~Q(contract_id__startswith=PSEUDONYM_PREFIX)


def _pseudonymise_rows(model: Any, due: Any, fields: list[str], batch_size: int) -> int:
    def apply(ids: list[int]) -> int:
        rows = list(due.filter(pk__in=ids).only("pk", *fields))
        for row in rows:
            row.contract_id = pseudonym_or_blank(row.contract_id)
            if "token_hint" in fields:
                row.token_hint = ""
        model.objects.bulk_update(rows, fields)
        return len(rows)

    return in_batches(due, apply, batch_size=batch_size)


def sessions_anonymise_due(now: datetime, batch_size: int) -> int:
    """Finished sessions, commands and reservations whose last change is older than
    PRIVACY_SESSION_RETENTION_DAYS: the contract ID becomes its pseudonym, the token hint goes."""
    before = cutoff(now, settings.PRIVACY_SESSION_RETENTION_DAYS)
    if before is None:
        return 0
    sessions = ChargingSession.objects.filter(
        _NOT_PSEUDONYMISED | ~Q(token_hint=""), status__in=_FINAL_SESSIONS, updated_at__lt=before
    )
    done = _pseudonymise_rows(ChargingSession, sessions, ["contract_id", "token_hint"], batch_size)
    commands = RemoteCommand.objects.filter(_NOT_PSEUDONYMISED, updated_at__lt=before).exclude(
        state__in=_OPEN_COMMANDS
    )
    done += _pseudonymise_rows(RemoteCommand, commands, ["contract_id"], batch_size)
    reservations = Reservation.objects.filter(_NOT_PSEUDONYMISED, updated_at__lt=before).exclude(
        state__in=_OPEN_RESERVATIONS
    )
    done += _pseudonymise_rows(Reservation, reservations, ["contract_id"], batch_size)
    return done


def register() -> None:
    """Register with the credentials app's privacy registry (from ChargingSessionsConfig.ready())."""
    registry.erasure_step_register("charging_sessions.sessions", sessions_pseudonymise)
    registry.erasure_step_register("charging_sessions.commands", commands_pseudonymise)
    registry.erasure_step_register("charging_sessions.reservations", reservations_pseudonymise)
    registry.erasure_blocker_register("charging_sessions.open_sessions", open_sessions)
    registry.erasure_blocker_register("charging_sessions.open_commands", open_commands)
    registry.erasure_blocker_register("charging_sessions.open_reservations", open_reservations)
    registry.export_provider_register("sessions", sessions_export, order=100)
    registry.export_provider_register("commands", commands_export, order=110)
    registry.export_provider_register("reservations", reservations_export, order=120)
    registry.retention_step_register("charging_sessions.sessions", sessions_anonymise_due)
