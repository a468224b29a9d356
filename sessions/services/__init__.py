"""Writes of the sessions app (commands, sessions, reservations); other apps import them from here."""

from __future__ import annotations

from .charging import SessionChange, session_start, session_update
from .commands import command_submit
from .outcomes import (
    command_delivered,
    command_delivery_dead,
    command_result_record,
    command_time_out,
    commands_time_out_overdue,
)
from .reservations import reservation_expire, reservation_move, reservation_use, reservations_expire_due

__all__ = [
    "SessionChange",
    "command_delivered",
    "command_delivery_dead",
    "command_result_record",
    "command_submit",
    "command_time_out",
    "commands_time_out_overdue",
    "reservation_expire",
    "reservation_move",
    "reservation_use",
    "reservations_expire_due",
    "session_start",
    "session_update",
]
