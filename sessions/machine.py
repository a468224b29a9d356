"""The state machines of commands, sessions and reservations, without Django.

The services apply a move as one conditional UPDATE whose WHERE clause lists the states the move
may start from (`sources`), so two writers racing for the same row cannot both win, and a move
from any other state is refused. docs/sessions.md draws these tables.
"""

from __future__ import annotations

from enum import StrEnum


class CommandState(StrEnum):
    PENDING = "PENDING"  # written, its delivery to the CSO waits in the outbox
    SENT = "SENT"  # delivered; the CSO's answer could not be read, its outcome is awaited
    ACCEPTED = "ACCEPTED"  # the CSO accepted it and will report the outcome
    REJECTED = "REJECTED"  # the CSO refused it at once (final)
    NOT_SUPPORTED = "NOT_SUPPORTED"  # the CSO or the EVSE cannot do it (final)
    UNKNOWN_SESSION = "UNKNOWN_SESSION"  # the CSO does not know the session to stop (final)
    RESULT = "RESULT"  # the CSO reported the outcome, see `result` (final)
    TIMEOUT = "TIMEOUT"  # no outcome within the CSO's timeout plus the grace period (final)
    FAILED = "FAILED"  # never reached the CSO (final), see `failure_reason`


# States in which a command still waits for something; the timeout job looks at these only.
COMMAND_OPEN = frozenset({CommandState.PENDING, CommandState.SENT, CommandState.ACCEPTED})
COMMAND_FINAL = frozenset(CommandState) - COMMAND_OPEN

# The delivery's answer moves a PENDING command; "" is an answer the hub could not read.
COMMAND_AFTER_RESPONSE = {
    "ACCEPTED": CommandState.ACCEPTED,
    "REJECTED": CommandState.REJECTED,
    "NOT_SUPPORTED": CommandState.NOT_SUPPORTED,
    "UNKNOWN_SESSION": CommandState.UNKNOWN_SESSION,
    "": CommandState.SENT,
}
# An outcome may come before the hub has recorded the delivery's answer (the CSO's charge point can
# be faster than the hub's worker), so PENDING may move to RESULT too.
COMMAND_RESULT_SOURCES = COMMAND_OPEN
COMMAND_TIMEOUT_SOURCES = frozenset({CommandState.SENT, CommandState.ACCEPTED})
# A command whose delivery died, or did not happen before its deadline, never reached the CSO.
COMMAND_FAIL_SOURCES = frozenset({CommandState.PENDING})


class SessionStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"


SESSION_FINAL = frozenset({SessionStatus.COMPLETED, SessionStatus.INVALID})
# Where a session may go from each status (staying is allowed: a progress update keeps its status).
SESSION_NEXT: dict[str, frozenset[str]] = {
    SessionStatus.PENDING: frozenset(SessionStatus),
    SessionStatus.ACTIVE: frozenset({SessionStatus.ACTIVE, SessionStatus.COMPLETED, SessionStatus.INVALID}),
    SessionStatus.COMPLETED: frozenset(),
    SessionStatus.INVALID: frozenset(),
}


def session_move_allowed(current: str, target: str) -> bool:
    return target in SESSION_NEXT.get(current, frozenset())


class ReservationState(StrEnum):
    REQUESTED = "REQUESTED"  # RESERVE_NOW sent, the CSO has not confirmed it
    ACTIVE = "ACTIVE"  # the CSO reserved the EVSE
    REJECTED = "REJECTED"  # the CSO refused it (final)
    FAILED = "FAILED"  # the command failed or timed out: the hub does not know it holds (final)
    CANCELLED = "CANCELLED"  # cancelled by the CSP through CANCEL_RESERVATION (final)
    EXPIRED = "EXPIRED"  # its expiry passed unused (final)
    USED = "USED"  # a session started with its authorization (final)


RESERVATION_OPEN = frozenset({ReservationState.REQUESTED, ReservationState.ACTIVE})


def reservation_after_result(result: str) -> ReservationState:
    """Where a RESERVE_NOW outcome leaves its reservation."""
    return ReservationState.ACTIVE if result == "ACCEPTED" else ReservationState.REJECTED


def cancellation_ends_reservation(result: str) -> bool:
    """A CANCEL_RESERVATION outcome after which the EVSE is not held: cancelled (OCPI's
    CANCELED_RESERVATION, or a plain ACCEPTED), or unknown to the CSO (it holds nothing)."""
    return result in ("ACCEPTED", "CANCELED_RESERVATION", "UNKNOWN_RESERVATION")
