"""The authorization decision table, without Django: facts in, decision out.

docs/authorization.md is this module in prose, row for row; tests/credentials/test_decision.py has a
test per row. The services gather the facts (one SQL statement on the hub's own path) and record
what this module decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"
    NO_AGREEMENT = "NO_AGREEMENT"
    PENDING = "PENDING"


class DecidedBy(StrEnum):
    HUB = "HUB"
    CSP = "CSP"


class Whitelist(StrEnum):
    """OCPI's whitelist policies: how far a CSO (and the hub) may decide without asking the CSP."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class Reason(StrEnum):
    """Why the hub decided what it did (a CSP's own reason is passed on as it gives it)."""

    CREDENTIAL_BLOCKED = "CREDENTIAL_BLOCKED"
    CREDENTIAL_EXPIRED = "CREDENTIAL_EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    NO_AGREEMENT = "NO_AGREEMENT"
    INVALID_PIN = "INVALID_PIN"
    INVALID_PASSWORD = "INVALID_PASSWORD"
    INVALID_CERTIFICATE = "INVALID_CERTIFICATE"
    HUB_ISSUED = "HUB_ISSUED"
    WHITELIST_ALWAYS = "WHITELIST_ALWAYS"
    NO_REALTIME_ENDPOINT = "NO_REALTIME_ENDPOINT"
    CSP_TIMEOUT = "CSP_TIMEOUT"
    CSP_UNREACHABLE = "CSP_UNREACHABLE"
    CSP_ERROR = "CSP_ERROR"
    UNKNOWN_CREDENTIAL = "UNKNOWN_CREDENTIAL"
    NO_CSP_ACCEPTED = "NO_CSP_ACCEPTED"
    INVALID_CODE = "INVALID_CODE"
    CODE_EXPIRED = "CODE_EXPIRED"
    CODE_USED = "CODE_USED"
    REMOTE_START = "REMOTE_START"
    SAME_CREDENTIAL = "SAME_CREDENTIAL"
    SAME_CONTRACT = "SAME_CONTRACT"
    OTHER_CONTRACT = "OTHER_CONTRACT"


# What a CSP may answer to a real-time question (PENDING and NO_AGREEMENT are the hub's to say).
CSP_ANSWER_STATUSES = frozenset({"ACCEPTED", "REJECTED", "BLOCKED", "EXPIRED", "UNKNOWN"})
# Failures of a real-time question, from the most to the least telling.
FAILURES = (Reason.CSP_TIMEOUT, Reason.CSP_ERROR, Reason.CSP_UNREACHABLE)


@dataclass(frozen=True)
class Decision:
    """A decision, or PENDING with `route` set: the CSP(s) must be asked."""

    status: Status
    reason: str
    decided_by: DecidedBy | None

    @property
    def route(self) -> bool:
        return self.status is Status.PENDING


PENDING = Decision(Status.PENDING, "", None)


def _hub(status: Status, reason: str) -> Decision:
    return Decision(status, reason, DecidedBy.HUB)


@dataclass(frozen=True)
class KnownCredential:
    """The facts about a credential the hub holds, as one SQL statement reads them."""

    state: str  # VALID, BLOCKED or EXPIRED as stored
    valid_from: datetime | None
    valid_until: datetime | None
    hub_issued: bool
    whitelist: str
    agreement_active: bool  # CSO and owning CSP have an agreement in force now
    csp_realtime: bool  # the owning CSP has an active CSP endpoint


def decide_known(
    facts: KnownCredential, *, now: datetime, secret_failure: Callable[[], str | None]
) -> Decision:
    """Rule 3: a credential the hub knows. `secret_failure` checks PIN, password or certificate
    fingerprint and is called only when everything before it passed (a password hash is slow)."""
    if facts.state == "BLOCKED":
        return _hub(Status.BLOCKED, Reason.CREDENTIAL_BLOCKED)
    if facts.state == "EXPIRED" or (facts.valid_until is not None and facts.valid_until <= now):
        return _hub(Status.EXPIRED, Reason.CREDENTIAL_EXPIRED)
    if facts.valid_from is not None and facts.valid_from > now:
        return _hub(Status.REJECTED, Reason.NOT_YET_VALID)
    if not facts.agreement_active:
        return _hub(Status.NO_AGREEMENT, Reason.NO_AGREEMENT)
    failure = secret_failure()
    if failure:
        return _hub(Status.REJECTED, failure)
    if facts.hub_issued:
        return _hub(Status.ACCEPTED, Reason.HUB_ISSUED)
    if facts.whitelist == Whitelist.ALWAYS:
        return _hub(Status.ACCEPTED, Reason.WHITELIST_ALWAYS)
    if facts.csp_realtime:
        return PENDING
    return fallback(whitelist=facts.whitelist, failure=Reason.NO_REALTIME_ENDPOINT)


def fallback(*, whitelist: str | None, failure: str) -> Decision:
    """The hub's answer when the CSP cannot be asked or does not answer in time.

    A known credential follows its whitelist policy: ALLOWED and ALLOWED_OFFLINE may charge, NEVER
    may not. An unknown credential (no policy) stays UNKNOWN.
    """
    if whitelist in (Whitelist.ALWAYS, Whitelist.ALLOWED, Whitelist.ALLOWED_OFFLINE):
        return _hub(Status.ACCEPTED, failure)
    if whitelist == Whitelist.NEVER:
        return _hub(Status.REJECTED, failure)
    return _hub(Status.UNKNOWN, failure)


