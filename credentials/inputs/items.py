"""Credentials as a CSP uploads them, asks the hub to issue them, or changes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clearinghouse.lib.identifiers import IdentifierError, mask, normalize_rfid_uid, parse_contract_id

from .common import (
    DEFAULT_WHITELIST,
    EMAIL_RE,
    PHONE_RE,
    PIN_RE,
    STATES,
    TYPES,
    WHITELISTS,
    InputProblem,
    identifier_problem,
    normalize_contract,
    normalize_fingerprint,
    normalize_username,
    read_choice,
    read_object,
    read_text,
    read_when,
)


@dataclass(frozen=True)
class DriverData:
    name: str
    email: str
    phone: str


def _driver(data: dict[str, Any]) -> DriverData | None:
    raw = data.get("driver")
    if raw is None:
        return None
    raw = read_object(raw, "driver", {"name", "email", "phone"})
    name = read_text(raw, "name", max_length=200)
    email = read_text(raw, "email", max_length=254)
    phone = read_text(raw, "phone", max_length=32)
    if email and not EMAIL_RE.fullmatch(email):
        raise InputProblem("invalid_email", "driver.email is not an e-mail address", "driver.email")
    if phone and not PHONE_RE.fullmatch(phone):
        raise InputProblem("invalid_phone", "driver.phone is not a phone number", "driver.phone")
    return DriverData(name=name, email=email, phone=phone)


def _validity(data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    valid_from = read_when(data, "valid_from")
    valid_until = read_when(data, "valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise InputProblem("invalid_validity", "valid_until must be after valid_from", "valid_until")
    return valid_from, valid_until


def _pin(data: dict[str, Any], kind: str) -> str | None:
    pin = data.get("pin")
    if pin is None:
        return None
    if kind != "QR_STATIC":
        raise InputProblem("not_applicable", "pin applies to QR_STATIC credentials only", "pin")
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise InputProblem("invalid_pin", "pin must be 4 to 12 digits", "pin")
    return pin


def _password(data: dict[str, Any], kind: str, *, required: bool) -> str | None:
    password = data.get("password")
    if password is None:
        if required and kind == "APP_USER":
            raise InputProblem("missing_password", "an APP_USER credential needs a password", "password")
        return None
    if kind != "APP_USER":
        raise InputProblem("not_applicable", "password applies to APP_USER credentials only", "password")
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise InputProblem("invalid_password", "password must be 8 to 128 characters", "password")
    return password


def _fingerprint(data: dict[str, Any], kind: str) -> str:
    raw = data.get("certificate_fingerprint")
    if raw is None:
        if kind == "PNC":
            raise InputProblem(
                "missing_fingerprint",
                "a PNC credential needs certificate_fingerprint",
                "certificate_fingerprint",
            )
        return ""
    if kind != "PNC":
        raise InputProblem(
            "not_applicable",
            "certificate_fingerprint applies to PNC credentials only",
            "certificate_fingerprint",
        )
    return normalize_fingerprint(raw)


@dataclass(frozen=True)
class CredentialItem:
    """One credential as a CSP uploads it (or asks the hub to issue it), checked and normalised."""

    type: str
    lookup_value: str
    hint: str
    contract_id: str
    status: str
    whitelist: str
    valid_from: datetime | None
    valid_until: datetime | None
    visual_number: str
    group_id: str
    pin: str | None
    password: str | None
    certificate_fingerprint: str
    driver: DriverData | None = field(default=None)


_UPLOAD_FIELDS = {
    "type", "value", "contract_id", "status", "whitelist", "valid_from", "valid_until", "visual_number",
    "group_id", "pin", "password", "certificate_fingerprint", "driver",
}  # fmt: skip


def _value_for(kind: str, value: Any, contract_id: str) -> str:
    """The lookup value of an uploaded credential."""
    try:
        if kind == "RFID":
            if value is None:
                raise InputProblem("missing_value", "an RFID credential needs its UID as value", "value")
            return normalize_rfid_uid(value)
        if kind == "APP_USER":
            if value is None:
                raise InputProblem(
                    "missing_value", "an APP_USER credential needs its username as value", "value"
                )
            return normalize_username(value)
    except IdentifierError as exc:
        raise identifier_problem(exc, "value") from None
    # The value of the contract types is the contract ID; given, it must be that one.
    if value is not None and normalize_contract(value, "value") != contract_id:
        raise InputProblem("value_mismatch", f"a {kind} value is the contract ID itself", "value")
    return contract_id


def parse_upload_item(data: Any, *, provider_id: str) -> CredentialItem:
    """One item of `POST /credentials/`; its contract ID must carry the uploading CSP's provider ID."""
    data = read_object(data, "an item", _UPLOAD_FIELDS)
    kind = read_choice(data, "type", TYPES)
    if data.get("contract_id") is None:
        raise InputProblem("missing_contract_id", "contract_id is required", "contract_id")
    try:
        parsed = parse_contract_id(data["contract_id"])
    except IdentifierError as exc:
        raise identifier_problem(exc, "contract_id") from None
    if parsed.provider_id != provider_id:
        raise InputProblem(
            "contract_not_yours", "the contract ID must carry your own provider ID", "contract_id"
        )
    contract_id = parsed.normalized()
    lookup_value = _value_for(kind, data.get("value"), contract_id)
    valid_from, valid_until = _validity(data)
    return CredentialItem(
        type=kind,
        lookup_value=lookup_value,
        hint=mask(lookup_value),
        contract_id=contract_id,
        status=read_choice(data, "status", STATES, "VALID"),
        whitelist=read_choice(data, "whitelist", WHITELISTS, DEFAULT_WHITELIST),
        valid_from=valid_from,
        valid_until=valid_until,
        visual_number=read_text(data, "visual_number"),
        group_id=read_text(data, "group_id"),
        pin=_pin(data, kind),
        password=_password(data, kind, required=True),
        certificate_fingerprint=_fingerprint(data, kind),
        driver=_driver(data),
    )


