"""The answer to an authorization request, as the CSO reads it in the API and in deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .decision import Status, rfc3339


@dataclass(frozen=True)
class AuthorizationOutcome:
    """One recorded decision (or a question still PENDING)."""

    authorization_id: int
    kind: str
    status: str
    reason: str
    contract_id: str
    csp: str  # the CSP's provider ID, "" when no CSP is known
    decided_by: str
    authorization_reference: str
    valid_until: datetime | None
    evse_id: str
    cso_session_id: str

    @property
    def pending(self) -> bool:
        return self.status == Status.PENDING

    def to_json(self) -> dict[str, Any]:
        """The wire form. The reference is shown only for an accepted start: it is what sessions and
        SDRs quote, and nothing else may be quoted."""
        accepted = self.status == Status.ACCEPTED
        return {
            "authorization_id": self.authorization_id,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason or None,
            "contract_id": self.contract_id or None,
            "csp": self.csp or None,
            "decided_by": self.decided_by or None,
            "authorization_reference": self.authorization_reference
            if accepted and self.kind == "START"
            else None,
            "valid_until": rfc3339(self.valid_until) if accepted else None,
            "evse_id": self.evse_id,
            "cso_session_id": self.cso_session_id or None,
        }
