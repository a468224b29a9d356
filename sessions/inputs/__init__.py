"""What partners send about commands and sessions, checked and normalised without Django.

Every parser raises InputProblem (code, message, field) for input that cannot be used; the views
turn it into a 400 in the one error format. Business rules (does the EVSE exist, whose contract is
it) are the services' job: these functions only say whether the input is well formed.
"""

from __future__ import annotations

from .commands import (
    COMMAND_TYPES,
    RESPONSES,
    RESULTS,
    CommandOutcome,
    CommandRequest,
    CsoResponse,
    parse_command,
    parse_command_result,
    read_cso_response,
)
from .common import InputProblem, json_number, parse_rfc3339, rfc3339
from .sessions import (
    AUTH_METHODS,
    DIMENSION_TYPES,
    MAX_CHARGING_PERIODS,
    SESSION_STATUSES,
    TOKEN_TYPES,
    SessionFields,
    Token,
    parse_session,
)

__all__ = [
    "AUTH_METHODS",
    "COMMAND_TYPES",
    "DIMENSION_TYPES",
    "MAX_CHARGING_PERIODS",
    "RESPONSES",
    "RESULTS",
    "SESSION_STATUSES",
    "TOKEN_TYPES",
    "CommandOutcome",
    "CommandRequest",
    "CsoResponse",
    "InputProblem",
    "SessionFields",
    "Token",
    "json_number",
    "parse_command",
    "parse_command_result",
    "parse_rfc3339",
    "parse_session",
    "read_cso_response",
    "rfc3339",
]
