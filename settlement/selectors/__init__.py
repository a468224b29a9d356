"""Reads of the settlement app. SDRs: sdrs.py."""

from __future__ import annotations

from .sdrs import (
    SETTLEMENT_COLUMNS,
    rejected_keys,
    sdr_events,
    sdr_get_visible,
    sdrs_disputed,
    sdrs_settleable,
    sdrs_visible,
    state_q,
    stored_sdrs,
)

__all__ = [
    "SETTLEMENT_COLUMNS",
    "rejected_keys",
    "sdr_events",
    "sdr_get_visible",
    "sdrs_disputed",
    "sdrs_settleable",
    "sdrs_visible",
    "state_q",
    "stored_sdrs",
]
