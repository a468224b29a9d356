"""What the hub knows when it checks a batch of SDRs, as plain values.

The service fetches all of it for a whole batch in a few set-based queries (see settlement/lookups.py)
and hands it to the rules here, which therefore never touch the database and can be tested with
hand-made values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from settlement.rating.values import fast_init


@fast_init
@dataclass(frozen=True)
class ConnectorInfo:
    connector_id: str
    max_power_kw: Decimal | None  # None when the CSO published neither power nor volts and amperes
    tariff_ids: tuple[str, ...]


@fast_init
@dataclass(frozen=True)
class EvseInfo:
    """One EVSE the CSO published: its location's time zone and its connectors."""

    evse_id: str
    time_zone: str
    connectors: Mapping[str, ConnectorInfo]


@fast_init
@dataclass(frozen=True)
class AgreementInfo:
    csp_id: int
    valid_from: datetime
    valid_until: datetime | None
    pinned_tariff_id: str

    def covers(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)


@fast_init
@dataclass(frozen=True)
class AuthorizationInfo:
    """A start authorization the hub recorded for the CSO, under its reference."""

    reference: str
    csp_id: int | None
    contract_id: str
    status: str


@fast_init
@dataclass(frozen=True)
class SessionInfo:
    """A charging session the CSO reported to the hub, as far as its SDR must agree with it."""

    session_id: str
    contract_id: str
    evse_id: str


@fast_init
@dataclass(frozen=True)
class TariffInfo:
    """A published tariff: its OCPI document and the CSPs it is meant for (empty: every CSP)."""

    tariff_id: str
    currency: str
    document: Mapping[str, Any]
    target_csp_ids: frozenset[int] = frozenset()

    def applies_to(self, csp_id: int) -> bool:
        return not self.target_csp_ids or csp_id in self.target_csp_ids


@fast_init
@dataclass(frozen=True)
class StoredSdr:
    """An SDR already stored for the CSO (not a rejected one): what a repeat or a credit is checked
    against."""

    pk: int
    sdr_id: str
    state: str
    credit: bool
    credited: bool
    content_hash: str
    csp_id: int | None
    contract_id: str
    evse_id: str
    currency: str
    total_cost_excl_vat: Decimal | None
    total_cost_incl_vat: Decimal | None
    hub_cost_excl_vat: Decimal | None
    hub_cost_incl_vat: Decimal | None


@dataclass(frozen=True)
class Tolerances:
    """The plausibility margins (settings SDR_TOTAL_TIME_TOLERANCE_SECONDS, SDR_COST_TOLERANCE,
    SDR_ENERGY_CAPACITY_TOLERANCE)."""

    total_time_seconds: int = 120
    cost: Decimal = Decimal("0.05")
    energy_capacity: Decimal = Decimal("0.02")


@dataclass(frozen=True)
class Context:
    """Everything the rules may consult for a batch of one CSO's SDRs."""

    cso_country_code: str
    cso_party_id: str
    evses: Mapping[str, EvseInfo] = field(default_factory=dict)
    owners: Mapping[str, int] = field(default_factory=dict)  # normalised contract ID -> CSP
    agreements: Mapping[int, Sequence[AgreementInfo]] = field(default_factory=dict)  # by CSP
    authorizations: Mapping[str, AuthorizationInfo] = field(default_factory=dict)
    sessions: Mapping[str, SessionInfo] = field(default_factory=dict)  # by the CSO's session id
    tariffs: Mapping[str, TariffInfo] = field(default_factory=dict)  # by tariff id
    stored: Mapping[str, StoredSdr] = field(default_factory=dict)  # by SDR id
    tolerances: Tolerances = field(default_factory=Tolerances)
    # The batch's published tariffs as the rating engine parsed them (settlement.rating.rate_cdr).
    parsed_tariffs: dict[tuple[int, int], Any] = field(default_factory=dict)
