"""What sessions and commands need to know from the credentials and locations apps.

Every read or write of those two apps goes through this module, as small typed functions, so the
rest of this app depends on these signatures only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clearinghouse.errors import ConflictError, NotFoundError
from credentials import selectors as credential_selectors
from credentials import services as credential_services
from locations import selectors as location_selectors
from locations.selectors.common import Viewer
from locations.selectors.locations import evse_in, location_get


@dataclass(frozen=True)
class EvseInfo:
    """A published EVSE, as sessions and commands see it."""

    cso_id: int
    evse_id: str  # canonical EVSE ID
    location_id: str
    evse_uid: str
    connectors: tuple[str, ...]  # connector ids
    time_zone: str  # IANA name of the location's time zone


@dataclass(frozen=True)
class AuthorizationInfo:
    """A start authorization as a session quoting its reference needs it."""

    reference: str
    cso_id: int
    csp_id: int | None
    contract_id: str
    evse_id: str
    status: str
    valid_until: datetime | None
    remote_start: bool  # given by a CSP with START_SESSION or RESERVE_NOW


# The reason the credentials app records for an authorization given by a remote start.
_REMOTE_START = "REMOTE_START"


def _evse_info(evse: location_selectors.EvseInfo) -> EvseInfo:
    return EvseInfo(
        cso_id=evse.cso_id,
        evse_id=evse.evse_id,
        location_id=evse.location_id,
        evse_uid=evse.uid,
        connectors=tuple(c.connector_id for c in evse.connectors),
        time_zone=location_selectors.location_time_zone(evse),
    )


def _evse_id_at(*, cso_id: int, location_id: str, evse_uid: str) -> str:
    """The EVSE ID of the EVSE with OCPI's (location_id, evse_uid) among the CSO's own locations."""
    viewer = Viewer(partner_id=cso_id, is_cso=True, is_csp=False)
    try:
        location = location_get(viewer=viewer, location_id=location_id)
        evse = evse_in(location.document, evse_uid)
    except (NotFoundError, ConflictError):
        return ""
    return evse.get("evse_id") or ""


def evse_for_cso(
    *, cso_id: int, evse_id: str = "", location_id: str = "", evse_uid: str = ""
) -> EvseInfo | None:
    """The CSO's EVSE named by its EVSE ID, else by OCPI's (location_id, evse_uid); None when the
    CSO has published no such EVSE."""
    if not evse_id and location_id and evse_uid:
        evse_id = _evse_id_at(cso_id=cso_id, location_id=location_id, evse_uid=evse_uid)
    if not evse_id:
        return None
    evse = location_selectors.evse_get_for_cso(cso_id=cso_id, evse_id=evse_id)
    return _evse_info(evse) if evse is not None else None


def contract_owner(*, contract_id: str) -> int | None:
    """The CSP that owns a contract (normalised contract ID), as the credentials app knows it."""
    owner = credential_selectors.credential_owner(contract_id=contract_id)
    return owner.csp_id if owner is not None else None


def credential_whitelist_allows(*, cso_id: int, contract_id: str) -> bool:
    """True when a valid credential of the contract may be authorized from the CSO's whitelist
    (policy other than NEVER) and its CSP has an agreement in force with the CSO."""
    return (
        credential_selectors.credentials_for_whitelist(cso_id=cso_id).filter(contract_id=contract_id).exists()
    )


def authorization_for_remote_start(
    *,
    cso_id: int,
    csp_id: int,
    evse_id: str,
    contract_id: str,
    valid_minutes: int | None = None,
    cso_operator_id: str | None = None,
) -> str:
    """Record the authorization a CSP gives with START_SESSION or RESERVE_NOW; its reference."""
    record = credential_services.authorization_create_for_remote_start(
        cso_id=cso_id,
        csp_id=csp_id,
        evse_id=evse_id,
        contract_id=contract_id,
        valid_minutes=valid_minutes,
        cso_operator_id=cso_operator_id,
    )
    return record.authorization_reference


def authorization_by_reference(*, cso_id: int, reference: str) -> AuthorizationInfo | None:
    """The CSO's start authorization with this reference (any status), or None."""
    record = credential_selectors.authorization_by_reference(cso_id=cso_id, reference=reference)
    if record is None:
        return None
    return AuthorizationInfo(
        reference=record.authorization_reference,
        cso_id=record.cso_id,
        csp_id=record.csp_id,
        contract_id=record.contract_id,
        evse_id=record.evse_id,
        status=record.status,
        valid_until=record.valid_until,
        remote_start=record.reason == _REMOTE_START,
    )
