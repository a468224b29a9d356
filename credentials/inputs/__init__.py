"""What partners send about credentials, checked and normalised without Django."""

from __future__ import annotations

from .common import (
    CONTRACT_TYPES,
    DEFAULT_WHITELIST,
    STATES,
    TYPES,
    WHITELISTS,
    InputProblem,
    normalize_contract,
    normalize_fingerprint,
    normalize_username,
)
from .items import (
    CredentialItem,
    DriverData,
    IssueRequest,
    parse_credential_changes,
    parse_issue_request,
    parse_upload_item,
    upload_item_key,
)
from .presented import (
    AuthorizationRequest,
    Presented,
    parse_authorization_request,
    parse_presented,
    parse_stop_request,
)

__all__ = [
    "CONTRACT_TYPES",
    "DEFAULT_WHITELIST",
    "STATES",
    "TYPES",
    "WHITELISTS",
    "AuthorizationRequest",
    "CredentialItem",
    "DriverData",
    "InputProblem",
    "IssueRequest",
    "Presented",
    "normalize_contract",
    "normalize_fingerprint",
    "normalize_username",
    "parse_authorization_request",
    "parse_credential_changes",
    "parse_issue_request",
    "parse_presented",
    "parse_stop_request",
    "parse_upload_item",
    "upload_item_key",
]
