"""Validation of service detail records (OCPI 2.2.1 CDRs): framework-free.

`schema.parse_sdr` checks the shape of one record; `rules.check_sdr` checks it against itself and
against what the hub knows (a `context.Context` the caller fetched for the whole batch) and rates it
with `settlement.rating`. Each problem is a `findings.Finding`; docs/sdrs.md lists every code.
"""

from __future__ import annotations

from .context import (
    AgreementInfo,
    AuthorizationInfo,
    ConnectorInfo,
    Context,
    EvseInfo,
    SessionInfo,
    StoredSdr,
    TariffInfo,
    Tolerances,
)
from .findings import CODES, ERROR, SEVERITY, WARNING, Finding, has_errors
from .reader import Money
from .rules import Verdict, check_sdr
from .schema import ParsedSdr, ParseResult, Period, content_hash, parse_sdr, read_sdr_id

__all__ = [
    "CODES",
    "ERROR",
    "SEVERITY",
    "WARNING",
    "AgreementInfo",
    "AuthorizationInfo",
    "ConnectorInfo",
    "Context",
    "EvseInfo",
    "Finding",
    "Money",
    "ParseResult",
    "ParsedSdr",
    "Period",
    "SessionInfo",
    "StoredSdr",
    "TariffInfo",
    "Tolerances",
    "Verdict",
    "check_sdr",
    "content_hash",
    "has_errors",
    "parse_sdr",
    "read_sdr_id",
]
