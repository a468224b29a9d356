"""Findings: what the hub's validation says about an SDR, each with a code, a severity and a message.

An error rejects the SDR (it is stored as REJECTED and the CSO gets 422 for that item); a warning
keeps it and is shown to both sides. The codes are stable strings: partners may branch on them,
and docs/sdrs.md lists each one with its rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from settlement.rating.values import fast_init

ERROR = "error"
WARNING = "warning"

# --- Shape of the record (OCPI 2.2.1 CDR) -----------------------------------------------------------
MISSING_FIELD = "MISSING_FIELD"
INVALID_TYPE = "INVALID_TYPE"
INVALID_VALUE = "INVALID_VALUE"
INVALID_ENUM = "INVALID_ENUM"
INVALID_DATETIME = "INVALID_DATETIME"
INVALID_NUMBER = "INVALID_NUMBER"
INVALID_CURRENCY = "INVALID_CURRENCY"
INVALID_EVSE_ID = "INVALID_EVSE_ID"
INVALID_CONTRACT_ID = "INVALID_CONTRACT_ID"

# --- Consistency of the record with itself ----------------------------------------------------------
PARTY_MISMATCH = "PARTY_MISMATCH"
END_BEFORE_START = "END_BEFORE_START"
TOTAL_TIME_MISMATCH = "TOTAL_TIME_MISMATCH"
PARKING_TIME_EXCEEDS_TOTAL = "PARKING_TIME_EXCEEDS_TOTAL"
NEGATIVE_ENERGY = "NEGATIVE_ENERGY"
NEGATIVE_VOLUME = "NEGATIVE_VOLUME"
PERIODS_NOT_ORDERED = "PERIODS_NOT_ORDERED"
PERIOD_OUTSIDE_SESSION = "PERIOD_OUTSIDE_SESSION"
NEGATIVE_COST = "NEGATIVE_COST"
CREDIT_REFERENCE_MISSING = "CREDIT_REFERENCE_MISSING"
CREDIT_FLAG_MISSING = "CREDIT_FLAG_MISSING"
PERIOD_ENERGY_MISMATCH = "PERIOD_ENERGY_MISMATCH"

# --- Consistency with what the hub knows --------------------------------------------------------------
EVSE_NOT_OWNED = "EVSE_NOT_OWNED"
CONNECTOR_UNKNOWN = "CONNECTOR_UNKNOWN"
SESSION_MISMATCH = "SESSION_MISMATCH"
ENERGY_EXCEEDS_CAPACITY = "ENERGY_EXCEEDS_CAPACITY"
CONTRACT_UNKNOWN = "CONTRACT_UNKNOWN"
NO_AGREEMENT = "NO_AGREEMENT"
AUTHORIZATION_UNKNOWN = "AUTHORIZATION_UNKNOWN"
AUTHORIZATION_MISMATCH = "AUTHORIZATION_MISMATCH"
AUTHORIZATION_NOT_ACCEPTED = "AUTHORIZATION_NOT_ACCEPTED"
CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
CREDIT_ORIGINAL_UNKNOWN = "CREDIT_ORIGINAL_UNKNOWN"
CREDIT_ORIGINAL_MISMATCH = "CREDIT_ORIGINAL_MISMATCH"
CREDIT_TOTALS_NOT_NEGATED = "CREDIT_TOTALS_NOT_NEGATED"
CREDIT_ALREADY_CREDITED = "CREDIT_ALREADY_CREDITED"

# --- Rating -----------------------------------------------------------------------------------------
COST_MISMATCH = "COST_MISMATCH"
NOT_RATED = "NOT_RATED"

SEVERITY: dict[str, str] = {
    MISSING_FIELD: ERROR,
    INVALID_TYPE: ERROR,
    INVALID_VALUE: ERROR,
    INVALID_ENUM: ERROR,
    INVALID_DATETIME: ERROR,
    INVALID_NUMBER: ERROR,
    INVALID_CURRENCY: ERROR,
    INVALID_EVSE_ID: ERROR,
    INVALID_CONTRACT_ID: ERROR,
    PARTY_MISMATCH: ERROR,
    END_BEFORE_START: ERROR,
    TOTAL_TIME_MISMATCH: ERROR,
    PARKING_TIME_EXCEEDS_TOTAL: ERROR,
    NEGATIVE_ENERGY: ERROR,
    NEGATIVE_VOLUME: ERROR,
    PERIODS_NOT_ORDERED: ERROR,
    PERIOD_OUTSIDE_SESSION: ERROR,
    NEGATIVE_COST: ERROR,
    CREDIT_REFERENCE_MISSING: ERROR,
    CREDIT_FLAG_MISSING: ERROR,
    PERIOD_ENERGY_MISMATCH: WARNING,
    EVSE_NOT_OWNED: ERROR,
    CONNECTOR_UNKNOWN: ERROR,
    SESSION_MISMATCH: ERROR,
    ENERGY_EXCEEDS_CAPACITY: ERROR,
    CONTRACT_UNKNOWN: ERROR,
    NO_AGREEMENT: ERROR,
    AUTHORIZATION_UNKNOWN: ERROR,
    AUTHORIZATION_MISMATCH: ERROR,
    AUTHORIZATION_NOT_ACCEPTED: WARNING,
    CURRENCY_MISMATCH: ERROR,
    CREDIT_ORIGINAL_UNKNOWN: ERROR,
    CREDIT_ORIGINAL_MISMATCH: ERROR,
    CREDIT_TOTALS_NOT_NEGATED: ERROR,
    CREDIT_ALREADY_CREDITED: ERROR,
    COST_MISMATCH: WARNING,
    NOT_RATED: WARNING,
}

CODES: tuple[str, ...] = tuple(SEVERITY)


@fast_init
@dataclass(frozen=True)
class Finding:
    """One finding. `field` names where it applies (`cdr_location.evse_id`, `charging_periods[1]`)."""

    code: str
    message: str
    field: str = ""

    @property
    def severity(self) -> str:
        return SEVERITY[self.code]

    @property
    def is_error(self) -> bool:
        return SEVERITY[self.code] == ERROR

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "field": self.field}


def has_errors(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)
