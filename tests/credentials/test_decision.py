"""The decision table (credentials/decision.py), row by row, without a database.

Row numbers are those of docs/authorization.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credentials.decision import (
    CspAnswer,
    DecidedBy,
    KnownCredential,
    NamedCsp,
    Reason,
    Status,
    decide_known,
    decide_routed,
    decide_unknown_contract,
    decide_unknown_rfid,
    fallback,
    parse_rfc3339,
    read_csp_answer,
    rfc3339,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTRACT = "NL-BMO-C12345678-5"


def facts(**overrides):  # type: ignore[no-untyped-def]
    base = {
        "state": "VALID",
        "valid_from": None,
        "valid_until": None,
        "hub_issued": False,
        "whitelist": "ALWAYS",
        "agreement_active": True,
        "csp_realtime": False,
    }
    return KnownCredential(**{**base, **overrides})


def no_secret() -> None:
    return None


def decide(secret=no_secret, **overrides):  # type: ignore[no-untyped-def]
    return decide_known(facts(**overrides), now=NOW, secret_failure=secret)


def test_row_6_blocked() -> None:
    d = decide(state="BLOCKED")
    assert (d.status, d.reason, d.decided_by) == (Status.BLOCKED, Reason.CREDENTIAL_BLOCKED, DecidedBy.HUB)


@pytest.mark.parametrize(
    "overrides",
    [{"state": "EXPIRED"}, {"valid_until": NOW}, {"valid_until": NOW - timedelta(seconds=1)}],
)
def test_row_7_expired(overrides: dict) -> None:
    d = decide(**overrides)
    assert (d.status, d.reason) == (Status.EXPIRED, Reason.CREDENTIAL_EXPIRED)


def test_row_7_not_expired_before_valid_until() -> None:
    assert decide(valid_until=NOW + timedelta(seconds=1)).status == Status.ACCEPTED


def test_row_8_not_yet_valid() -> None:
    d = decide(valid_from=NOW + timedelta(minutes=1))
    assert (d.status, d.reason) == (Status.REJECTED, Reason.NOT_YET_VALID)
    assert decide(valid_from=NOW).status == Status.ACCEPTED


def test_row_9_no_agreement() -> None:
    d = decide(agreement_active=False)
    assert (d.status, d.reason, d.decided_by) == (Status.NO_AGREEMENT, Reason.NO_AGREEMENT, DecidedBy.HUB)


@pytest.mark.parametrize("reason", [Reason.INVALID_PIN, Reason.INVALID_PASSWORD, Reason.INVALID_CERTIFICATE])
def test_rows_10_to_12_wrong_secret(reason: str) -> None:
    d = decide(secret=lambda: reason)
    assert (d.status, d.reason) == (Status.REJECTED, reason)


def test_blocked_comes_before_the_secret_check() -> None:
    called = []

    def secret() -> None:
        called.append(True)

    assert decide(secret=secret, state="BLOCKED").status == Status.BLOCKED
    assert decide(secret=secret, agreement_active=False).status == Status.NO_AGREEMENT
    assert called == []  # the slow password hash is not computed for a decision it cannot change


def test_row_13_hub_issued_whatever_the_whitelist() -> None:
    for whitelist in ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"):
        d = decide(hub_issued=True, whitelist=whitelist, csp_realtime=True)
        assert (d.status, d.reason, d.decided_by) == (Status.ACCEPTED, Reason.HUB_ISSUED, DecidedBy.HUB)


def test_row_14_whitelist_always() -> None:
    d = decide(whitelist="ALWAYS", csp_realtime=True)
    assert (d.status, d.reason, d.decided_by) == (Status.ACCEPTED, Reason.WHITELIST_ALWAYS, DecidedBy.HUB)


@pytest.mark.parametrize("whitelist", ["ALLOWED", "ALLOWED_OFFLINE", "NEVER"])
def test_row_15_routed_when_the_csp_answers_in_real_time(whitelist: str) -> None:
    d = decide(whitelist=whitelist, csp_realtime=True)
    assert d.route and d.status == Status.PENDING and d.decided_by is None


@pytest.mark.parametrize("whitelist", ["ALLOWED", "ALLOWED_OFFLINE"])
def test_row_18_accepted_without_realtime_endpoint(whitelist: str) -> None:
    d = decide(whitelist=whitelist)
    assert (d.status, d.reason, d.decided_by) == (Status.ACCEPTED, Reason.NO_REALTIME_ENDPOINT, DecidedBy.HUB)


def test_row_19_never_without_realtime_endpoint() -> None:
    d = decide(whitelist="NEVER")
    assert (d.status, d.reason) == (Status.REJECTED, Reason.NO_REALTIME_ENDPOINT)


@pytest.mark.parametrize(
    ("whitelist", "status"),
    [
        ("ALLOWED", Status.ACCEPTED),
        ("ALLOWED_OFFLINE", Status.ACCEPTED),
        ("NEVER", Status.REJECTED),
        (None, Status.UNKNOWN),
    ],
)
@pytest.mark.parametrize("failure", [Reason.CSP_TIMEOUT, Reason.CSP_UNREACHABLE, Reason.CSP_ERROR])
def test_rows_16_17_fallback(whitelist: str | None, status: Status, failure: str) -> None:
    d = fallback(whitelist=whitelist, failure=failure)
    assert (d.status, d.reason, d.decided_by) == (status, failure, DecidedBy.HUB)


def test_row_20_contract_names_no_csp() -> None:
    d = decide_unknown_contract(NamedCsp(exists=False, agreement_active=False, csp_realtime=False))
    assert (d.status, d.reason) == (Status.UNKNOWN, Reason.UNKNOWN_CREDENTIAL)


def test_row_21_contract_names_csp_without_agreement() -> None:
    d = decide_unknown_contract(NamedCsp(exists=True, agreement_active=False, csp_realtime=True))
    assert d.status == Status.NO_AGREEMENT


def test_row_22_contract_names_csp_without_realtime_endpoint() -> None:
    d = decide_unknown_contract(NamedCsp(exists=True, agreement_active=True, csp_realtime=False))
    assert (d.status, d.reason) == (Status.UNKNOWN, Reason.UNKNOWN_CREDENTIAL)


def test_row_23_contract_names_csp_to_ask() -> None:
    assert decide_unknown_contract(NamedCsp(exists=True, agreement_active=True, csp_realtime=True)).route


def test_rows_24_25_unknown_rfid() -> None:
    assert decide_unknown_rfid(candidates=0).status == Status.UNKNOWN
    assert decide_unknown_rfid(candidates=2).route


# --- routed answers --------------------------------------------------------------------------------


def test_row_15_single_csp_answer_decides() -> None:
    for status in ("ACCEPTED", "REJECTED", "BLOCKED", "EXPIRED", "UNKNOWN"):
        routed = decide_routed(
            [CspAnswer(csp_id=7, status=status, contract_id=CONTRACT)], whitelist="NEVER", broadcast=False
        )
        assert routed.decision.status == status
        assert routed.decision.decided_by == DecidedBy.CSP
        assert routed.answer is not None and routed.answer.csp_id == 7


@pytest.mark.parametrize(("whitelist", "status"), [("ALLOWED", Status.ACCEPTED), ("NEVER", Status.REJECTED)])
def test_rows_16_17_single_csp_silent(whitelist: str, status: Status) -> None:
    routed = decide_routed(
        [CspAnswer(csp_id=7, failure=Reason.CSP_TIMEOUT)], whitelist=whitelist, broadcast=False
    )
    assert (routed.decision.status, routed.decision.reason) == (status, Reason.CSP_TIMEOUT)
    assert routed.answer is None


def test_row_23_unknown_contract_csp_silent_is_unknown() -> None:
    routed = decide_routed(
        [CspAnswer(csp_id=7, failure=Reason.CSP_UNREACHABLE)], whitelist=None, broadcast=False
    )
    assert (routed.decision.status, routed.decision.reason) == (Status.UNKNOWN, Reason.CSP_UNREACHABLE)


def test_row_25_broadcast_first_accepted_wins() -> None:
    answers = [
        CspAnswer(csp_id=1, status="REJECTED"),
        CspAnswer(csp_id=2, status="ACCEPTED", contract_id=CONTRACT),
        CspAnswer(csp_id=3, status="ACCEPTED", contract_id="NL-XYZ-C12345678-0"),
    ]
    routed = decide_routed(answers, whitelist=None, broadcast=True)
    assert routed.decision.status == Status.ACCEPTED and routed.decision.decided_by == DecidedBy.CSP
    assert routed.answer is not None and routed.answer.csp_id == 2


def test_row_26_broadcast_nobody_accepts() -> None:
    answers = [CspAnswer(csp_id=1, status="REJECTED"), CspAnswer(csp_id=2, failure=Reason.CSP_TIMEOUT)]
    routed = decide_routed(answers, whitelist=None, broadcast=True)
    assert (routed.decision.status, routed.decision.reason) == (Status.UNKNOWN, Reason.NO_CSP_ACCEPTED)


def test_row_26_broadcast_nobody_answers() -> None:
    answers = [
        CspAnswer(csp_id=1, failure=Reason.CSP_UNREACHABLE),
        CspAnswer(csp_id=2, failure=Reason.CSP_TIMEOUT),
    ]
    routed = decide_routed(answers, whitelist=None, broadcast=True)
    assert (routed.decision.status, routed.decision.reason) == (Status.UNKNOWN, Reason.CSP_TIMEOUT)


def test_no_answers_at_all_is_a_timeout() -> None:
    assert decide_routed([], whitelist="ALLOWED", broadcast=False).decision.reason == Reason.CSP_TIMEOUT


# --- reading a CSP's answer ------------------------------------------------------------------------


def read(body, contract_id=CONTRACT):  # type: ignore[no-untyped-def]
    return read_csp_answer(body, csp_id=5, authorization_id=42, provider_id="NL-BMO", contract_id=contract_id)


def test_read_answer_accepted() -> None:
    got = read(
        {"authorization_id": 42, "status": "ACCEPTED", "valid_until": "2026-03-01T13:00:00Z", "reason": "ok"}
    )
    assert (got.status, got.contract_id, got.reason, got.failure) == ("ACCEPTED", CONTRACT, "ok", "")
    assert got.valid_until == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


def test_read_answer_normalises_the_contract_id() -> None:
    got = read(
        {"authorization_id": 42, "status": "ACCEPTED", "contract_id": "nlbmoc12345678"}, contract_id=""
    )
    assert got.contract_id == CONTRACT and not got.failure


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "ACCEPTED",
        {"status": "ACCEPTED"},  # no echo of the question
        {"authorization_id": 41, "status": "ACCEPTED"},  # an answer to another question
        {"authorization_id": 42, "status": "MAYBE"},
        {"authorization_id": 42, "status": "PENDING"},
        {"authorization_id": 42, "status": "NO_AGREEMENT"},
        {"authorization_id": 42, "status": "ACCEPTED", "contract_id": "NL-XYZ-C12345678"},  # not the CSP's
        {"authorization_id": 42, "status": "ACCEPTED", "contract_id": "NL-BMO-C99999999"},  # another contract
        {"authorization_id": 42, "status": "ACCEPTED", "contract_id": "garbage"},
        {"authorization_id": 42, "status": "ACCEPTED", "valid_until": "tomorrow"},
    ],
)
def test_read_answer_malformed_is_csp_error(body: object) -> None:
    assert read(body).failure == Reason.CSP_ERROR


def test_read_answer_acceptance_must_name_a_contract() -> None:
    assert read({"authorization_id": 42, "status": "ACCEPTED"}, contract_id="").failure == Reason.CSP_ERROR
    assert read({"authorization_id": 42, "status": "REJECTED"}, contract_id="").failure == ""


def test_rfc3339_round_trip() -> None:
    value = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC)
    assert rfc3339(value) == "2026-03-01T12:00:00.000005Z"
    assert parse_rfc3339(rfc3339(value)) == value
    assert parse_rfc3339("2026-03-01T13:00:00+01:00") == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert rfc3339(None) is None
    for bad in ("2026-03-01", "2026-03-01T12:00:00", 17, None, "x" * 50):
        with pytest.raises(ValueError):
            parse_rfc3339(bad)