@dataclass(frozen=True)
class IssueRequest:
    """`POST /credentials/issue`: what the CSP asks the hub to issue. Missing secrets (an app
    password, a PIN asked for with generate_pin) the hub generates and shows once."""

    type: str
    contract_id: str  # an existing hub contract of this CSP, or "" for a new one
    value: str  # RFID UID or username; "" for the hub to choose (username) or for contract types
    whitelist: str
    valid_from: datetime | None
    valid_until: datetime | None
    visual_number: str
    group_id: str
    pin: str | None
    generate_pin: bool
    password: str | None
    certificate_fingerprint: str
    driver: DriverData | None


_ISSUE_FIELDS = {
    "type", "contract_id", "value", "whitelist", "valid_from", "valid_until", "visual_number", "group_id",
    "pin", "generate_pin", "password", "certificate_fingerprint", "driver",
}  # fmt: skip


def parse_issue_request(data: Any) -> IssueRequest:
    data = read_object(data, "the request", _ISSUE_FIELDS)
    kind = read_choice(data, "type", TYPES)
    contract_id = normalize_contract(data["contract_id"]) if data.get("contract_id") is not None else ""
    raw_value = data.get("value")
    value = ""
    try:
        if kind == "RFID":
            if raw_value is None:
                raise InputProblem(
                    "missing_value", "an RFID credential needs the card's UID as value", "value"
                )
            value = normalize_rfid_uid(raw_value)
        elif kind == "APP_USER":
            value = normalize_username(raw_value) if raw_value is not None else ""
        elif raw_value is not None:
            raise InputProblem("not_applicable", f"the hub makes the value of a {kind} credential", "value")
    except IdentifierError as exc:
        raise identifier_problem(exc, "value") from None
    generate_pin = data.get("generate_pin", False)
    if not isinstance(generate_pin, bool):
        raise InputProblem("invalid_field", "generate_pin must be true or false", "generate_pin")
    if generate_pin and kind != "QR_STATIC":
        raise InputProblem(
            "not_applicable", "generate_pin applies to QR_STATIC credentials only", "generate_pin"
        )
    pin = _pin(data, kind)
    if pin is not None and generate_pin:
        raise InputProblem("invalid_field", "give a pin or ask for one with generate_pin, not both", "pin")
    valid_from, valid_until = _validity(data)
    return IssueRequest(
        type=kind,
        contract_id=contract_id,
        value=value,
        whitelist=read_choice(data, "whitelist", WHITELISTS, DEFAULT_WHITELIST),
        valid_from=valid_from,
        valid_until=valid_until,
        visual_number=read_text(data, "visual_number"),
        group_id=read_text(data, "group_id"),
        pin=pin,
        generate_pin=generate_pin,
        password=_password(data, kind, required=False),
        certificate_fingerprint=_fingerprint(data, kind),
        driver=_driver(data),
    )


_CHANGE_FIELDS = {"status", "whitelist", "valid_from", "valid_until", "visual_number", "group_id"}


def parse_credential_changes(data: Any) -> dict[str, Any]:
    """`PATCH /credentials/{id}`: block or unblock (status), validity, whitelist, labels."""
    data = read_object(data, "the request", _CHANGE_FIELDS)
    if not data:
        raise InputProblem("empty_change", f"give at least one of {', '.join(sorted(_CHANGE_FIELDS))}")
    changes: dict[str, Any] = {}
    if "status" in data:
        changes["status"] = read_choice(data, "status", STATES)
    if "whitelist" in data:
        changes["whitelist"] = read_choice(data, "whitelist", WHITELISTS)
    for key in ("valid_from", "valid_until"):
        if key in data:
            changes[key] = read_when(data, key)
    for key in ("visual_number", "group_id"):
        if key in data:
            changes[key] = read_text(data, key)
    return changes


def upload_item_key(data: Any, *, provider_id: str) -> tuple[str, str] | None:
    """The (type, lookup value) an item names, when those parts are readable even though others
    are not: mode=full keeps the credential a faulty item names instead of removing it."""
    if not isinstance(data, dict) or data.get("type") not in TYPES:
        return None
    try:
        parsed = parse_contract_id(data.get("contract_id"))  # type: ignore[arg-type]
        if parsed.provider_id != provider_id:
            return None
        return str(data["type"]), _value_for(data["type"], data.get("value"), parsed.normalized())
    except (InputProblem, IdentifierError):
        return None
