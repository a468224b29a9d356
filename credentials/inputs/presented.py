"""A credential presented at a station, and the authorization and stop requests that carry it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearinghouse.lib.identifiers import IdentifierError, mask, normalize_rfid_uid, parse_contract_id

from .common import (
    TYPES,
    InputProblem,
    identifier_problem,
    normalize_fingerprint,
    normalize_username,
    read_choice,
    read_object,
    read_secret,
    read_text,
)


@dataclass(frozen=True)
class Presented:
    """A credential as a CSO presents it. `lookup_value` is what the keyed hash covers (UID,
    username or contract ID); for a dynamic QR code it is the code, which names the credential."""

    type: str
    lookup_value: str
    hint: str
    contract_id: str = ""
    pin: str | None = None
    password: str | None = None
    certificate_fingerprint: str | None = None

    def for_csp(self, *, with_pin: bool) -> dict[str, Any]:
        """What a CSP is told of the credential when the hub asks it (docs/partner-endpoints.md).
        A PIN goes only to the one CSP the contract ID names, never to a broadcast."""
        data: dict[str, Any] = {"type": self.type, "value": self.lookup_value}
        if self.contract_id:
            data["contract_id"] = self.contract_id
        if with_pin and self.pin is not None:
            data["pin"] = self.pin
        if self.certificate_fingerprint is not None:
            data["certificate_fingerprint"] = self.certificate_fingerprint
        return data


_PRESENTED_FIELDS = {"type", "value", "pin", "password", "certificate_fingerprint"}


def parse_presented(data: Any) -> Presented:
    """Check and normalise `credential` of an authorization request."""
    data = read_object(data, "credential", _PRESENTED_FIELDS)
    kind = read_choice(data, "type", TYPES)
    value = data.get("value")
    if value is None:
        raise InputProblem("missing_value", "credential.value is required", "value")
    pin = read_secret(data, "pin", 64)
    password = read_secret(data, "password", 256)
    fingerprint = data.get("certificate_fingerprint")
    fingerprint = normalize_fingerprint(fingerprint) if fingerprint is not None else None
    try:
        if kind == "RFID":
            uid = normalize_rfid_uid(value)
            return Presented(
                kind, uid, mask(uid), pin=pin, password=password, certificate_fingerprint=fingerprint
            )
        if kind == "APP_USER":
            username = normalize_username(value)
            return Presented(
                kind,
                username,
                mask(username),
                pin=pin,
                password=password,
                certificate_fingerprint=fingerprint,
            )
        if kind == "QR_DYNAMIC":
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise InputProblem("invalid_value", "a QR_DYNAMIC value is the code as scanned", "value")
            return Presented(kind, value.strip(), mask(value.strip()))
        contract = parse_contract_id(value).normalized()
    except IdentifierError as exc:
        raise identifier_problem(exc, "value") from None
    return Presented(
        kind,
        contract,
        mask(contract),
        contract,
        pin=pin,
        password=password,
        certificate_fingerprint=fingerprint,
    )


@dataclass(frozen=True)
class AuthorizationRequest:
    evse_id: str
    credential: Presented
    cso_session_id: str


def parse_authorization_request(data: Any) -> AuthorizationRequest:
    """`{evse_id, credential: {...}, cso_session_id?}`; the EVSE ID itself is the service's to judge
    (rule 1 answers 422)."""
    data = read_object(data, "the request", {"evse_id", "credential", "cso_session_id"})
    evse_id = data.get("evse_id")
    if not isinstance(evse_id, str) or not evse_id.strip():
        raise InputProblem("missing_evse_id", "evse_id is required", "evse_id")
    if "credential" not in data:
        raise InputProblem("missing_credential", "credential is required", "credential")
    return AuthorizationRequest(
        evse_id=evse_id[:100],
        credential=parse_presented(data["credential"]),
        cso_session_id=read_text(data, "cso_session_id"),
    )


def parse_stop_request(data: Any) -> Presented:
    """`{credential: {...}}` of a stop."""
    data = read_object(data, "the request", {"credential"})
    if "credential" not in data:
        raise InputProblem("missing_credential", "credential is required", "credential")
    return parse_presented(data["credential"])
