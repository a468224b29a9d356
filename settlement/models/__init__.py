"""Models of the settlement app: SDRs (sdr.py); fee plans, settlement runs and statements
(statements.py)."""

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
from .statements import (
    Cadence,
    FeeKind,
    FeePlan,
    FinanceUser,
    Payer,
    Role,
    RunState,
    SettlementBucket,
    SettlementRun,
    Statement,
    StatementFee,
    StatementLine,
    StatementPayment,
    StatementSequence,
    StatementState,
)

__all__ = [
    "Cadence",
    "DisputeReason",
    "DisputedSdr",
    "FeeKind",
    "FeePlan",
    "FinanceUser",
    "Payer",
    "Role",
    "RunState",
    "Sdr",
    "SdrChargingPeriod",
    "SdrEvent",
    "SdrFinding",
    "SdrState",
    "SettlementBucket",
    "SettlementRun",
    "Statement",
    "StatementFee",
    "StatementLine",
    "StatementPayment",
    "StatementSequence",
    "StatementState",
    "TariffSource",
]
