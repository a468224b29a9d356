"""A CSP's command, the CSO's answer to its delivery, and the CSO's outcome, checked for form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearinghouse.lib.identifiers import IdentifierError, parse_operator_id

from .common import InputProblem, choice_of, contract_of, evse_of, object_of, text_of, when_of

COMMAND_TYPES = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR")
# The CSO's answer to the delivery of a command (OCPI CommandResponseType).
RESPONSES = ("ACCEPTED", "REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION")
# The CSO's final outcome (OCPI CommandResultType).
RESULTS = (
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
)


@dataclass(frozen=True)
class CommandRequest:
    """A CSP's command, checked for form. Which fields are set depends on the type."""

    type: str
    evse_id: str = ""
    connector_id: str = ""
    contract_id: str = ""
    csp_reference: str = ""
    session_id: str = ""
    operator_id: str = ""
    reservation_id: str = ""
    expiry_date: datetime | None = None


def parse_command(data: Any) -> CommandRequest:
    """`{"type": ..., fields of that type}` (docs/sessions.md lists them)."""
    body = object_of(data, "the command")
    kind = choice_of(body, "type", COMMAND_TYPES, required=True)
    if kind == "START_SESSION":
        return CommandRequest(
            type=kind,
            evse_id=evse_of(text_of(body, "evse_id", max_length=48, required=True)),
            connector_id=text_of(body, "connector_id"),
            contract_id=contract_of(
                text_of(body, "contract_id", max_length=24, required=True), "contract_id"
            ),
            csp_reference=text_of(body, "authorization_reference"),
        )
    if kind == "STOP_SESSION":
        operator = text_of(body, "operator_id", max_length=8)
        return CommandRequest(
            type=kind,
            session_id=text_of(body, "session_id", required=True),
            operator_id=_operator(operator) if operator else "",
        )
    if kind == "RESERVE_NOW":
        return CommandRequest(
            type=kind,
            evse_id=evse_of(text_of(body, "evse_id", max_length=48, required=True)),
            connector_id=text_of(body, "connector_id"),
            contract_id=contract_of(
                text_of(body, "contract_id", max_length=24, required=True), "contract_id"
            ),
            reservation_id=text_of(body, "reservation_id", required=True),
            # The I3 form names it `expiry`, OCPI's ReserveNow `expiry_date`: either is read.
            expiry_date=when_of(
                body, "expiry_date" if body.get("expiry_date") is not None else "expiry", required=True
            ),
            csp_reference=text_of(body, "authorization_reference"),
        )
    if kind == "CANCEL_RESERVATION":
        return CommandRequest(type=kind, reservation_id=text_of(body, "reservation_id", required=True))
    return CommandRequest(
        type=kind,
        evse_id=evse_of(text_of(body, "evse_id", max_length=48, required=True)),
        connector_id=text_of(body, "connector_id", required=True),
    )


def _operator(value: str) -> str:
    try:
        country, party = parse_operator_id(value)
    except IdentifierError as exc:
        raise InputProblem(exc.code, exc.message, "operator_id") from None
    return f"{country}*{party}"


@dataclass(frozen=True)
class CsoResponse:
    """The CSO's answer to a command's delivery; `result` is "" when the answer was unusable."""

    result: str
    timeout: int | None
    message: str


def read_cso_response(body: Any) -> CsoResponse:
    """Read `{"result", "timeout"?, "message"?}` from a delivery's answer (an OCPI envelope with the
    same object under "data" is read too). Never raises: an unusable answer has result ""."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "result" not in body:
        body = body["data"]
    if not isinstance(body, dict) or body.get("result") not in RESPONSES:
        return CsoResponse(result="", timeout=None, message="")
    timeout = body.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        timeout = None
    return CsoResponse(result=body["result"], timeout=timeout, message=_display_text(body.get("message")))


def _display_text(value: Any) -> str:
    """OCPI sends messages as a list of DisplayText ({language, text}); a plain string is read too."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0].get("text")
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:255]


@dataclass(frozen=True)
class CommandOutcome:
    result: str
    message: str


def parse_command_result(data: Any) -> CommandOutcome:
    """`{"result": ..., "message"?: ...}` posted by the CSO."""
    body = object_of(data, "the result")
    result = choice_of(body, "result", RESULTS, required=True)
    message = body.get("message")
    if message is not None and not isinstance(message, (str, list)):
        raise InputProblem("invalid_field", "message must be text", "message")
    return CommandOutcome(result=result, message=_display_text(message))