@dataclass(frozen=True)
class NamedCsp:
    """Rule 4, contract-ID credentials: what the hub knows of the CSP the contract ID names."""

    exists: bool  # an active partner with the CSP role holds that provider ID
    agreement_active: bool
    csp_realtime: bool


def decide_unknown_contract(csp: NamedCsp) -> Decision:
    """Rule 4: an unknown static QR, Plug & Charge or remote credential carries a contract ID that
    names its CSP: ask that CSP."""
    if not csp.exists:
        return _hub(Status.UNKNOWN, Reason.UNKNOWN_CREDENTIAL)
    if not csp.agreement_active:
        return _hub(Status.NO_AGREEMENT, Reason.NO_AGREEMENT)
    if csp.csp_realtime:
        return PENDING
    return _hub(Status.UNKNOWN, Reason.UNKNOWN_CREDENTIAL)


def decide_unknown_rfid(*, candidates: int) -> Decision:
    """Rule 4: an unknown RFID card is asked of every CSP in an agreement with the CSO that answers
    in real time; with none, it stays unknown."""
    return PENDING if candidates else _hub(Status.UNKNOWN, Reason.UNKNOWN_CREDENTIAL)


@dataclass(frozen=True)
class CspAnswer:
    """One CSP's answer to a real-time question, or why there was none (`failure`)."""

    csp_id: int
    status: str = ""
    reason: str = ""
    contract_id: str = ""
    valid_until: datetime | None = None
    failure: str = ""


@dataclass(frozen=True)
class RoutedDecision:
    decision: Decision
    answer: CspAnswer | None  # the answer decided on, when a CSP decided


def decide_routed(answers: Sequence[CspAnswer], *, whitelist: str | None, broadcast: bool) -> RoutedDecision:
    """Combine the answers to a routed question (in the order they arrived).

    One CSP asked: its answer decides; without one, the fallback of its whitelist policy.
    Broadcast (unknown RFID): the first ACCEPTED wins; no acceptance is UNKNOWN.
    """
    if broadcast:
        for answer in answers:
            if not answer.failure and answer.status == Status.ACCEPTED:
                return RoutedDecision(Decision(Status.ACCEPTED, answer.reason, DecidedBy.CSP), answer)
        if any(not answer.failure for answer in answers):
            return RoutedDecision(_hub(Status.UNKNOWN, Reason.NO_CSP_ACCEPTED), None)
        return RoutedDecision(fallback(whitelist=None, failure=_worst_failure(answers)), None)
    for answer in answers:
        if not answer.failure:
            return RoutedDecision(Decision(Status(answer.status), answer.reason, DecidedBy.CSP), answer)
    return RoutedDecision(fallback(whitelist=whitelist, failure=_worst_failure(answers)), None)


def _worst_failure(answers: Sequence[CspAnswer]) -> str:
    seen = {answer.failure for answer in answers}
    for failure in FAILURES:
        if failure in seen:
            return failure
    return Reason.CSP_TIMEOUT  # nobody answered before the deadline


def read_csp_answer(
    body: object, *, csp_id: int, authorization_id: int, provider_id: str, contract_id: str
) -> CspAnswer:
    """Check a CSP's JSON answer (docs/partner-endpoints.md); anything malformed is CSP_ERROR.

    The answer must echo the question's authorization_id; a contract ID it gives must carry the
    CSP's own provider ID and, when the question named one, be that one.
    """
    error = CspAnswer(csp_id=csp_id, failure=Reason.CSP_ERROR)
    if not isinstance(body, dict):
        return error
    if body.get("authorization_id") != authorization_id:
        return error
    status = body.get("status")
    if status not in CSP_ANSWER_STATUSES:
        return error
    answered_contract = body.get("contract_id")
    normalized = contract_id
    if answered_contract is not None:
        try:
            parsed = parse_contract_id(answered_contract)
        except IdentifierError:
            return error
        if parsed.provider_id != provider_id or (contract_id and parsed.normalized() != contract_id):
            return error
        normalized = parsed.normalized()
    if status == Status.ACCEPTED and not normalized:
        return error  # an acceptance must say whose contract it is
    valid_until = None
    if body.get("valid_until") is not None:
        try:
            valid_until = parse_rfc3339(body["valid_until"])
        except ValueError:
            return error
    reason = body.get("reason")
    reason_text = reason[:40] if isinstance(reason, str) else ""
    return CspAnswer(
        csp_id=csp_id, status=status, reason=reason_text, contract_id=normalized, valid_until=valid_until
    )


def parse_rfc3339(value: object) -> datetime:
    """An aware datetime from an RFC 3339 string ("Z" or an offset); ValueError otherwise."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise ValueError("not an RFC 3339 date-time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or "T" not in text.upper():
        raise ValueError("an RFC 3339 date-time with a time and a UTC offset is required")
    return parsed.astimezone(UTC)


def rfc3339(value: datetime | None) -> str | None:
    """UTC with microseconds and "Z", the API's one time format."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
