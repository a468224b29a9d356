"""Periodic jobs of remote commands and reservations (collected by clearinghouse/schedule.py)."""

from __future__ import annotations

BEAT = {
    "sessions-commands-time-out": {"task": "sessions.commands_time_out", "schedule": 5.0},
    "sessions-reservations-expire": {"task": "sessions.reservations_expire", "schedule": 30.0},
}
