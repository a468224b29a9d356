"""What the steps of the day share: the partners, their networks, the drivers' tokens, the sessions."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .hub import Partner
from .ocpi import ChargeFacts, Network
from .partners import ChargePoint, CspDrivers
from .report import Reporter

ALPHANUMERIC = string.ascii_uppercase + string.digits


def random_text(length: int, alphabet: str = ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_rfid() -> str:
    """A fresh 7-byte card UID (a value names one credential hub-wide, so every run needs new cards)."""
    return "04" + secrets.token_hex(6).upper()


@dataclass
class Token:
    """A driver's credential as the demo knows it (values the hub shows once are kept here)."""

    label: str
    csp: str  # partner key
    type: str
    value: str
    contract_id: str
    issuer: str  # HUB or CSP
    credential_id: int | None = None
    pin: str | None = None
    password: str | None = None
    fingerprint: str | None = None

    def presented(self, **overrides: Any) -> dict[str, Any]:
        """The credential as a CSO's charge point presents it in an authorization request."""
        credential: dict[str, Any] = {"type": self.type, "value": self.value}
        if self.pin is not None:
            credential["pin"] = self.pin
        if self.password is not None:
            credential["password"] = self.password
        if self.fingerprint is not None:
            credential["certificate_fingerprint"] = self.fingerprint
        credential.update(overrides)
        return credential


@dataclass
class Started:
    """An accepted start authorization a session will quote."""

    label: str
    cso: str
    csp: str
    evse_id: str
    contract_id: str
    reference: str
    token_type: str
    token_uid: str
    auth_method: str = "AUTH_REQUEST"


@dataclass
class Demo:
    """The shared state of one run."""

    hub_url: str
    out_dir: Path
    reporter: Reporter
    suffix: str
    day: date  # the business day of the sessions and SDRs (inside the period settled at the end)
    period: str  # the settlement period, YYYY-MM
    partners: dict[str, Partner] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    drivers: dict[str, CspDrivers] = field(default_factory=dict)
    charge_points: dict[str, ChargePoint] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    starts: dict[str, Started] = field(default_factory=dict)
    sessions: dict[str, ChargeFacts] = field(default_factory=dict)
    sdr_ids: dict[str, int] = field(default_factory=dict)  # CSO's sdr_id -> the hub's id
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)  # partner key -> statement
    reports: list[Path] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # names of steps that did not complete

    def partner(self, key: str) -> Partner:
        return self.partners[key]

    def at(self, hour: int, minute: int = 0) -> datetime:
        """A moment of the business day, UTC."""
        return datetime(self.day.year, self.day.month, self.day.day, hour, minute, tzinfo=UTC)

    def latency(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)


def settled_month(now: datetime, grace_days: int) -> tuple[str, date]:
    """The latest calendar month whose settlement grace has passed, and the business day the demo
    plays in it (the 15th): a run for a month is refused until its end plus the grace days."""
    first_of_this_month = datetime(now.year, now.month, 1, tzinfo=UTC)
    month_start = (first_of_this_month - timedelta(days=1)).replace(day=1)
    if now < first_of_this_month + timedelta(days=grace_days):
        month_start = (month_start - timedelta(days=1)).replace(day=1)
    return f"{month_start:%Y-%m}", month_start.date().replace(day=15)
