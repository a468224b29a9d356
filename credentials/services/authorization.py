"""The authorization decision: answered from the hub's data at once, or routed to the CSP(s).

The hub's own path reads every fact the decision table needs (the credential, whether an agreement
is in force, whether its CSP answers in real time) in one SQL statement; on PostgreSQL the same
statement also records a credential the hub accepts at once, otherwise one INSERT records the
decision. A question for a CSP is recorded PENDING and asked by a Celery task.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from clearinghouse.db import PreparedInsert, PreparedQuery, statement_cursor
from clearinghouse.errors import RuleViolation
from clearinghouse.lib.identifiers import IdentifierError, parse_evse_id
from clearinghouse.tasking import enqueue_on_commit
from partners.models import Partner, RoamingEndpoint
from partners.selectors import active_agreements

from ..decision import (
    DecidedBy,
    Decision,
    KnownCredential,
    NamedCsp,
    Reason,
    Status,
    decide_known,
    decide_unknown_contract,
    decide_unknown_rfid,
)
from ..inputs import AuthorizationRequest, Presented
from ..keys import lookup_hash, qr_key, seal
from ..models import AuthorizationRecord, Credential, CredentialType, DynamicQrUse
from ..outcome import AuthorizationOutcome
from ..qr import QrCodeError, qr_code_read

logger = logging.getLogger(__name__)

_FACTS = (
    "id", "csp_id", "issuer", "status", "whitelist", "valid_from", "valid_until", "contract_id",
    "value_hint", "lookup_hash", "pin_hash", "password_hash", "certificate_fingerprint",
    "csp__country_code", "csp__party_id", "agreement_active", "csp_realtime",
)  # fmt: skip


def _realtime_endpoint(partner_ref: Any) -> Exists:
    # The same filter as partners.selectors.endpoint_for(role="CSP"), as a subquery of the one
    # statement that reads the facts.
    return Exists(
        RoamingEndpoint.objects.filter(partner_id=partner_ref, role="CSP", protocol="i3", active=True)
    )


def _agreement_with(cso_id: int, csp_ref: Any, now: datetime) -> Exists:
    return Exists(active_agreements(at=now).filter(cso_id=cso_id, csp_id=csp_ref))


def _facts_query(*, cso_id: int, now: datetime, **lookup: Any) -> Any:
    return (
        Credential.objects.filter(**lookup)
        .annotate(
            agreement_active=_agreement_with(cso_id, OuterRef("csp_id"), now),
            csp_realtime=_realtime_endpoint(OuterRef("csp_id")),
        )
        .values(*_FACTS)
        .order_by()[:1]  # the lookup is unique: no ordering to pay for
    )


# Everything rule 3 needs, in one SQL statement compiled once per process (clearinghouse.db).
_FACTS_BY_HASH = PreparedQuery(
    lambda cso_id, now, lookup_hash: _facts_query(cso_id=cso_id, now=now, lookup_hash=lookup_hash),
    cso_id=int,
    now=datetime,
    lookup_hash=str,
)
_FACTS_BY_ID = PreparedQuery(
    lambda cso_id, now, pk, type: _facts_query(cso_id=cso_id, now=now, pk=pk, type=type),
    cso_id=int,
    now=datetime,
    pk=int,
    type=str,
)
_RECORD = PreparedInsert(AuthorizationRecord)


# The hub's commonest answer in one statement (PostgreSQL): the facts query and, when its row
# accepts the credential at once, the INSERT of the record. The condition is decide_known()'s path to
# ACCEPTED by the hub without a secret to check: stored VALID, inside its validity, an agreement
# in force, no PIN, password or certificate, and hub-issued or whitelist ALWAYS.
# tests/credentials/test_one_statement.py holds the two to the same answer for every combination of
# facts. Every other row is decided in Python from the facts the statement returned.
_AT_ONCE_VALUES = {
    "kind": "{START}", "evse_id": "%s", "cso_session_id": "%s", "credential_type": "%s",
    "credential_hint": "f.value_hint", "lookup_hash": "f.lookup_hash", "contract_id": "f.contract_id",
    "whitelist": "f.whitelist", "status": "{ACCEPTED}",
    "reason": "CASE WHEN f.issuer = {HUB} THEN {HUB_ISSUED} ELSE {WHITELIST_ALWAYS} END",
    "decided_by": "{HUB}", "authorization_reference": "%s", "valid_until": "LEAST(%s, f.valid_until)",
    "latency_ms": "%s", "created_at": "%s", "decided_at": "%s", "routed_to": "jsonb_build_array(f.csp_id)",
    "deadline_at": "NULL", "routed_at": "NULL", "pending_credential": "''", "cso_id": "%s",
    "csp_id": "f.csp_id", "start_id": "NULL", "credential_id": "f.id",
}  # fmt: skip
_AT_ONCE_CONDITION = (
    "f.status = {VALID} AND (f.valid_until IS NULL OR f.valid_until > %s)"
    " AND (f.valid_from IS NULL OR f.valid_from <= %s) AND f.agreement_active"
    " AND f.pin_hash = '' AND f.password_hash = '' AND f.certificate_fingerprint = ''"
    " AND (f.issuer = {HUB} OR f.whitelist = {ALWAYS})"
)
# The statement's constants, written into its text rather than sent as parameters (each parameter
# is adapted on every execution). Enumeration values of the code, checked to be plain words.
_AT_ONCE_CONSTANTS = {
    "START": AuthorizationRecord.Kind.START.value, "ACCEPTED": Status.ACCEPTED.value,
    "HUB": Credential.Issuer.HUB.value, "HUB_ISSUED": Reason.HUB_ISSUED.value,
    "WHITELIST_ALWAYS": Reason.WHITELIST_ALWAYS.value, "VALID": "VALID", "ALWAYS": "ALWAYS",
}  # fmt: skip
# The parameters in the columns' order (then the condition's two), by the name common() gives them.
_AT_ONCE_PARAMS = (
    "cso_id", "evse_id", "cso_session_id", "credential_type", "authorization_reference",
    "valid_until", "latency_ms", "created_at", "decided_at",
)  # fmt: skip
_at_once_sql: dict[str, str] = {}


def _literal(value: str) -> str:
    if not re.fullmatch(r"[A-Z_]+", value):
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def _at_once_statement(facts_sql: str, connection: Any) -> str:
    known = _at_once_sql.get(facts_sql)
    if known is None:
        meta = AuthorizationRecord._meta
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
        if {f.attname for f in fields} != set(_AT_ONCE_VALUES):
            raise RuntimeError("the one-statement authorization does not cover AuthorizationRecord's columns")
        if [f.attname for f in fields if "%s" in _AT_ONCE_VALUES[f.attname]] != list(_AT_ONCE_PARAMS):
            raise RuntimeError("the one-statement authorization's parameters are out of the columns' order")
        constants = {name: _literal(value) for name, value in _AT_ONCE_CONSTANTS.items()}
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        values = ", ".join(_AT_ONCE_VALUES[f.attname].format(**constants) for f in fields)
        condition = _AT_ONCE_CONDITION.format(**constants)
        # Identifiers from the model, constant SQL and the code's own enumeration values; every
        # value of the request travels as a parameter.
        known = (
            f"WITH f AS ({facts_sql}), "  # noqa: S608
            f"ins AS (INSERT INTO {qn(meta.db_table)} ({columns}) SELECT {values} FROM f"
            f" WHERE {condition} RETURNING {qn(meta.pk.column)}, {qn('valid_until')}) "
            "SELECT f.*, ins.* FROM f LEFT JOIN ins ON true"
        )
        _at_once_sql[facts_sql] = known
    return known


def _at_once_params(common: dict[str, Any], reference: str, until: datetime) -> list[Any]:
    """The values of the %s in _AT_ONCE_VALUES (in the columns' order, _AT_ONCE_PARAMS) and in
    _AT_ONCE_CONDITION."""
    now = common["now"]
    return [
        common["cso_id"], common["evse_id"], common["cso_session_id"], common["presented"].type,
        reference, until, elapsed_ms(common["started"]), now, now, now, now,
    ]  # fmt: skip


def _facts_or_accepted(
    common: dict[str, Any], digest: str
) -> tuple[dict[str, Any] | None, AuthorizationOutcome | None]:
    """The facts of the presented credential (None: unknown), and the recorded outcome when the
    hub accepted it at once in the same statement (PostgreSQL; elsewhere the facts alone)."""
    connection = connections[DEFAULT_DB_ALIAS]
    lookup = {"cso_id": common["cso_id"], "now": common["now"], "lookup_hash": digest}
    if connection.vendor != "postgresql":
        return _FACTS_BY_HASH.first(**lookup), None
    facts_sql, params = _FACTS_BY_HASH.statement(**lookup)
    reference = secrets.token_hex(16)
    until = valid_until_of(common["now"])
    with statement_cursor(connection) as cursor:
        cursor.execute(
            _at_once_statement(facts_sql, connection), [*params, *_at_once_params(common, reference, until)]
        )
        found = cursor.fetchone()
    if found is None:
        return None, None
    row = _FACTS_BY_HASH.row(found)
    record_id, valid_until = found[-2], found[-1]
    if record_id is None:
        return row, None
    return row, AuthorizationOutcome(
        authorization_id=record_id,
        kind=AuthorizationRecord.Kind.START,
        status=Status.ACCEPTED,
        reason=Reason.HUB_ISSUED if row["issuer"] == Credential.Issuer.HUB else Reason.WHITELIST_ALWAYS,
        contract_id=row["contract_id"],
        csp=f"{row['csp__country_code']}-{row['csp__party_id']}",
        decided_by=DecidedBy.HUB,
        authorization_reference=reference,
        valid_until=valid_until,
        evse_id=common["evse_id"],
        cso_session_id=common["cso_session_id"],
    )


def check_evse(evse_id: str, cso_operator_id: str) -> str:
    """Rule 1: a well-formed EVSE ID of the calling CSO, in canonical form."""
    try:
        evse = parse_evse_id(evse_id)
    except IdentifierError as exc:
        raise RuleViolation(exc.code, exc.message) from None
    if evse.operator_id != cso_operator_id:
        raise RuleViolation("evse_not_yours", "the EVSE ID does not carry your operator ID")
    return str(evse)


def _secret_failure(row: dict[str, Any], presented: Presented) -> str | None:
    """PIN, password or certificate fingerprint, when the credential has one."""
    if row["pin_hash"] and not (presented.pin and check_password(presented.pin, row["pin_hash"])):
        return Reason.INVALID_PIN
    if row["password_hash"] and not (
        presented.password and check_password(presented.password, row["password_hash"])
    ):
        return Reason.INVALID_PASSWORD
    if row["certificate_fingerprint"] and presented.certificate_fingerprint != row["certificate_fingerprint"]:
        return Reason.INVALID_CERTIFICATE
    return None


def valid_until_of(now: datetime, cap: datetime | None = None, minutes: int | None = None) -> datetime:
    """Until when an accepted start holds: the configured validity, capped by the credential's."""
    until = now + timedelta(minutes=minutes or settings.AUTHORIZATION_VALIDITY_MINUTES)
    return min(until, cap) if cap is not None else until


def elapsed_ms(started: float) -> int:
    """Milliseconds since a time.perf_counter() reading: the latency a record keeps."""
    return max(0, round((time.perf_counter() - started) * 1000))


def _record(
    *,
    cso_id: int,
    evse_id: str,
    cso_session_id: str,
    presented: Presented,
    decision: Decision,
    started: float,
    now: datetime,
    row: dict[str, Any] | None = None,
    csp_id: int | None = None,
    csp_provider: str = "",
    contract_id: str = "",
    routed_to: list[int] | None = None,
    pending_credential: dict[str, Any] | None = None,
) -> AuthorizationOutcome:
    """Insert the record of a decision (or of a question now PENDING) and answer with it."""
    if row is not None:
        csp_id = row["csp_id"]
        csp_provider = f"{row['csp__country_code']}-{row['csp__party_id']}"
        contract_id = row["contract_id"]
    accepted = decision.status == Status.ACCEPTED
    pending = decision.route
    values = {
        "cso_id": cso_id,
        "csp_id": csp_id,
        "credential_id": row["id"] if row else None,
        "evse_id": evse_id,
        "cso_session_id": cso_session_id,
        "credential_type": presented.type,
        "credential_hint": row["value_hint"] if row else presented.hint,
        "lookup_hash": row["lookup_hash"] if row else lookup_hash(presented.type, presented.lookup_value),
        "contract_id": contract_id,
        "whitelist": row["whitelist"] if row else "",
        "status": decision.status,
        "reason": decision.reason,
        "decided_by": decision.decided_by or "",
        "authorization_reference": secrets.token_hex(16),
        "valid_until": valid_until_of(now, row["valid_until"] if row else None) if accepted else None,
        "latency_ms": None if pending else elapsed_ms(started),
        "created_at": now,
        "decided_at": None if pending else now,
        "routed_to": routed_to or [],
        "deadline_at": now + timedelta(seconds=settings.AUTHORIZATION_CSP_DEADLINE_SECONDS)
        if pending
        else None,
        "pending_credential": seal(pending_credential) if pending and pending_credential else "",
    }
    # One INSERT compiled once per process: the hottest write of the hub.
    record_id = _RECORD.insert(**values)
    if pending:
        _ask_after_commit(record_id)
    return AuthorizationOutcome(
        authorization_id=record_id,
        kind=AuthorizationRecord.Kind.START,
        status=values["status"],
        reason=values["reason"],
        contract_id=contract_id,
        csp=csp_provider,
        decided_by=values["decided_by"],
        authorization_reference=values["authorization_reference"],
        valid_until=values["valid_until"],
        evse_id=evse_id,
        cso_session_id=cso_session_id,
    )


def _ask_after_commit(authorization_id: int) -> None:
    from ..tasks import authorization_route

    # Robust: with the broker down the question stays PENDING and the overdue sweep answers it with
    # the fallback once its deadline has passed.
    enqueue_on_commit(authorization_route, authorization_id)


def authorization_request(
    *, cso_id: int, cso_operator_id: str, request: AuthorizationRequest
) -> AuthorizationOutcome:
    """Decide whether a credential presented at one of the CSO's EVSEs may start charging.

    Rule 1 refuses an EVSE ID that is malformed or not the CSO's (RuleViolation, 422); every other
    outcome is a recorded decision (docs/authorization.md), PENDING when a CSP must be asked.
    """
    # Not one transaction: a decision is a single INSERT, atomic by itself, and BEGIN/COMMIT would
    # add round trips to the hottest path of the hub. (A dynamic QR code is spent first, in its own
    # statement: a code is never good twice, even when the insert that follows fails.)
    started = time.perf_counter()
    now = timezone.now()
    evse_id = check_evse(request.evse_id, cso_operator_id)
    presented = request.credential
    common = {
        "cso_id": cso_id,
        "evse_id": evse_id,
        "cso_session_id": request.cso_session_id,
        "presented": presented,
        "started": started,
        "now": now,
    }
    if presented.type == CredentialType.QR_DYNAMIC:
        return _authorize_dynamic_qr(common)
    row, accepted = _facts_or_accepted(common, lookup_hash(presented.type, presented.lookup_value))
    if accepted is not None:
        return accepted
    if row is None:
        return _authorize_unknown(common)
    return _authorize_known(common, row)


def _authorize_known(common: dict[str, Any], row: dict[str, Any]) -> AuthorizationOutcome:
    presented: Presented = common["presented"]
    facts = KnownCredential(
        state=row["status"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        hub_issued=row["issuer"] == Credential.Issuer.HUB,
        whitelist=row["whitelist"],
        agreement_active=row["agreement_active"],
        csp_realtime=row["csp_realtime"],
    )
    decision = decide_known(facts, now=common["now"], secret_failure=lambda: _secret_failure(row, presented))
    question = None
    if decision.route:
        # The hub checked PIN and password itself; the CSP learns which credential, not its secrets.
        question = {
            "type": presented.type,
            "value": presented.lookup_value,
            "contract_id": row["contract_id"],
        }
        if presented.certificate_fingerprint:
            question["certificate_fingerprint"] = presented.certificate_fingerprint
    return _record(
        **common, decision=decision, row=row, routed_to=[row["csp_id"]], pending_credential=question
    )


def _authorize_unknown(common: dict[str, Any]) -> AuthorizationOutcome:
    """Rule 4: a contract ID names its CSP; an unknown RFID card is asked of every candidate CSP."""
    presented: Presented = common["presented"]
    cso_id, now = common["cso_id"], common["now"]
    if presented.contract_id:
        country, party = presented.contract_id[:2], presented.contract_id[3:6]
        named = None
        if (country, party) != (settings.HUB_COUNTRY_CODE, settings.HUB_PARTY_ID):
            named = (
                Partner.objects.filter(
                    country_code=country, party_id=party, is_csp=True, status=Partner.Status.ACTIVE
                )
                .annotate(
                    agreement_active=_agreement_with(cso_id, OuterRef("pk"), now),
                    csp_realtime=_realtime_endpoint(OuterRef("pk")),
                )
                .values("pk", "agreement_active", "csp_realtime")
                .first()
            )
        decision = decide_unknown_contract(
            NamedCsp(
                exists=named is not None,
                agreement_active=bool(named and named["agreement_active"]),
                csp_realtime=bool(named and named["csp_realtime"]),
            )
        )
        return _record(
            **common,
            decision=decision,
            csp_id=named["pk"] if named else None,
            csp_provider=f"{country}-{party}" if named else "",
            contract_id=presented.contract_id,
            routed_to=[named["pk"]] if named else [],
            pending_credential=presented.for_csp(with_pin=True),
        )
    if presented.type == CredentialType.RFID:
        candidates = sorted(
            set(
                active_agreements(at=now)
                .filter(cso_id=cso_id)
                .filter(_realtime_endpoint(OuterRef("csp_id")))
                .values_list("csp_id", flat=True)
            )
        )
        decision = decide_unknown_rfid(candidates=len(candidates))
        return _record(
            **common,
            decision=decision,
            routed_to=candidates,
            pending_credential=presented.for_csp(with_pin=False),
        )
    return _record(**common, decision=Decision(Status.UNKNOWN, Reason.UNKNOWN_CREDENTIAL, DecidedBy.HUB))


def consume_code(*, nonce: str, credential_id: int, expires_at: int) -> bool:
    """Mark a dynamic QR code used; False if it was used before. The unique nonce decides races."""
    try:
        with transaction.atomic():
            DynamicQrUse.objects.create(
                nonce=nonce,
                credential_id=credential_id,
                expires_at=datetime.fromtimestamp(expires_at, tz=UTC),
            )
    except IntegrityError:
        return False
    return True


def _authorize_dynamic_qr(common: dict[str, Any]) -> AuthorizationOutcome:
    presented: Presented = common["presented"]
    try:
        code = qr_code_read(key=qr_key(), code=presented.lookup_value, now=common["now"].timestamp())
    except QrCodeError as exc:
        status = Status.EXPIRED if exc.reason == Reason.CODE_EXPIRED else Status.UNKNOWN
        return _record(**common, decision=Decision(status, exc.reason, DecidedBy.HUB))
    row = _FACTS_BY_ID.first(
        cso_id=common["cso_id"], now=common["now"], pk=code.credential_id, type=CredentialType.QR_DYNAMIC
    )
    if row is None:
        return _record(**common, decision=Decision(Status.UNKNOWN, Reason.INVALID_CODE, DecidedBy.HUB))
    if not consume_code(nonce=code.nonce, credential_id=row["id"], expires_at=code.expires_at):
        return _record(**common, decision=Decision(Status.REJECTED, Reason.CODE_USED, DecidedBy.HUB), row=row)
    return _authorize_known(common, row)
