"""Writes of the settlement app. SDRs: intake and corrections (sdr_intake.py), the CSP's answers and
the hub's transitions (sdr_transitions.py), the messages to partners (sdr_routing.py)."""

from __future__ import annotations

from .sdr_intake import IntakeOutcome, ItemResult, sdr_correct, sdrs_ingest
from .sdr_transitions import (
    dispute_window_closes,
    sdr_accept,
    sdr_dispute,
    sdrs_accept_undisputed,
    sdrs_mark_delivered,
)
from .settlement_buckets import sdrs_place

__all__ = [
    "IntakeOutcome",
    "ItemResult",
    "dispute_window_closes",
    "sdr_accept",
    "sdr_correct",
    "sdr_dispute",
    "sdrs_accept_undisputed",
    "sdrs_ingest",
    "sdrs_mark_delivered",
    "sdrs_place",
]
