"""Checking and normalising what partners send (credentials/inputs.py), without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credentials.inputs import (
    InputProblem,
    normalize_fingerprint,
    parse_authorization_request,
    parse_credential_changes,
    parse_issue_request,
    parse_presented,
    parse_stop_request,
    parse_upload_item,
    upload_item_key,
)

CONTRACT = "NL-BMO-C12345678-5"
FP = "AB:" * 31 + "AB"


def problem(func, *args, **kwargs) -> InputProblem:  # type: ignore[no-untyped-def]
    with pytest.raises(InputProblem) as info:
        func(*args, **kwargs)
    return info.value


def test_presented_rfid_is_normalised() -> None:
    p = parse_presented({"type": "RFID", "value": "04:a1:b2:c3"})
    assert (p.type, p.lookup_value, p.hint, p.contract_id) == ("RFID", "04A1B2C3", "…B2C3", "")


def test_presented_contract_types_carry_the_contract() -> None:
    for kind in ("QR_STATIC", "PNC", "REMOTE"):
        p = parse_presented({"type": kind, "value": "nlbmoc12345678", "certificate_fingerprint": FP})
        assert p.lookup_value == p.contract_id == CONTRACT
        assert p.certificate_fingerprint == "ab" * 32


def test_presented_app_user_ignores_case_and_blanks() -> None:
    p = parse_presented({"type": "APP_USER", "value": "  Jane.Doe@Example.org ", "password": "x"})
    assert p.lookup_value == "jane.doe@example.org" and p.password == "x"


def test_presented_for_csp_carries_what_the_csp_needs() -> None:
    p = parse_presented({"type": "QR_STATIC", "value": CONTRACT, "pin": "1234"})
    assert p.for_csp(with_pin=True) == {
        "type": "QR_STATIC",
        "value": CONTRACT,
        "contract_id": CONTRACT,
        "pin": "1234",
    }
    assert p.for_csp(with_pin=False) == {"type": "QR_STATIC", "value": CONTRACT, "contract_id": CONTRACT}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("RFID", "invalid_body"),
        ({"type": "CARD", "value": "04A1B2C3"}, "invalid_type"),
        ({"type": "RFID"}, "missing_value"),
        ({"type": "RFID", "value": "04A1B2"}, "invalid_rfid_uid"),
        ({"type": "RFID", "value": 4}, "invalid_rfid_uid"),
        ({"type": "QR_STATIC", "value": "NL-BMO-C12345678-0"}, "invalid_check_digit"),
        ({"type": "PNC", "value": "not a contract"}, "invalid_contract_id"),
        ({"type": "PNC", "value": CONTRACT, "certificate_fingerprint": "abc"}, "invalid_fingerprint"),
        ({"type": "APP_USER", "value": ""}, "invalid_username"),
        ({"type": "RFID", "value": "04A1B2C3", "pin": 1234}, "invalid_pin"),
        ({"type": "RFID", "value": "04A1B2C3", "colour": "red"}, "unknown_field"),
        ({"type": "QR_DYNAMIC", "value": ""}, "invalid_value"),
    ],
)
def test_presented_problems(data: object, code: str) -> None:
    assert problem(parse_presented, data).code == code


def test_problems_never_repeat_the_value() -> None:
    for data in (
        {"type": "RFID", "value": "04A1B2C3D4E5F6A7B8"},
        {"type": "QR_STATIC", "value": "NL-BMO-C12345678-0"},
        {"type": "APP_USER", "value": "s3cret-user\x00"},
    ):
        got = problem(parse_presented, data)
        assert str(data["value"]) not in got.message


def test_authorization_request() -> None:
    r = parse_authorization_request(
        {
            "evse_id": "DE*ACH*E1*1",
            "credential": {"type": "RFID", "value": "04A1B2C3"},
            "cso_session_id": "s-1",
        }
    )
    assert (r.evse_id, r.credential.lookup_value, r.cso_session_id) == ("DE*ACH*E1*1", "04A1B2C3", "s-1")
    assert problem(parse_authorization_request, {"credential": {}}).code == "missing_evse_id"
    assert problem(parse_authorization_request, {"evse_id": "DE*ACH*E1"}).code == "missing_credential"
    assert problem(parse_authorization_request, []).code == "invalid_body"
    assert problem(parse_stop_request, {}).code == "missing_credential"


def item(**overrides):  # type: ignore[no-untyped-def]
    return {"type": "RFID", "value": "04A1B2C3", "contract_id": "NL-BMO-C12345678", **overrides}


def test_upload_item_defaults_and_normalisation() -> None:
    got = parse_upload_item(item(value="04 a1 b2 c3"), provider_id="NL-BMO")
    assert (got.lookup_value, got.contract_id, got.status, got.whitelist) == (
        "04A1B2C3",
        CONTRACT,
        "VALID",
        "ALLOWED",
    )
    assert (
        got.pin is None and got.password is None and got.certificate_fingerprint == "" and got.driver is None
    )


def test_upload_item_full() -> None:
    got = parse_upload_item(
        {
            "type": "QR_STATIC",
            "value": CONTRACT,
            "contract_id": CONTRACT,
            "status": "BLOCKED",
            "whitelist": "NEVER",
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2027-01-01T00:00:00+01:00",
            "visual_number": "NL-BMO-012345",
            "group_id": "fleet-7",
            "pin": "1234",
            "driver": {"name": "Jane Doe", "email": "jane@example.org", "phone": "+31 20 123 4567"},
        },
        provider_id="NL-BMO",
    )
    assert got.valid_until == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert got.pin == "1234" and got.driver is not None and got.driver.email == "jane@example.org"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"contract_id": None}, "missing_contract_id"),
        ({"contract_id": "NL-XYZ-C12345678"}, "contract_not_yours"),
        ({"contract_id": "NL-BMO-C12345678-0"}, "invalid_check_digit"),
        ({"value": None}, "missing_value"),
        ({"status": "LOST"}, "invalid_status"),
        ({"whitelist": "SOMETIMES"}, "invalid_whitelist"),
        ({"valid_from": "yesterday"}, "invalid_datetime"),
        ({"valid_from": "2026-02-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z"}, "invalid_validity"),
        ({"pin": "1234"}, "not_applicable"),
        ({"password": "long enough password"}, "not_applicable"),
        ({"certificate_fingerprint": FP}, "not_applicable"),
        ({"visual_number": "x" * 65}, "invalid_field"),
        ({"driver": {"email": "not-an-address"}}, "invalid_email"),
        ({"driver": {"phone": "call me"}}, "invalid_phone"),
        ({"driver": {"age": 40}}, "unknown_field"),
        ({"white_list": "ALWAYS"}, "unknown_field"),
    ],
)
def test_upload_item_problems(overrides: dict, code: str) -> None:
    assert problem(parse_upload_item, item(**overrides), provider_id="NL-BMO").code == code


def test_upload_item_type_rules() -> None:
    assert (
        problem(parse_upload_item, item(type="APP_USER", value="jane"), provider_id="NL-BMO").code
        == "missing_password"
    )
    assert (
        problem(
            parse_upload_item, item(type="APP_USER", value="jane", password="short"), provider_id="NL-BMO"
        ).code
        == "invalid_password"
    )
    assert (
        problem(parse_upload_item, item(type="PNC", value=None), provider_id="NL-BMO").code
        == "missing_fingerprint"
    )
    assert (
        problem(
            parse_upload_item, item(type="QR_STATIC", value="NL-BMO-C00000000"), provider_id="NL-BMO"
        ).code
        == "value_mismatch"
    )
    assert (
        problem(parse_upload_item, item(type="QR_STATIC", value=None, pin="12a4"), provider_id="NL-BMO").code
        == "invalid_pin"
    )
    got = parse_upload_item(item(type="PNC", value=None, certificate_fingerprint=FP), provider_id="NL-BMO")
    assert got.lookup_value == CONTRACT and got.certificate_fingerprint == "ab" * 32


def test_upload_item_key_survives_other_problems() -> None:
    assert upload_item_key(item(whitelist="SOMETIMES"), provider_id="NL-BMO") == ("RFID", "04A1B2C3")
    assert upload_item_key(item(value="zz"), provider_id="NL-BMO") is None
    assert upload_item_key(item(contract_id="NL-XYZ-C12345678"), provider_id="NL-BMO") is None
    assert upload_item_key("junk", provider_id="NL-BMO") is None


def test_issue_request() -> None:
    got = parse_issue_request({"type": "APP_USER"})
    assert (got.type, got.value, got.password, got.contract_id) == ("APP_USER", "", None, "")
    got = parse_issue_request({"type": "QR_STATIC", "generate_pin": True, "contract_id": "DE-HUB-C12345678"})
    assert got.generate_pin and got.contract_id.startswith("DE-HUB-C12345678-")
    assert problem(parse_issue_request, {"type": "RFID"}).code == "missing_value"
    assert problem(parse_issue_request, {"type": "QR_STATIC", "value": CONTRACT}).code == "not_applicable"
    assert (
        problem(parse_issue_request, {"type": "RFID", "value": "04A1B2C3", "generate_pin": True}).code
        == "not_applicable"
    )
    assert problem(parse_issue_request, {"type": "QR_STATIC", "generate_pin": "yes"}).code == "invalid_field"
    assert (
        problem(parse_issue_request, {"type": "QR_STATIC", "generate_pin": True, "pin": "1234"}).code
        == "invalid_field"
    )
    assert problem(parse_issue_request, {"type": "PNC"}).code == "missing_fingerprint"


def test_credential_changes() -> None:
    assert parse_credential_changes({"status": "BLOCKED"}) == {"status": "BLOCKED"}
    assert parse_credential_changes({"valid_until": None, "group_id": "g"}) == {
        "valid_until": None,
        "group_id": "g",
    }
    assert problem(parse_credential_changes, {}).code == "empty_change"
    assert problem(parse_credential_changes, {"status": "GONE"}).code == "invalid_status"
    assert problem(parse_credential_changes, {"contract_id": CONTRACT}).code == "unknown_field"


def test_fingerprint() -> None:
    assert normalize_fingerprint("AB " * 32) == "ab" * 32
    for bad in ("ab" * 31, "zz" * 32, 5, "ab" * 200):
        with pytest.raises(InputProblem):
            normalize_fingerprint(bad)
