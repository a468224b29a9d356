"""Models of the settlement app: SDRs (sdr.py); settlement runs and statements live beside them."""

from __future__ import annotations

from .sdr import (
    DisputedSdr,
    DisputeReason,
    Sdr,
    SdrChargingPeriod,
    SdrEvent,
    SdrFinding,
    SdrState,
    TariffSource,
)

__all__ = [
    "DisputeReason",
    "DisputedSdr",
    "Sdr",
    "SdrChargingPeriod",
    "SdrEvent",
    "SdrFinding",
    "SdrState",
    "TariffSource",
]
