"""The statement document checks its own figures, and the shared text forms never round."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.reports import LineRole, StatementState
from settlement.reports.formatting import decimal_text, iso_utc, period_days, spreadsheet_safe
from tests.settlement.test_reports_support import FEES, LINES, PAYMENT, POSITION, statement

D = Decimal


def test_sample_statement_is_consistent():
    doc = statement()
    assert doc.state is StatementState.FINAL and doc.is_final
    assert [line.role for line in doc.lines] == [LineRole.CSO, LineRole.CSP]
    assert doc.line_totals()["amount_incl_vat"] == D("1656.00")
    assert doc.fee_totals()["amount_incl_vat"] == doc.position.hub_fees == D("42.05")


@pytest.mark.parametrize("state", ["DRAFT", "PAID", "PARTIALLY_PAID"])
def test_states_and_which_are_final(state):
    doc = statement(state=state)
    assert doc.state == state
    assert doc.is_final is (state != "DRAFT")


def test_unknown_state_and_role_refused():
    with pytest.raises(ValueError):
        statement(state="OPEN")
    with pytest.raises(ValueError):
        dataclasses.replace(LINES[0], role="HUB")


def test_money_must_be_decimal_and_already_rounded():
    with pytest.raises(ValueError, match="finite Decimal"):
        statement(fees=(dataclasses.replace(FEES[0], vat_amount=3.3),))
    with pytest.raises(ValueError, match="not rounded"):
        statement(fees=(dataclasses.replace(FEES[0], vat_amount=D("3.305")),))
    with pytest.raises(ValueError, match="not rounded"):
        statement(currency="JPY")  # yen have no minor unit: 1236.00 would need rounding


def test_figures_must_agree_with_each_other():
    with pytest.raises(ValueError, match=r"position\.net"):
        statement(position=dataclasses.replace(POSITION, net=D("773.94")))
    with pytest.raises(ValueError, match="absolute net"):
        statement(payment=dataclasses.replace(PAYMENT, amount=D("700.00")))
    with pytest.raises(ValueError, match="needs a payment"):
        statement(payment=None)


def test_zero_position_needs_no_payment():
    zero = dataclasses.replace(POSITION, receivable_as_cso=D("462.05"), net=D("0.00"))
    assert statement(position=zero, payment=None).payment is None


def test_times_must_be_aware_and_period_ordered():
    with pytest.raises(ValueError, match="timezone-aware"):
        statement(issued_at=datetime(2026, 12, 3, 9, 30))
    doc = statement()
    with pytest.raises(ValueError, match="after period_start"):
        statement(period_end=doc.period_start)


def test_currency_must_have_a_minor_unit():
    with pytest.raises(ValueError, match="currency"):
        statement(currency="XAU")
    with pytest.raises(ValueError, match="currency"):
        statement(currency="eur")


def test_decimal_text_pads_but_never_rounds():
    assert decimal_text(D("1030"), 2) == "1030.00"
    assert decimal_text(D("12.3456"), 2) == "12.3456"
    assert decimal_text(D("1E+2"), 2) == "100.00"
    assert decimal_text(D("-0.00"), 2) == "0.00"
    assert decimal_text(D("7"), 0) == "7"
    assert decimal_text(D("1234567.8"), 2, grouping=True) == "1,234,567.80"
    with pytest.raises(ValueError):
        decimal_text(D("NaN"), 2)


@given(
    st.decimals(min_value=D("-1e12"), max_value=D("1e12"), places=4, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=4),
)
def test_decimal_text_round_trips(amount, places):
    text = decimal_text(amount, places)
    assert D(text) == amount
    assert len(text.partition(".")[2]) >= places


def test_times_are_utc_with_z():
    cet = timezone(timedelta(hours=1))
    assert iso_utc(datetime(2026, 12, 1, 0, 30, tzinfo=cet)) == "2026-11-30T23:30:00Z"
    doc = statement()
    assert period_days(doc.period_start, doc.period_end) == "2026-11-01 – 2026-11-30"


@pytest.mark.parametrize("text", ["=1+2", "+31 20 555", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_spreadsheet_formulas_are_neutralised(text):
    assert spreadsheet_safe(text) == "'" + text


def test_ordinary_text_is_left_alone():
    assert spreadsheet_safe("Gamma Roaming SAS") == "Gamma Roaming SAS"
