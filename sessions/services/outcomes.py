"""What becomes of a command after it was sent: the CSO's answer to the delivery, its outcome, a
delivery that died, a deadline that passed. Each is one conditional UPDATE of the command (the
table is in machine.py), and the CSP is told of every move.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clearinghouse.db import statement_cursor
from clearinghouse.errors import InvalidTransition, NotFoundError
from clearinghouse.routing.models import OutboxMessage
from clearinghouse.routing.services import outbox_cancel

from ..inputs import CommandOutcome, read_cso_response
from ..machine import (
    COMMAND_AFTER_RESPONSE,
    COMMAND_FAIL_SOURCES,
    COMMAND_FINAL,
    COMMAND_RESULT_SOURCES,
    COMMAND_TIMEOUT_SOURCES,
    RESERVATION_OPEN,
    CommandState,
    ReservationState,
    cancellation_ends_reservation,
    reservation_after_result,
)
from ..models import RemoteCommand
from ..selectors import command_from_row, command_with_parties, command_with_parties_query, commands_overdue
from . import notify
from .reservations import reservation_move


def _load(**lookup: Any) -> RemoteCommand | None:
    return RemoteCommand.objects.select_related("csp", "cso", "reservation").filter(**lookup).first()


def _claim(command: RemoteCommand, sources: frozenset[str] | set[str], changes: dict[str, Any]) -> bool:
    """Move the command if it is still in one of `sources`; the in-memory object follows."""
    updated = RemoteCommand.objects.filter(pk=command.pk, state__in=list(sources)).update(**changes)
    if updated:
        for name, value in changes.items():
            setattr(command, name, value)
    return bool(updated)


def _claim_read(
    *,
    uid: uuid.UUID,
    sources: frozenset[str] | set[str],
    changes: dict[str, Any],
    cso_id: int | None = None,
) -> RemoteCommand | None:
    """Move the command with this uid (the CSO's own when `cso_id` is given) if it is still in one
    of `sources`, and read it as moved, with its parties (selectors.command_with_parties); None
    when it is in no such state, or unknown.

    On PostgreSQL one statement, the UPDATE in a CTE read with the parties: a CSO's answer and its
    outcome race for the same row (the CSO may report before the hub has recorded the delivery's
    answer), and each round trip while one of them holds the row's lock is a wait for the other.
    """
    if connection.vendor != "postgresql":
        moved = RemoteCommand.objects.filter(uid=uid, state__in=list(sources))
        if cso_id is not None:
            moved = moved.filter(cso_id=cso_id)
        return command_with_parties(uid=uid, cso_id=cso_id) if moved.update(**changes) else None
    columns, values = [], []
    for name, value in changes.items():
        field = RemoteCommand._meta.get_field(name)
        columns.append(f"{connection.ops.quote_name(field.column)} = %s")  # type: ignore[union-attr]
        values.append(field.get_db_prep_save(value, connection))  # type: ignore[union-attr]
    where = "uid = %s AND state = ANY(%s)" + (" AND cso_id = %s" if cso_id is not None else "")
    where_params: list[Any] = [uid, sorted(str(state) for state in sources)]
    if cso_id is not None:
        where_params.append(cso_id)
    # Names from the model's _meta.
    update = f"UPDATE {RemoteCommand._meta.db_table} SET {', '.join(columns)} WHERE {where} RETURNING *"  # noqa: S608
    read, read_params = command_with_parties_query(uid=uid, cso_id=cso_id, source="changed")
    with statement_cursor(connection) as cursor:
        cursor.execute(f"WITH changed AS ({update}) {read}", [*values, *where_params, *read_params])
        row = cursor.fetchone()
        return None if row is None else command_from_row(cursor, row)


def _timeout_seconds(value: int | None) -> int:
    """The CSO's timeout, bounded: none given is the default, an absurd one the maximum."""
    if value is None:
        return settings.COMMAND_DEFAULT_TIMEOUT_SECONDS
    return min(max(value, 1), settings.COMMAND_MAX_TIMEOUT_SECONDS)


# --- the CSO's answers ----------------------------------------------------------------------------


def _uid_of(message: OutboxMessage) -> uuid.UUID | None:
    payload = message.payload if isinstance(message.payload, dict) else {}
    try:
        return uuid.UUID(str(payload.get("command_id")))
    except ValueError:
        return None


def _command_of(message: OutboxMessage) -> RemoteCommand | None:
    uid = _uid_of(message)
    return None if uid is None else command_with_parties(uid=uid)


def _fail(command: RemoteCommand, reason: str, now: datetime) -> bool:
    changes = {
        "state": CommandState.FAILED,
        "failure_reason": reason[:500],
        "finished_at": now,
        "updated_at": now,
    }
    if not _claim(command, COMMAND_FAIL_SOURCES, changes):
        return False
    if command.type == "RESERVE_NOW" and command.reservation is not None:
        reservation_move(command.reservation, {ReservationState.REQUESTED}, ReservationState.FAILED, now=now)
    notify.command_to_csp(command, "failed")
    return True


def command_delivered(message: OutboxMessage, body: Any) -> None:
    """Delivery hook: the CSO's answer to the delivery moves the PENDING command and goes to the CSP.

    An outcome may have come first (the CSO can be faster than the hub's worker), or the command may
    have been given up; then the answer is kept for the record and the state stays.
    """
    uid = _uid_of(message)
    if uid is None:
        return
    answer = read_cso_response(body)
    now = message.delivered_at or timezone.now()
    target = COMMAND_AFTER_RESPONSE[answer.result]
    # The timeout the hub will wait: the CSO's, bounded (an absurd one must not overflow the column).
    timeout = _timeout_seconds(answer.timeout) if answer.timeout is not None else None
    changes: dict[str, Any] = {
        "state": target,
        "response": answer.result,
        "response_timeout": timeout,
        "message": answer.message,
        "sent_at": now,
        "deadline_at": now
        + timedelta(seconds=_timeout_seconds(answer.timeout) + settings.COMMAND_RESULT_GRACE_SECONDS),
        "updated_at": now,
    }
    if target in COMMAND_FINAL:
        changes["finished_at"] = now
    command = _claim_read(uid=uid, sources={CommandState.PENDING}, changes=changes)
    if command is None:  # moved on already (or unknown: then nothing matches here either)
        RemoteCommand.objects.filter(uid=uid, sent_at__isnull=True).update(
            response=answer.result, response_timeout=timeout, sent_at=now, updated_at=now
        )
        return
    if target in COMMAND_FINAL and command.type == "RESERVE_NOW" and command.reservation is not None:
        reservation_move(
            command.reservation, {ReservationState.REQUESTED}, ReservationState.REJECTED, now=now
        )
    notify.command_to_csp(command, "response")


def command_delivery_dead(message: OutboxMessage) -> None:
    """Delivery hook: the CSO never received the command (its delivery was dead-lettered)."""
    command = _command_of(message)
    if command is not None:
        _fail(command, f"not delivered to the CSO: {message.last_error}", timezone.now())


@transaction.atomic
def command_result_record(
    *, cso_id: int, command_uid: uuid.UUID | str, outcome: CommandOutcome, now: datetime | None = None
) -> RemoteCommand:
    """The CSO's final outcome of one of its commands; the CSP is told.

    Repeating the recorded outcome is answered with the command as it is (the CSO may retry a
    request whose answer it lost); any other report on a finished command is refused (409).
    """
    now = now or timezone.now()
    try:
        uid = uuid.UUID(str(command_uid))
    except ValueError:
        raise NotFoundError("command_not_found", "No command of yours has this id.") from None
    changes = {
        "state": CommandState.RESULT,
        "result": outcome.result,
        "message": outcome.message,
        "finished_at": now,
        "updated_at": now,
    }
    # The usual case first: an open command takes the outcome, read with its parties in the same
    # statement. Otherwise it is read to tell why not.
    command = _claim_read(uid=uid, sources=COMMAND_RESULT_SOURCES, changes=changes, cso_id=cso_id)
    if command is None:
        command = command_with_parties(uid=uid, cso_id=cso_id)
        if command is None:
            raise NotFoundError("command_not_found", "No command of yours has this id.")
        if command.state == CommandState.RESULT and command.result == outcome.result:
            return command
        raise InvalidTransition(
            "invalid_transition",
            f"The command is {command.state}; it takes no outcome now.",
            {"state": command.state},
        )
    reservation = command.reservation
    if reservation is not None and command.type == "RESERVE_NOW":
        reservation_move(
            reservation, {ReservationState.REQUESTED}, reservation_after_result(outcome.result), now=now
        )
    elif reservation is not None and cancellation_ends_reservation(outcome.result):
        reservation_move(reservation, RESERVATION_OPEN, ReservationState.CANCELLED, now=now)
    notify.command_to_csp(command, "result")
    return command


# --- giving up ------------------------------------------------------------------------------------


@transaction.atomic
def command_time_out(*, command_id: int, now: datetime | None = None) -> bool:
    """End a command whose deadline passed: TIMEOUT when the CSO had it, FAILED when it never went
    out (its delivery is cancelled). False when it moved meanwhile."""
    now = now or timezone.now()
    command = _load(pk=command_id, deadline_at__lt=now)
    if command is None:
        return False
    if command.state == CommandState.PENDING:
        if not _fail(command, "not delivered to the CSO before its deadline", now):
            return False
        if command.delivery_id is not None:
            outbox_cancel(message_ids=[command.delivery_id])
        return True
    changes = {"state": CommandState.TIMEOUT, "finished_at": now, "updated_at": now}
    if not _claim(command, COMMAND_TIMEOUT_SOURCES, changes):
        return False
    if command.type == "RESERVE_NOW" and command.reservation is not None:
        reservation_move(command.reservation, {ReservationState.REQUESTED}, ReservationState.FAILED, now=now)
    notify.command_to_csp(command, "timeout")
    return True


def commands_time_out_overdue(*, now: datetime | None = None, limit: int = 500) -> int:
    """The periodic job: end the commands waiting past their deadline (index command_open_deadline)."""
    now = now or timezone.now()
    return sum(command_time_out(command_id=pk, now=now) for pk in commands_overdue(before=now, limit=limit))
