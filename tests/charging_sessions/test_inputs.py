"""The framework-free readers of commands, CSO answers and sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sessions.inputs import (
    InputProblem,
    parse_command,
    parse_command_result,
    parse_rfc3339,
    parse_session,
    read_cso_response,
    rfc3339,
)

CONTRACT = "NL-BMO-C00000001-0"


def problem(func, *args, **kwargs) -> InputProblem:
    with pytest.raises(InputProblem) as info:
        func(*args, **kwargs)
    return info.value


# --- commands -------------------------------------------------------------------------------------


def test_start_session_is_normalised():
    command = parse_command(
        {
            "type": "START_SESSION",
            "evse_id": "deach e100*1".replace(" ", "*"),
            "contract_id": "nlbmoc00000001",
        }
    )
    assert command.type == "START_SESSION"
    assert command.evse_id == "DE*ACH*E100*1"
    assert command.contract_id == "NL-BMO-C00000001-0"
    assert command.connector_id == ""


def test_start_session_keeps_the_csps_reference_and_connector():
    command = parse_command(
        {
            "type": "START_SESSION",
            "evse_id": "DE*ACH*E100*1",
            "connector_id": 2,
            "contract_id": CONTRACT,
            "authorization_reference": "my-ref-1",
        }
    )
    assert command.connector_id == "2"
    assert command.csp_reference == "my-ref-1"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ([], "invalid_body", ""),
        ({}, "missing_field", "type"),
        ({"type": "LAUNCH"}, "invalid_field", "type"),
        ({"type": "START_SESSION", "contract_id": CONTRACT}, "missing_field", "evse_id"),
        (
            {"type": "START_SESSION", "evse_id": "+49*810*000*438", "contract_id": CONTRACT},
            "invalid_evse_id",
            "evse_id",
        ),
        ({"type": "START_SESSION", "evse_id": "DE*ACH*E1"}, "missing_field", "contract_id"),
        (
            {"type": "START_SESSION", "evse_id": "DE*ACH*E1", "contract_id": "NL-BMO-C00000001-8"},
            "invalid_check_digit",
            "contract_id",
        ),
        (
            {
                "type": "START_SESSION",
                "evse_id": "DE*ACH*E1",
                "contract_id": CONTRACT,
                "connector_id": "x" * 37,
            },
            "invalid_field",
            "connector_id",
        ),
        ({"type": "STOP_SESSION"}, "missing_field", "session_id"),
        (
            {"type": "STOP_SESSION", "session_id": "s1", "operator_id": "DE-ACH"},
            "invalid_operator_id",
            "operator_id",
        ),
        (
            {"type": "RESERVE_NOW", "evse_id": "DE*ACH*E1", "contract_id": CONTRACT, "reservation_id": "r"},
            "missing_field",
            "expiry",
        ),
        (
            {
                "type": "RESERVE_NOW",
                "evse_id": "DE*ACH*E1",
                "contract_id": CONTRACT,
                "reservation_id": "r",
                "expiry": "tomorrow",
            },
            "invalid_datetime",
            "expiry",
        ),
        (
            {
                "type": "RESERVE_NOW",
                "evse_id": "DE*ACH*E1",
                "contract_id": CONTRACT,
                "expiry": "2030-01-01T00:00:00Z",
            },
            "missing_field",
            "reservation_id",
        ),
        ({"type": "CANCEL_RESERVATION"}, "missing_field", "reservation_id"),
        ({"type": "UNLOCK_CONNECTOR", "evse_id": "DE*ACH*E1"}, "missing_field", "connector_id"),
        ({"type": "STOP_SESSION", "session_id": "ab\ncd"}, "invalid_field", "session_id"),
    ],
)
def test_bad_commands_are_refused_with_the_field(body, code, field):
    refused = problem(parse_command, body)
    assert (refused.code, refused.field) == (code, field)


def test_reserve_now_reads_expiry_or_ocpis_expiry_date():
    base = {"type": "RESERVE_NOW", "evse_id": "DE*ACH*E1", "contract_id": CONTRACT, "reservation_id": 7}
    a = parse_command({**base, "expiry": "2030-01-01T10:00:00+01:00"})
    b = parse_command({**base, "expiry_date": "2030-01-01T09:00:00Z"})
    assert a.expiry_date == b.expiry_date == datetime(2030, 1, 1, 9, tzinfo=UTC)
    assert a.reservation_id == "7"


def test_stop_session_and_cancel_and_unlock():
    stop = parse_command({"type": "STOP_SESSION", "session_id": "S-1", "operator_id": "de*ach"})
    assert (stop.session_id, stop.operator_id) == ("S-1", "DE*ACH")
    cancel = parse_command({"type": "CANCEL_RESERVATION", "reservation_id": "R-1"})
    assert cancel.reservation_id == "R-1"
    unlock = parse_command({"type": "UNLOCK_CONNECTOR", "evse_id": "DE*ACH*E1", "connector_id": "1"})
    assert (unlock.evse_id, unlock.connector_id) == ("DE*ACH*E1", "1")


# --- the CSO's answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"result": "ACCEPTED", "timeout": 30}, ("ACCEPTED", 30, "")),
        ({"result": "REJECTED", "message": [{"language": "en", "text": "busy"}]}, ("REJECTED", None, "busy")),
        ({"result": "NOT_SUPPORTED", "timeout": "30"}, ("NOT_SUPPORTED", None, "")),
        (
            {"result": "UNKNOWN_SESSION", "timeout": 0, "message": "no such session"},
            ("UNKNOWN_SESSION", None, "no such session"),
        ),
        ({"data": {"result": "ACCEPTED", "timeout": 10}, "status_code": 1000}, ("ACCEPTED", 10, "")),
        ({"result": "MAYBE"}, ("", None, "")),
        ({"result": "ACCEPTED", "timeout": True}, ("ACCEPTED", None, "")),
        (None, ("", None, "")),
        ([1, 2], ("", None, "")),
        ("ACCEPTED", ("", None, "")),
    ],
)
def test_cso_responses_are_read_leniently_and_never_raise(body, expected):
    answer = read_cso_response(body)
    assert (answer.result, answer.timeout, answer.message) == expected


def test_command_results():
    outcome = parse_command_result({"result": "EVSE_OCCUPIED", "message": "someone is charging"})
    assert (outcome.result, outcome.message) == ("EVSE_OCCUPIED", "someone is charging")
    assert problem(parse_command_result, {"result": "DONE"}).code == "invalid_field"
    assert problem(parse_command_result, {}).code == "missing_field"
    assert problem(parse_command_result, {"result": "FAILED", "message": 3}).code == "invalid_field"
    assert problem(parse_command_result, "FAILED").code == "invalid_body"


# --- sessions -------------------------------------------------------------------------------------


def start_body(**overrides):
    body = {
        "id": "S-1",
        "evse_id": "DE*ACH*E100*1",
        "connector_id": "1",
        "contract_id": CONTRACT,
        "auth_method": "WHITELIST",
        "start_date_time": "2024-05-01T10:00:00Z",
        "currency": "EUR",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_a_minimal_start():
    fields = parse_session(start_body(), partial=False)
    assert fields.session_id == "S-1"
    assert fields.evse_id == "DE*ACH*E100*1"
    assert fields.contract_id == CONTRACT
    assert fields.start_date_time == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert fields.status is None and fields.last_updated is None
    assert fields.kwh is None and fields.charging_periods == []


def test_a_start_in_the_ocpi_shape_keeps_no_token_value():
    fields = parse_session(
        start_body(
            evse_id=None,
            contract_id=None,
            location_id="LOC1",
            evse_uid="3256",
            cdr_token={
                "country_code": "nl",
                "party_id": "bmo",
                "uid": "04A1B2C3D4E5F6",
                "type": "RFID",
                "contract_id": CONTRACT,
            },
            kwh=41.12,
            total_cost={"excl_vat": 8.5, "incl_vat": "9.35"},
            status="COMPLETED",
            end_date_time="2024-05-01T11:00:00Z",
        ),
        partial=False,
    )
    assert (fields.location_id, fields.evse_uid, fields.evse_id) == ("LOC1", "3256", None)
    assert fields.contract_id == CONTRACT
    assert fields.token is not None
    assert (fields.token.type, fields.token.hint) == ("RFID", "…E5F6")
    assert fields.kwh == Decimal("41.1200")
    assert (fields.total_cost_excl_vat, fields.total_cost_incl_vat) == (Decimal("8.5000"), Decimal("9.3500"))
    assert fields.cost_sent


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"id": None}, "missing_field", "id"),
        ({"id": "x" * 37}, "invalid_field", "id"),
        ({"evse_id": None}, "missing_field", "evse_id"),
        ({"evse_id": None, "location_id": "L"}, "missing_field", "evse_id"),
        ({"evse_id": "nonsense"}, "invalid_evse_id", "evse_id"),
        ({"connector_id": None}, "missing_field", "connector_id"),
        ({"contract_id": None}, "missing_field", "contract_id"),
        ({"contract_id": "NL-BMO-C00000001-8"}, "invalid_check_digit", "contract_id"),
        ({"cdr_token": {"contract_id": "NL-BMO-C00000002"}}, "contract_mismatch", "contract_id"),
        ({"cdr_token": {"type": "CARD", "contract_id": CONTRACT}}, "invalid_field", "cdr_token"),
        ({"cdr_token": "RFID"}, "invalid_body", ""),
        ({"auth_method": "PASSWORD"}, "invalid_field", "auth_method"),
        ({"start_date_time": None}, "missing_field", "start_date_time"),
        ({"start_date_time": "2024-05-01 10:00"}, "invalid_datetime", "start_date_time"),
        ({"start_date_time": "2024-05-01T10:00:00"}, "invalid_datetime", "start_date_time"),
        ({"end_date_time": "2024-05-01T09:00:00Z"}, "invalid_period", "end_date_time"),
        ({"kwh": -1}, "invalid_number", "kwh"),
        ({"kwh": "NaN"}, "invalid_number", "kwh"),
        ({"kwh": True}, "invalid_number", "kwh"),
        ({"currency": "EURO"}, "invalid_field", "currency"),
        ({"currency": "XYZ"}, "invalid_currency", "currency"),
        ({"total_cost": {"incl_vat": 1}}, "missing_field", "total_cost"),
        ({"total_cost": {"excl_vat": "-1"}}, "invalid_number", "total_cost.excl_vat"),
        ({"status": "STOPPED"}, "invalid_field", "status"),
        ({"charging_periods": {}}, "invalid_field", "charging_periods"),
        (
            {"charging_periods": [{"start_date_time": "2024-05-01T10:00:00Z", "dimensions": []}]},
            "invalid_field",
            "charging_periods",
        ),
        (
            {
                "charging_periods": [
                    {
                        "start_date_time": "2024-05-01T10:00:00Z",
                        "dimensions": [{"type": "SPEED", "volume": 1}],
                    }
                ]
            },
            "invalid_field",
            "charging_periods",
        ),
        (
            {"charging_periods": [{"dimensions": [{"type": "ENERGY", "volume": 1}]}]},
            "missing_field",
            "start_date_time",
        ),
        (
            {
                "charging_periods": [
                    {
                        "start_date_time": "2024-05-01T10:00:00Z",
                        "dimensions": [{"type": "ENERGY", "volume": -2}],
                    }
                ]
            },
            "invalid_number",
            "charging_periods[0] volume",
        ),
        (
            {
                "charging_periods": [
                    {
                        "start_date_time": "2024-05-01T10:00:00Z",
                        "dimensions": [{"type": "ENERGY", "volume": 1}],
                    }
                ]
                * 501
            },
            "too_many_periods",
            "charging_periods",
        ),
    ],
)
def test_bad_starts_are_refused_with_the_field(overrides, code, field):
    refused = problem(parse_session, start_body(**overrides), partial=False)
    assert (refused.code, refused.field) == (code, field)


def test_an_update_needs_only_last_updated():
    fields = parse_session({"last_updated": "2024-05-01T10:05:00Z"}, partial=True)
    assert fields.last_updated == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    assert fields.session_id is None and fields.status is None and fields.currency is None
    assert not fields.cost_sent
    assert problem(parse_session, {"kwh": 1}, partial=True).code == "missing_field"


def test_an_update_may_clear_the_total_cost():
    fields = parse_session({"total_cost": None, "last_updated": "2024-05-01T10:05:00Z"}, partial=True)
    assert fields.cost_sent and fields.total_cost_excl_vat is None


def test_charging_periods_are_kept_as_sent():
    fields = parse_session(
        {
            "last_updated": "2024-05-01T10:05:00Z",
            "charging_periods": [
                {
                    "start_date_time": "2024-05-01T10:00:00+02:00",
                    "dimensions": [
                        {"type": "ENERGY", "volume": 120},
                        {"type": "PARKING_TIME", "volume": 0.718},
                    ],
                    "tariff_id": "12",
                }
            ],
        },
        partial=True,
    )
    assert fields.charging_periods == [
        {
            "start_date_time": "2024-05-01T08:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 120}, {"type": "PARKING_TIME", "volume": 0.718}],
            "tariff_id": "12",
        }
    ]


def test_unknown_fields_are_ignored():
    fields = parse_session(start_body(charging_preferences={"profile_type": "FAST"}), partial=False)
    assert fields.session_id == "S-1"


def test_amounts_keep_four_decimals():
    fields = parse_session(start_body(kwh="1.23456"), partial=False)
    assert fields.kwh == Decimal("1.2346")


def test_times_read_and_written_in_rfc3339():
    assert parse_rfc3339("2024-05-01T10:00:00+02:00") == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert rfc3339(datetime(2024, 5, 1, 8, tzinfo=UTC)) == "2024-05-01T08:00:00Z"
    assert rfc3339(datetime(2024, 5, 1, 8, 0, 0, 5000, tzinfo=UTC)) == "2024-05-01T08:00:00.005000Z"
    assert rfc3339(None) is None
    for bad in ("2024-05-01", "2024-05-01T10:00:00", 20240501, "x" * 50):
        with pytest.raises(ValueError):
            parse_rfc3339(bad)
